-- The loop-stall workload of bench/loop_stall_bench.sh: a ticker task wakes every 5 ms and
-- records how late it woke, while this process runs, all at once:
--   claims racing two other processes on one SQLite state file (the other two run the same
--   claim loop from `claimer` mode), a 64 MiB multipart upload to s3rver, 2,000 small atomic
--   writes, and a 100 MiB rename across file systems (a copy).
-- Prints: worst=<ms> p99=<ms> ticks=<n>
local task, fs, state = require("gf.task"), require("gf.fs"), require("gf.state")
local mode, dir, a, b = ...

local function claims(db, who, n)
  local st = assert(state.open({ path = db }))
  for i = 1, n do
    st:claim(("bench/loop/%s/%d"):format(who, i % 50), "x")
    st:set_failed(("bench/loop/%s/%d"):format(who, i % 50), "again")
  end
  st:close()
end

if mode == "claimer" then
  claims(dir .. "/state.db", a, tonumber(b))
  return 0
end

local big, shm = a, b -- a 64 MiB file to upload; a 100 MiB file on another file system
local mono = require("gf.time").monotonic
local delays, stop = {}, false
local ticker = task.spawn(function()
  while not stop do
    local t0 = mono()
    task.sleep(0.005)
    delays[#delays + 1] = (mono() - t0) * 1000 - 5
  end
end)

local s3 = require("gf.s3").client({ endpoint = "http://127.0.0.1:19000", region = "us-east-1",
  credentials = { access_key = "S3RVER", secret_key = "S3RVER" } })
local bucket = "loopstall" .. os.time()
assert(s3:create_bucket("s3://" .. bucket))

local work = {
  function() claims(dir .. "/state.db", "self", 400) end,
  function() assert(s3:upload(big, ("s3://%s/big.bin"):format(bucket))) end,
  function()
    fs.mkdir_p(dir .. "/small")
    for i = 1, 2000 do assert(fs.write_atomic(("%s/small/%d.json"):format(dir, i), '{"i":' .. i .. "}")) end
  end,
  function() assert(fs.rename(shm, dir .. "/moved.bin")) end,
}
local tasks = {}
for i, fn in ipairs(work) do tasks[i] = task.spawn(fn) end
for _, t in ipairs(tasks) do
  local ok, err = task.wait(t)
  if not ok then error(err, 0) end
end
stop = true
task.wait(ticker)
table.sort(delays)
local worst = delays[#delays]
local p99 = delays[math.max(1, math.ceil(#delays * 0.99))]
print(("worst=%.1f p99=%.1f ticks=%d"):format(worst, p99, #delays))
