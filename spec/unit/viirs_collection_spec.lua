-- viirs.collection: the Cumulus template over a month span (source-systems §4.1).
local collection = require("viirs.collection")
local host = require("gf.host")

describe("viirs.collection", function()
  local text, c

  setup(function()
    text, c = assert(collection.load(host.root() .. "/config/viirs/collection.json"))
  end)

  it("reads the original template", function()
    assert.equal("viirs_template", c.name)
    assert.equal("viirs_{{pointInTime}}", c.templated_name)
    assert.equal("201501", c.options.spanStart)
  end)

  it("counts months inclusively, with --span overriding the options", function()
    assert.same({ "201501", "201502" }, (collection.months(c)))
    local m = assert(collection.months(c, { span = "201201..201805" }))
    assert.equal(77, #m) -- SEZU-ON-CUMULUS.md's example span
    assert.equal("201201", m[1])
    assert.equal("201212", m[12])
    assert.equal("201301", m[13])
    assert.equal("201805", m[77])
    assert.same({ "201803" }, (collection.months(c, { span = "201803" })))
  end)

  it("produces each month once where the original's day default produced it ~30 times", function()
    local m, unit = collection.months({ options = { spanStart = "201501", spanEnd = "201503", spanUnit = "day" } })
    assert.same({ "201501", "201502", "201503" }, m)
    assert.equal("day", unit)
    assert.same({ "201501", "201502" },
      (collection.months({ options = { spanStart = "201501", spanEnd = "201502" } }))) -- month by default
    assert.same({ "201501", "201601" },
      (collection.months({ options = { spanStart = "201501", spanEnd = "201612", spanUnit = "year" } })))
  end)

  it("defaults spanEnd to the current month", function()
    local now = os.time({ year = 2019, month = 3, day = 15, hour = 12 })
    local m = assert(collection.months({ options = { spanStart = "201812" } }, { now = now }))
    assert.same({ "201812", "201901", "201902", "201903" }, m)
  end)

  it("refuses bad spans with the value in the message", function()
    local m, err, code = collection.months(c, { span = "2012-01..2012-03x" })
    assert.is_nil(m)
    assert.matches("%-%-span 2012%-01%.%.2012%-03x", err)
    assert.equal("invalid_input", code)
    assert.matches("before the start", select(2, collection.months(c, { span = "201805..201201" })))
    assert.matches("spanStart 201513", select(2, collection.months({ options = { spanStart = "201513" } })))
    assert.matches("spanUnit week", select(2, collection.months({ options = { spanStart = "201501", spanEnd = "201502", spanUnit = "week" } })))
    assert.matches("no span", select(2, collection.months({})))
  end)

  it("renders {{pointInTime}} as the original did: name from templated_name", function()
    local r = assert(collection.render(text, "201203"))
    assert.equal("viirs_201203", r.name)
    assert.is_nil(r.templated_name)
    assert.equal("/instruments/remote-sensing/passive/spectrometers-radiometers/imaging/viirs/dnb_composites/v10/201203/vcmcfg/",
      r.provider_path)
    assert.equal("(.*)\\.tgz", r.files[1].regex)
  end)

  it("plans one JSON-able item per month", function()
    local items = assert(collection.plan(text, c, { span = "201212..201301" }))
    assert.equal(2, #items)
    assert.same({ month = "201212", name = "viirs_201212", version = "001",
      provider_path = "/instruments/remote-sensing/passive/spectrometers-radiometers/imaging/viirs/dnb_composites/v10/201212/vcmcfg/",
      regex = "(.*)\\.tgz", sample = "SVDNB_npp_20180301-20180331_00N060E_vcmcfg_v10_c201804022005.tgz" }, items[1])
    assert.equal("viirs_201301", items[2].name)
  end)

  it("joins host and path without doubling or dropping the slash", function()
    assert.equal("https://h/x/", collection.join("https://h", "/x/"))
    assert.equal("https://h/x/", collection.join("https://h/", "/x/"))
    assert.equal("https://h/x/", collection.join("https://h", "x/"))
  end)

  it("names a template that is not JSON", function()
    local p = os.tmpname()
    local f = io.open(p, "w"); f:write("{not json"); f:close()
    local t, err, code = collection.load(p)
    os.remove(p)
    assert.is_nil(t)
    assert.matches("collection " .. p:gsub("%p", "%%%0") .. ": not a JSON object", err)
    assert.equal("invalid_input", code)
  end)
end)
