-- viirs.listing and viirs.names: directory listings, the template regex, VIIRS tile names.
local listing = require("viirs.listing")
local names = require("viirs.names")

local APACHE = [[
<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /dnb_composites/v10/201803/vcmcfg</title></head><body>
<table><tr><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th></tr>
<tr><td><a href="/dnb_composites/v10/201803/">Parent Directory</a></td></tr>
<tr><td><a href="SVDNB_npp_20180301-20180331_00N060E_vcmcfg_v10_c201804022005.tgz">SVDNB_npp_20180301-20180331_00N060E_vcmcfg_v10_c201804022005.tgz</a></td><td>1.1G</td></tr>
<tr><td><A HREF='SVDNB_npp_20180301-20180331_75N180W_vcmcfg_v10_c201804022005.tgz'>x</A></td></tr>
<tr><td><a href="README%20v10.txt">README v10.txt</a></td></tr>
<tr><td><a href="old/">old/</a></td></tr>
<tr><td><a href="mailto:ngdc.info@noaa.gov">mail</a></td></tr>
<tr><td><a href="SVDNB_npp_20180301-20180331_00N060E_vcmcfg_v10_c201804022005.tgz">again</a></td></tr>
</table></body></html>]]

describe("viirs.listing", function()
  it("lists the file names of an Apache index once each, decoded, without directories", function()
    assert.same({
      "SVDNB_npp_20180301-20180331_00N060E_vcmcfg_v10_c201804022005.tgz",
      "SVDNB_npp_20180301-20180331_75N180W_vcmcfg_v10_c201804022005.tgz",
      "README v10.txt",
    }, listing.names(APACHE))
  end)

  it("turns the template's JavaScript regex into a Lua pattern", function()
    assert.equal("(.*)%.tgz", listing.pattern("(.*)\\.tgz"))
    assert.equal("^SVDNB_npp_%d%d%d%d%d%d", listing.pattern("^SVDNB_npp_\\d{6}"))
    assert.equal("[%d_]+%-x$", listing.pattern("[\\d_]+-x$"))
    assert.equal("a.-b", listing.pattern("a.*?b"))
    assert.equal("abb?b?", listing.pattern("ab{1,3}"))
    assert.equal("x%d%d", listing.pattern("x\\d{2}"))
  end)

  it("refuses what Lua patterns cannot express, naming the regex", function()
    assert.matches("alternation", select(2, listing.pattern("a|b")))
    assert.matches("quantified group", select(2, listing.pattern("(ab)+")))
    assert.matches("%(%?%.%.%.%)", select(2, listing.pattern("(?:x)")))
  end)

  it("matches whole names", function()
    local got = assert(listing.match(listing.names(APACHE .. '<a href="x.tgz.md5">m</a>'), "(.*)\\.tgz"))
    assert.equal(2, #got)
    assert.same({ "SVDNB_npp_20180301-20180331_75N180W_vcmcfg_v10_c201804022005.tgz" },
      listing.match(got, ".*75N180W.*"))
    assert.same({}, listing.match(got, "75N180W"))
  end)
end)

describe("viirs.names", function()
  it("reads month and tile as tif_stats did (basename[10:16], [28:35])", function()
    local n = assert(names.parse("SVDNB_npp_20180301-20180331_00N060E_vcmcfg_v10_c201804022005.tgz"))
    assert.same({ granule = "SVDNB_npp_20180301-20180331_00N060E_vcmcfg_v10_c201804022005",
      month = "201803", tile = "00N060E" }, n)
    local base = n.granule
    assert.equal(n.month, base:sub(11, 16))
    assert.equal(n.tile, base:sub(29, 35))
    assert.equal("75N180W", names.parse("SVDNB_npp_20120401-20120430_75N180W_vcmslcfg_v10_c201605121456.tgz").tile)
    local bad, err = names.parse("notes.tgz")
    assert.is_nil(bad)
    assert.matches("notes%.tgz: not a VIIRS DNB tile name", err)
  end)

  it("tells the radiance from the coverage raster", function()
    assert.equal("radiance", names.kind("SVDNB_npp_20180301-20180331_00N060E_vcmcfg_v10_c201804022005.avg_rade9h.tif"))
    assert.equal("radiance", names.kind("x/SVDNB_npp_20120401-20120430_00N060E_vcmcfg_v10_c201605121456.avg_rade9.tif"))
    assert.equal("coverage", names.kind("SVDNB_npp_20180301-20180331_00N060E_vcmcfg_v10_c201804022005.cf_cvg.tif"))
    assert.is_nil(names.kind("README.txt"))
    assert.is_nil(names.kind("x.avg_rade9h.tif.aux.xml"))
  end)

  it("gives radiance tif_stats' CSV name and coverage one of its own", function()
    assert.equal("Coega_IDZ_201803_00N060E.csv", names.csv_name("Coega_IDZ", "201803", "00N060E", "radiance"))
    assert.equal("Coega_IDZ_201803_00N060E_cvg.csv", names.csv_name("Coega_IDZ", "201803", "00N060E", "coverage"))
    assert.same({ zone = "Hoa_Khanh_IZ", month = "201803", tile = "00N060E", kind = "coverage" },
      names.parse_csv_name("Hoa_Khanh_IZ_201803_00N060E_cvg.csv", "Hoa_Khanh_IZ"))
    assert.same({ zone = "Hoa_Khanh_IZ", month = "201803", tile = "00N060E", kind = "radiance" },
      names.parse_csv_name("Hoa_Khanh_IZ_201803_00N060E.csv", "Hoa_Khanh_IZ"))
    assert.is_nil(names.parse_csv_name("Hoa_Khanh_IZ_201803_00N060E.csv", "Hoa"))
    -- the fork's filterStats read the month with /_(\d{6})_/: still works on both names
    assert.equal("201803", ("Ahti_River_EPZ_201803_00N060W_cvg.csv"):match("_(%d%d%d%d%d%d)_"))
  end)
end)
