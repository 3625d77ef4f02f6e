-- gf.http downloads: the body is written, fsynced and renamed by a commit on the worker pool
-- (concurrent downloads committed together); real transfers against spec/support/faultserver.py.
local http = require("gf.http")
local task = require("gf.task")
local paths = require("spec.support.paths")
local faultserver = require("spec.support.faultserver")

local srv, tmp

local pattern, same = faultserver.pattern, faultserver.same_bytes

local read = require("spec.support.files").read

describe("gf.http download commits #integration", function()
  setup(function()
    srv = faultserver.start({ port = tonumber(os.getenv("GF_FAULTSERVER_PORT")) or 0 })
    tmp = paths.tmpdir()
  end)

  teardown(function()
    if srv then srv:stop() end
    if tmp then os.execute(("rm -rf '%s'"):format(tmp)) end
  end)

  it("leaves the final name empty until the commit, then renames", function()
    local out = tmp .. "/staged.bin"
    local res = assert(http.core.request({ url = srv.url .. "/bytes?n=5000", output_file = out }))
    assert.equal("userdata", type(res.file))
    assert.same({ 200, out, "" }, { res.status, res.path, res.body })
    assert.is_nil(read(out))
    assert.is_nil(read(out .. ".part")) -- a small body waits in memory, not on disk
    assert.same({ true }, http.core.commit({ res.file }))
    same(pattern(0, 5000), read(out))
    assert.is_nil(read(out .. ".part"))
    assert.has_error(function() http.core.commit({ res.file }) end,
      "http.commit: item 1 was committed already")
  end)

  it("rejects what is not a download to commit", function()
    assert.has_error(function() http.core.commit({ "x" }) end,
      "http.commit: item 1 is not a gf.http.file")
    local res = assert(http.core.request({ url = srv.url .. "/bytes?n=10",
      output_file = tmp .. "/twice.bin" }))
    assert.has_error(function() http.core.commit({ res.file, res.file }) end,
      "http.commit: item 2 was committed already")
    assert.same({}, http.core.commit({}))
    assert.has_error(function() http.core.commit("x") end)
  end)

  it("commits many concurrent downloads, every file complete and renamed", function()
    os.execute(("mkdir -p '%s/many'"):format(tmp))
    local items = {}
    for i = 1, 40 do items[i] = i end
    local results, failures = task.map(items, function(i)
      local out = ("%s/many/f%02d.bin"):format(tmp, i)
      return assert(http.download(srv.url .. "/bytes?n=" .. (1000 + i * 97), out)).path
    end, { concurrency = 16 })
    assert.same({}, failures)
    for i = 1, 40 do
      local out = ("%s/many/f%02d.bin"):format(tmp, i)
      assert.equal(out, results[i])
      same(pattern(0, 1000 + i * 97), read(out), out)
      assert.is_nil(read(out .. ".part"))
    end
  end)

  it("commits one batch spread over two file systems, a failing file named alone", function()
    -- every file gets its fdatasync, each of the two directories one fsync
    local shm = io.open("/dev/shm/.gf-probe", "w")
    local other = shm and ("/dev/shm/gf-commit-%d"):format(math.random(1 << 30)) or tmp .. "/o"
    if shm then shm:close() os.remove("/dev/shm/.gf-probe") end
    os.execute(("mkdir -p '%s/batch/dir.bin' '%s'"):format(tmp, other))
    local outs = { tmp .. "/batch/a.bin", tmp .. "/batch/b.bin", tmp .. "/batch/dir.bin",
      other .. "/c.bin" }
    local files = {}
    for i, out in ipairs(outs) do
      local res = assert(http.core.request({ url = srv.url .. "/bytes?n=" .. (100 * i),
        output_file = out }))
      files[i] = res.file
    end
    local got = http.core.commit(files)
    assert.same({ true, true, { ("rename %s.part: Is a directory"):format(outs[3]), "io" }, true },
      got)
    same(pattern(0, 100), read(outs[1]), outs[1])
    same(pattern(0, 200), read(outs[2]), outs[2])
    same(pattern(0, 300), read(outs[3] .. ".part"), outs[3])
    same(pattern(0, 400), read(outs[4]), outs[4])
    os.execute(("rm -rf '%s'"):format(other))
  end)

  it("streams a body above the memory spool to the .part and commits it", function()
    local out = tmp .. "/large.bin"
    local n = 1024 * 1024 + 300000
    local res = assert(http.download(srv.url .. "/bytes?n=" .. n, out))
    assert.same({ 200, n }, { res.status, res.bytes })
    same(pattern(0, n), read(out))
    assert.is_nil(read(out .. ".part"))
  end)

  it("keeps what arrived of a small failed download in its .part", function()
    local out = tmp .. "/broken.bin"
    local u = srv.url .. "/bytes?n=20000&fail_at=5000&fail_times=1&id=c" .. math.random(1 << 30)
    local r, _, code = http.download(u, out, { retry = false })
    assert.same({ nil, "network" }, { r, code })
    assert.is_nil(read(out))
    same(pattern(0, 5000), read(out .. ".part"))
    local res = assert(http.download(u, out))
    assert.equal(206, res.status)
    same(pattern(0, 20000), read(out))
    assert.is_nil(read(out .. ".part"))
  end)

  it("reports a commit that cannot rename and keeps the .part", function()
    local out = tmp .. "/isdir"
    os.execute(("mkdir -p '%s/isdir/inside'"):format(tmp))
    local u = srv.url .. "/bytes?n=300"
    assert.same({ nil, ("http.request GET %s: rename %s.part: Is a directory"):format(u, out),
      "io" }, { http.request({ url = u, output_file = out, retry = false }) })
    same(pattern(0, 300), read(out .. ".part"))
  end)

  it("takes sync = false (no fsync, still renamed) and checks its type", function()
    local out = tmp .. "/nosync.bin"
    local res = assert(http.request({ url = srv.url .. "/bytes?n=777", output_file = out,
      sync = false }))
    assert.equal(out, res.path)
    same(pattern(0, 777), read(out))
    assert.has_error(function()
      http.request({ url = srv.url .. "/bytes?n=1", output_file = out, sync = "no" })
    end, "http.request: option 'sync' must be a boolean (got string)")
  end)

  it("keeps an error status in memory and commits nothing", function()
    local out = tmp .. "/notfound.bin"
    local res = assert(http.core.request({ url = srv.url .. "/status/404", output_file = out }))
    assert.same({ 404, nil, nil }, { res.status, res.file, res.path })
    assert.is_nil(read(out))
    assert.is_nil(read(out .. ".part"))
  end)
end)
