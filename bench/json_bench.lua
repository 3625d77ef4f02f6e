-- gfhost side of bench/json_bench.sh: decode + re-encode one document, print the timings.
-- usage: gfhost run bench/json_bench.lua FILE
local json = require("gf.json")

local path = ... or os.getenv("GF_BENCH_JSON")
local f = assert(io.open(path, "rb"))
local text = f:read("a")
f:close()
local t0 = os.clock()
local doc = assert(json.decode(text))
local t1 = os.clock()
text = nil -- drop the input before encoding, as the python side does with `del text`
collectgarbage() -- (Lua frees it at the next collection; python at once; untimed on both sides)
local t1e = os.clock()
local out = json.encode(doc)
local t2 = os.clock()
io.write(string.format("gfhost decode %.3f s, encode %.3f s, items %d, out %d bytes\n", t1 - t0,
  t2 - t1e, #doc.items, #out))
