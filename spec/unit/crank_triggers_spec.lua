-- crank.triggers and crank.credentials: trigger names, CSV rows, report rows (source-systems
-- §2.3, §2.4, §2.7) and the original's S3Config (§2.1).
local triggers = require("crank.triggers")
local credentials = require("crank.credentials")
local paths = require("spec.support.paths")
local fs = require("gf.fs")

describe("crank.triggers #unit", function()
  it("matches the pattern on the whole key, * crossing /", function()
    assert.is_true(triggers.matches("*raw.csv", "test_raw.csv"))
    assert.is_true(triggers.matches("*raw.csv", "Counties/WI/test_raw.csv"))
    assert.is_true(triggers.matches("Counties/*raw.csv", "Counties/WI/Wood/a_raw.csv"))
    assert.is_false(triggers.matches("*raw.csv", "test_processing-20240401-120000.csv"))
    assert.is_false(triggers.matches("*raw.csv", "test_raw.csv.bak"))
  end)

  it("names the processing file and the reports in the trigger's folder", function()
    assert.are.equal("20240401-120000", triggers.timestamp(1711972800))
    local pk = triggers.processing_key("a/b/test_raw.csv", "20240401-120000")
    assert.are.equal("a/b/test_processing-20240401-120000.csv", pk)
    assert.are.equal("a/b/test_processed-20240401-120000.csv", triggers.report_key(pk, "processed"))
    assert.are.equal("a/b/test_failed-20240401-120000.csv", triggers.report_key(pk, "failed"))
    -- root level: no leading '/' (the original's bug)
    local root = triggers.processing_key("raw.csv", "20240401-120000")
    assert.are.equal("processing-20240401-120000.csv", root)
    assert.are.equal("processed-20240401-120000.csv", triggers.report_key(root, "processed"))
    assert.are.equal("test_raw.csv", triggers.raw_key_of("test_processing-20240401-120000.csv"))
    assert.is_nil(triggers.raw_key_of("test_processed-20240401-120000.csv"))
    assert.is_nil(triggers.processing_key("test.csv", "20240401-120000"))
    -- only the last .tif and the final processing part are replaced
    assert.are.same({ "x.tif.d/a.tif", "x.tif.d/a.jpg" }, { triggers.outputs_of("x.tif.d/a.tif") })
    assert.are.equal("processing/a_processed-20240401-120000.csv",
      triggers.report_key("processing/a_processing-20240401-120000.csv", "processed"))
  end)

  it("parses the 2-column rows, the legacy 3-column rows and reports malformed ones with their line", function()
    local rows, bad, warn = triggers.parse(table.concat({
      "Counties/WI/Wood/1band.tif,1", "/Counties/WI/Wood/4band.tif,4", "", "1band.tif,/1band.jpg,1",
      "a.png,1", "b.tif,x", "c.tif", "../up.tif,3", "d.TIF,3", "e.tif,0" }, "\r\n"), "in/t_raw.csv")
    assert.are.same({ 1, 2, 4, 9 }, { rows[1].line, rows[2].line, rows[3].line, rows[4].line })
    assert.are.equal("Counties/WI/Wood/4band.tif", rows[2].tif) -- a leading '/' is dropped
    assert.are.equal(4, rows[2].bands)
    assert.are.equal(1, rows[3].bands) -- BANDS from the last column
    assert.are.equal("d.jpg", rows[4].jpg)
    assert.are.equal(1, #warn)
    assert.matches("in/t_raw.csv line 4: legacy 3%-column row", warn[1])
    local msgs = {}
    for i, b in ipairs(bad) do msgs[i] = b.error end
    assert.are.same({
      "in/t_raw.csv line 5: image 'a.png' does not end in .tif",
      "in/t_raw.csv line 6: BANDS 'x' is not a positive integer",
      "in/t_raw.csv line 7: expected 2 columns (path.tif,BANDS), got 1",
      "in/t_raw.csv line 8: image '../up.tif' leaves the input",
      "in/t_raw.csv line 10: BANDS '0' is not a positive integer",
    }, msgs)
    assert.are.same({ "b.tif", "x" }, bad[2].fields)
  end)

  it("keeps the rows read before an unterminated quote", function()
    local rows, bad = triggers.parse('a.tif,1\n"b.tif,1\nc.tif,3\n', "t_raw.csv")
    assert.are.equal(1, #rows)
    assert.are.equal(1, #bad)
    assert.matches("t_raw.csv:2: unterminated", bad[1].error)
  end)

  it("writes reports with CRLF line ends, quoting as csv.writer does", function()
    assert.are.equal('a.tif,1\r\n"b,c.tif",3,"why: ""x"""\r\n',
      triggers.crlf_csv({ { "a.tif", "1" }, { "b,c.tif", "3", 'why: "x"' } }))
  end)

  it("applies the JPEG band rule of generate_cogs.sh", function()
    assert.is_nil(triggers.jpeg_bands(1))
    assert.is_nil(triggers.jpeg_bands(3))
    assert.are.same({ 1, 2, 3 }, triggers.jpeg_bands(4))
    assert.are.same({ 1, 2, 3 }, triggers.jpeg_bands(2))
  end)
end)

describe("crank.credentials #unit", function()
  it("takes all three of -a, -s and -e, or none", function()
    local o = assert(credentials.resolve({ access_key_file = "/k/a", secret_key_file = "/k/s", endpoint = "s3.example.org" }))
    assert.are.equal("https://s3.example.org", o.endpoint)
    assert.are.same({ access_key_file = "/k/a", secret_key_file = "/k/s" }, o.credentials)
    assert.are.equal("http://127.0.0.1:19000", credentials.resolve({ access_key_file = "a",
      secret_key_file = "s", endpoint = "http://127.0.0.1:19000/" }).endpoint)
    for _, partial in ipairs({ { access_key_file = "a" }, { endpoint = "e" }, { access_key_file = "a", secret_key_file = "s" } }) do
      local none, msg = credentials.resolve(partial)
      assert.is_nil(none)
      assert.are.equal("Access/secret keys must be provided together with an endpoint.", msg)
    end
  end)

  it("uses ~/.chtc_s3 and s3dev.chtc.wisc.edu when both key files exist, else the AWS chain", function()
    local home = paths.tmpdir()
    local o, how = credentials.resolve({}, { home = home })
    assert.are.same({}, o)
    assert.are.equal("AWS chain", how)
    assert(fs.mkdir_p(home .. "/.chtc_s3"))
    assert(fs.write(home .. "/.chtc_s3/access.key", "A"))
    o = credentials.resolve({}, { home = home })
    assert.are.same({}, o) -- one file is not enough
    assert(fs.write(home .. "/.chtc_s3/secret.key", "S"))
    o, how = credentials.resolve({}, { home = home })
    assert.are.equal("https://s3dev.chtc.wisc.edu", o.endpoint)
    assert.are.equal(home .. "/.chtc_s3/access.key", o.credentials.access_key_file)
    assert.are.equal("~/.chtc_s3", how)
    fs.remove_tree(home)
  end)
end)
