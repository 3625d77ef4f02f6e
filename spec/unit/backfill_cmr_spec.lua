-- backfill.cmr: URLs, cycles, headers and failure tuples (fake http).
local cmr = require("backfill.cmr")

local function fake(status, body, headers)
  return { get = function(url, o) return { status = status, body = body, headers = headers or {}, url = url, req = o } end }
end

describe("backfill cmr #unit", function()
  it("base URLs for ops/uat/sit, any http(s) URL, else the original's error", function()
    assert.equal("https://cmr.uat.earthdata.nasa.gov", cmr.base_url("uat"))
    assert.equal("http://127.0.0.1:19040", cmr.base_url("http://127.0.0.1:19040/"))
    assert.same({ nil, "Improper environment specified: prod", "invalid_input" }, { cmr.base_url("prod") })
    assert.same({ nil, "Improper environment specified: nil", "invalid_input" }, { cmr.base_url(nil) })
  end)

  it("search URL: encoded values, temporal only when a date is given, cycles repeated", function()
    assert.equal("B/search/granules.umm_json?provider=POCLOUD&page_size=5&sort_key%5B%5D=start_date&short_name=A%20B",
      cmr.search_url({ base = "B", provider = "POCLOUD", page_size = 5, collection = "A B" }))
    assert.equal("B/search/granules.umm_json?provider=P&page_size=2000&sort_key%5B%5D=-start_date&short_name=C"
      .. "&temporal=%2C2021-01-01&cycle%5B%5D=7",
      cmr.search_url({ base = "B", provider = "P", collection = "C", sort_order = "descending",
        end_date = "2021-01-01", cycles = { 7 } }))
  end)

  it("cycles like ast.literal_eval: a number or a list; anything else an error (no crash)", function()
    assert.same({ 3 }, cmr.parse_cycles("3"))
    assert.same({ 1, 2 }, cmr.parse_cycles("[1, 2]"))
    assert.same({ 1, 2 }, cmr.parse_cycles("(1,2,)"))
    assert.same({}, cmr.parse_cycles("[]"))
    assert.same({ nil, "Invalid --cycles 'abc': give a number or a list such as [1,2]", "invalid_input" },
      { cmr.parse_cycles("abc") })
    assert.same({ nil, "Invalid --cycles '[1,,2]': give a number or a list such as [1,2]", "invalid_input" },
      { cmr.parse_cycles("[1,,2]") })
  end)

  it("headers: EDL as Bearer, launchpad raw", function()
    assert.equal("Bearer e", cmr.headers({ edl_token = "e" }).Authorization)
    assert.equal("lp", cmr.headers({ launchpad_token = "lp" }).Authorization)
    assert.is_nil(cmr.headers({}).Authorization)
  end)

  it("fetch: page with the search-after header; the header is sent when known", function()
    local f = fake(200, '{"hits":3,"took":1,"items":[{"meta":{}}]}', { ["cmr-search-after"] = "[1,2]" })
    local sent
    local get = f.get
    f.get = function(url, o) sent = o.headers return get(url, o) end
    local p = assert(cmr.fetch("http://x/search", { http = f, search_after = "abc", headers = { A = "1" } }))
    assert.equal(3, p.hits)
    assert.equal(1, #p.items)
    assert.equal("[1,2]", p.search_after)
    assert.same({ A = "1", ["CMR-Search-After"] = "abc" }, sent)
  end)

  it("fetch failures: status >= 400, a body without items, transport errors", function()
    assert.same({ nil, 'CMR problem: http://x/s status 500 (search-after nil): {"errors":["x"]}', "service" },
      { cmr.fetch("http://x/s", { http = fake(500, '{"errors":["x"]}') }) })
    assert.same({ nil, 'CMR problem: http://x/s status 200 (search-after s): {"hits":1}', "service" },
      { cmr.fetch("http://x/s", { http = fake(200, '{"hits":1}'), search_after = "s" }) })
    local down = { get = function() return nil, "http.request GET http://x/s: refused", "network" end }
    assert.same({ nil, "http.request GET http://x/s: refused", "network" }, { cmr.fetch("http://x/s", { http = down }) })
  end)

  it("lookup: concept ids of any digit count by concept_id, others as readable_granule_name", function()
    local urls = {}
    local f = { get = function(url) urls[#urls + 1] = url
      return { status = 200, headers = {}, body = '{"hits":1,"items":[{"meta":{"concept-id":"G1-P"}}]}' } end }
    assert.same({ meta = { ["concept-id"] = "G1-P" } }, cmr.lookup("B", "G123456789012-POCLOUD", { http = f }))
    assert(cmr.lookup("B", "gran-1.nc", { http = f, provider = "P", collection = "C" }))
    assert.same({ "B/search/granules.umm_json?concept_id=G123456789012-POCLOUD",
      "B/search/granules.umm_json?provider=P&short_name=C&readable_granule_name=gran-1.nc" }, urls)
    local empty = { get = function() return { status = 200, headers = {}, body = '{"hits":0,"items":[]}' } end }
    assert.same({ nil, "granule G5-P not found in CMR", "not_found" }, { cmr.lookup("B", "G5-P", { http = empty }) })
  end)
end)
