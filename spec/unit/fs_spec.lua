-- gf.fs through the real native core.
local fs = require("gf.fs")
local task = require("gf.task")

local ENOENT = "No such file or directory"

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  assert(p:close())
  return out
end

local function sha256sum(path)
  return sh("sha256sum '" .. path .. "'"):match("^(%x+)")
end

--- A file of `mb` MiB of random bytes plus a seed suffix, written by head(1).
local function big_file(path, mb, seed)
  sh(("head -c %d /dev/urandom > '%s' && printf '%s' >> '%s'"):format(mb * 1048576, path, seed,
    path))
end

describe("gf.fs #unit", function()
  local dir

  before_each(function()
    dir = assert(fs.tempdir("gf-fs-spec-"))
  end)

  after_each(function()
    if dir then assert(fs.remove_tree(dir)) end
    dir = nil
  end)

  describe("read / write / append", function()
    it("round-trips every byte value", function()
      local bytes = {}
      for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
      local data = table.concat(bytes):rep(1000)
      assert.same({ true }, { fs.write(dir .. "/b.bin", data) })
      local back = fs.read(dir .. "/b.bin")
      assert.equal(#data, #back)
      assert.is_true(back == data)
    end)

    it("reads an empty file as an empty string", function()
      assert(fs.write(dir .. "/empty", ""))
      assert.same({ "" }, { fs.read(dir .. "/empty") })
    end)

    it("reports a missing file as not_found with the path and strerror", function()
      local p = dir .. "/nope.txt"
      assert.same({ nil, "fs.read " .. p .. ": " .. ENOENT, "not_found" }, { fs.read(p) })
    end)

    it("reports a directory as io", function()
      assert.same({ nil, "fs.read " .. dir .. ": Is a directory", "io" }, { fs.read(dir) })
    end)

    it("fails to write into a missing directory", function()
      local p = dir .. "/no/such/f"
      assert.same({ nil, "fs.write " .. p .. ": " .. ENOENT, "not_found" }, { fs.write(p, "x") })
    end)

    it("truncates on write and extends on append", function()
      local p = dir .. "/t.txt"
      assert(fs.write(p, "long content"))
      assert(fs.write(p, "short"))
      assert.equal("short", fs.read(p))
      assert.same({ true }, { fs.append(p, "+more") })
      assert.equal("short+more", fs.read(p))
      assert(fs.append(dir .. "/new.txt", "a"))
      assert.equal("a", fs.read(dir .. "/new.txt"))
    end)

    it("applies mode exactly (integer or octal string)", function()
      assert(fs.write(dir .. "/m1", "x", { mode = tonumber("600", 8) }))
      assert.equal(tonumber("600", 8), fs.stat(dir .. "/m1").mode)
      assert(fs.write(dir .. "/m2", "x", { mode = "0751" }))
      assert.equal(tonumber("751", 8), fs.stat(dir .. "/m2").mode)
      assert(fs.append(dir .. "/m3", "x", { mode = "640" }))
      assert.equal(tonumber("640", 8), fs.stat(dir .. "/m3").mode)
    end)

    it("raises on wrong argument types and bad options", function()
      assert.has_error(function() fs.read() end)
      assert.has_error(function() fs.read({}) end)
      assert.has_error(function() fs.read("a\0b") end)
      assert.has_error(function() fs.write(dir .. "/x", nil) end)
      assert.has_error(function() fs.write(dir .. "/x", {}) end)
      assert.has_error(function() fs.write(dir .. "/x", "d", "644") end, "bad argument #3 to 'write' (table expected, got string)")
      assert.has_error(function() fs.write(dir .. "/x", "d", { perms = 1 }) end, "bad argument #3 to 'write' (unknown option 'perms')")
      assert.has_error(function() fs.write(dir .. "/x", "d", { mode = "rw" }) end)
      assert.has_error(function() fs.write(dir .. "/x", "d", { mode = 70000 }) end)
      assert.has_error(function() fs.write(dir .. "/x", "d", { mode = 1.5 }) end)
      assert.is_false(fs.exists(dir .. "/x"))
    end)
  end)

  describe("write_atomic", function()
    it("replaces the content and leaves no temporary file", function()
      local p = dir .. "/state.json"
      assert.same({ true }, { fs.write_atomic(p, "one") })
      assert.same({ true }, { fs.write_atomic(p, "two\0bytes") })
      assert.equal("two\0bytes", fs.read(p))
      assert.same({ "state.json" }, fs.list(dir))
    end)

    it("keeps an existing file's mode unless one is given", function()
      local p = dir .. "/keep"
      assert(fs.write(p, "x", { mode = "640" }))
      assert(fs.write_atomic(p, "y"))
      assert.equal(tonumber("640", 8), fs.stat(p).mode)
      assert(fs.write_atomic(p, "z", { mode = "600" }))
      assert.equal(tonumber("600", 8), fs.stat(p).mode)
      assert.equal("z", fs.read(p))
    end)

    it("fails without a trace when the target cannot be replaced", function()
      -- a non-empty directory in the way: the rename fails after the temp file was written
      assert(fs.mkdir_p(dir .. "/target/inner"))
      local p = dir .. "/target"
      local ok, msg, code = fs.write_atomic(p, "data")
      assert.is_nil(ok)
      assert.equal("io", code)
      assert.matches("^fs%.write_atomic " .. p:gsub("%p", "%%%0") .. ": ", msg)
      assert.same({ "target" }, fs.list(dir))
      assert.same({ "inner" }, fs.list(p))
    end)

    it("fails with not_found when the directory is missing", function()
      local p = dir .. "/missing/f"
      assert.same({ nil, "fs.write_atomic " .. p .. ": " .. ENOENT, "not_found" },
        { fs.write_atomic(p, "x") })
      assert.same({}, fs.list(dir))
    end)

    it("leaves the old content when the temp file cannot be created", function()
      -- a 250-byte name is valid, but the temporary name beside it exceeds NAME_MAX
      local p = dir .. "/" .. ("n"):rep(250)
      assert(fs.write(p, "old"))
      assert.same({ nil, "fs.write_atomic " .. p .. ": File name too long", "io" },
        { fs.write_atomic(p, "new") })
      assert.equal("old", fs.read(p))
      assert.same({ ("n"):rep(250) }, fs.list(dir))
    end)
  end)

  describe("copy / rename", function()
    it("copies bytes and permission bits", function()
      local a, b = dir .. "/a", dir .. "/b"
      assert(fs.write(a, ("x\0y"):rep(100000), { mode = "750" }))
      assert.same({ true }, { fs.copy(a, b) })
      assert.is_true(fs.read(a) == fs.read(b))
      assert.equal(tonumber("750", 8), fs.stat(b).mode)
      assert.same({ "a", "b" }, fs.list(dir))
    end)

    it("reports copy failures with both paths", function()
      local a, b = dir .. "/none", dir .. "/b"
      assert.same({ nil, "fs.copy " .. a .. " -> " .. b .. ": " .. ENOENT, "not_found" },
        { fs.copy(a, b) })
      assert.same({ nil, "fs.copy " .. dir .. " -> " .. b .. ": Is a directory", "io" },
        { fs.copy(dir, b) })
      assert.same({}, fs.list(dir))
    end)

    it("renames, and reports a missing source", function()
      assert(fs.write(dir .. "/a", "1"))
      assert.same({ true }, { fs.rename(dir .. "/a", dir .. "/b") })
      assert.same({ "b" }, fs.list(dir))
      local a, b = dir .. "/a", dir .. "/c"
      assert.same({ nil, "fs.rename " .. a .. " -> " .. b .. ": " .. ENOENT, "not_found" },
        { fs.rename(a, b) })
    end)

    it("raises on wrong types", function()
      assert.has_error(function() fs.copy(dir) end)
      assert.has_error(function() fs.rename(nil, "x") end)
    end)
  end)

  describe("directories", function()
    local function tree()
      assert(fs.mkdir_p(dir .. "/a/b/c"))
      assert(fs.mkdir_p(dir .. "/empty"))
      assert(fs.write(dir .. "/a/b/c/deep.csv", "1"))
      assert(fs.write(dir .. "/a/b/mid.csv", "1"))
      assert(fs.write(dir .. "/a/top.txt", "1"))
      assert(fs.write(dir .. "/root.csv", "1"))
      assert(fs.write(dir .. "/.hidden", "1"))
      assert(os.execute("ln -s a '" .. dir .. "/link'"))
    end

    it("lists entries sorted, without . and ..", function()
      tree()
      assert.same({ ".hidden", "a", "empty", "link", "root.csv" }, fs.list(dir))
      local p = dir .. "/zz"
      assert.same({ nil, "fs.list " .. p .. ": " .. ENOENT, "not_found" }, { fs.list(p) })
      p = dir .. "/root.csv"
      assert.same({ nil, "fs.list " .. p .. ": Not a directory", "not_found" }, { fs.list(p) })
    end)

    it("walks recursively without following links", function()
      tree()
      assert.same({ ".hidden", "a/b/c/deep.csv", "a/b/mid.csv", "a/top.txt", "link", "root.csv" },
        fs.walk(dir))
      assert.same({ ".hidden", "a", "a/b", "a/b/c", "a/b/c/deep.csv", "a/b/mid.csv", "a/top.txt",
        "empty", "link", "root.csv" }, fs.walk(dir, { dirs = true }))
      assert.same({ ".hidden", "a", "empty", "link", "root.csv" }, fs.walk(dir, { dirs = true, depth = 1 }))
      assert.same({ ".hidden", "a/top.txt", "link", "root.csv" }, fs.walk(dir, { depth = 2 }))
      assert.same({ "b/c/deep.csv", "b/mid.csv", "top.txt" }, fs.walk(dir .. "/a/"))
      local p = dir .. "/zz"
      assert.same({ nil, "fs.walk " .. p .. ": " .. ENOENT, "not_found" }, { fs.walk(p) })
      assert.has_error(function() fs.walk(dir, { depth = -1 }) end)
      assert.has_error(function() fs.walk(dir, { recursive = true }) end)
      assert.has_error(function() fs.walk(true) end)
    end)

    it("mkdir_p creates parents, is idempotent, and stops at a file", function()
      assert.same({ true }, { fs.mkdir_p(dir .. "/x/y/z") })
      assert.same({ true }, { fs.mkdir_p(dir .. "/x/y/z/") })
      assert.same({ true }, { fs.mkdir_p(dir .. "//x//y") })
      assert.equal("dir", fs.stat(dir .. "/x/y/z").type)
      assert(fs.write(dir .. "/f", ""))
      local p = dir .. "/f/sub"
      assert.same({ nil, "fs.mkdir_p " .. p .. ": File exists", "io" }, { fs.mkdir_p(p) })
      assert(fs.mkdir_p(dir .. "/m", { mode = "700" }))
      assert.equal(tonumber("700", 8), fs.stat(dir .. "/m").mode)
    end)

    it("tempdir makes a private directory with the prefix", function()
      local t = assert(fs.tempdir("pfx-"))
      assert.matches("/pfx%-[%w]+$", t)
      local st = fs.stat(t)
      assert.same({ "dir", tonumber("700", 8) }, { st.type, st.mode })
      assert(fs.remove(t))
      assert.matches("/gf%-[%w]+$", assert(fs.tempdir()))
      assert(fs.remove(fs.tempdir()) or true)
      assert.has_error(function() fs.tempdir("a/b") end)
      assert.has_error(function() fs.tempdir({}) end)
    end)

    it("remove deletes files, links and empty directories only", function()
      tree()
      assert.same({ true }, { fs.remove(dir .. "/root.csv") })
      assert.same({ true }, { fs.remove(dir .. "/link") })
      assert.same({ true }, { fs.remove(dir .. "/empty") })
      assert.same({ nil, "fs.remove " .. dir .. "/a: Directory not empty", "io" },
        { fs.remove(dir .. "/a") })
      assert.same({ nil, "fs.remove " .. dir .. "/zz: " .. ENOENT, "not_found" },
        { fs.remove(dir .. "/zz") })
      assert.equal("dir", fs.stat(dir .. "/a/b").type)
    end)

    it("remove_tree removes everything without following links", function()
      tree()
      local outside = assert(fs.tempdir("gf-fs-outside-"))
      assert(fs.write(outside .. "/keep", "k"))
      assert(os.execute("ln -s '" .. outside .. "' '" .. dir .. "/a/out'"))
      assert.same({ true }, { fs.remove_tree(dir .. "/a") })
      assert.is_false(fs.exists(dir .. "/a"))
      assert.equal("k", fs.read(outside .. "/keep"))
      assert(fs.remove_tree(outside))
      assert.same({ true }, { fs.remove_tree(dir .. "/root.csv") })
      local p = dir .. "/zz"
      assert.same({ nil, "fs.remove_tree " .. p .. ": " .. ENOENT, "not_found" },
        { fs.remove_tree(p) })
    end)

    it("remove_tree refuses the root and the empty path", function()
      assert.has_error(function() fs.remove_tree("/") end)
      assert.has_error(function() fs.remove_tree("//") end)
      assert.has_error(function() fs.remove_tree("/tmp/..") end)
      assert.has_error(function() fs.remove_tree("") end)
      assert.has_error(function() fs.remove_tree() end)
      assert.is_true(fs.exists("/tmp"))
    end)

    it("stat reports type, size, mode and mtime", function()
      tree()
      local before = os.time()
      assert(fs.write(dir .. "/s", "12345", { mode = "644" }))
      local st = fs.stat(dir .. "/s")
      assert.same({ 5, "file", tonumber("644", 8) }, { st.size, st.type, st.mode })
      assert.is_true(math.abs(st.mtime - before) <= 2)
      assert.equal("number", type(st.mtime))
      assert.equal("dir", fs.stat(dir .. "/a").type)
      assert.equal("link", fs.stat(dir .. "/link").type)
      assert.equal("other", fs.stat("/dev/null").type)
      local p = dir .. "/zz"
      assert.same({ nil, "fs.stat " .. p .. ": " .. ENOENT, "not_found" }, { fs.stat(p) })
      assert.has_error(function() fs.stat() end)
    end)

    it("exists sees files, directories and dangling links", function()
      assert.is_true(fs.exists(dir))
      assert.is_false(fs.exists(dir .. "/zz"))
      assert(os.execute("ln -s nowhere '" .. dir .. "/dangling'"))
      assert.is_true(fs.exists(dir .. "/dangling"))
      assert.has_error(function() fs.exists(nil) end)
    end)
  end)

  describe("match", function()
    -- pattern, name, default result, cross_slash result
    local cases = {
      { "*.csv", "a.csv", true, true },
      { "*.csv", "dir/a.csv", false, true },
      { "*", "", true, true },
      { "*", ".hidden", true, true },
      { "a?c", "abc", true, true },
      { "a?c", "a/c", false, true },
      { "a[bc]d", "acd", true, true },
      { "a[!bc]d", "acd", false, false },
      { "a[^bc]d", "axd", true, true },
      { "a[a-c]d", "abd", true, true },
      { "a[a-c]d", "aed", false, false },
      { "a[/]b", "a/b", false, true },
      { "a[]]b", "a]b", true, true },
      { "[ab", "[ab", true, true },
      { "\\*x", "*x", true, true },
      { "\\*x", "ax", false, false },
      { "data/*/x.csv", "data/2021/x.csv", true, true },
      { "data/*/x.csv", "data/2021/01/x.csv", false, true },
      { "data/**/x.csv", "data/2021/01/x.csv", true, true },
      { "data/**/x.csv", "data/x.csv", true, true },
      { "data/**", "data/a/b/c", true, true },
      { "**.csv", "a/b/c.csv", true, true },
      { "**", "anything/at/all", true, true },
      { "s3/prefix/*raw.csv", "s3/prefix/job-raw.csv", true, true },
      { "*raw.csv", "in/job-raw.csv", false, true },
      { "*a*a*a*a*a*a*a*a*b", ("a"):rep(60), false, false },
      { "abc", "abcd", false, false },
      { "abc*", "abc", true, true },
    }
    for _, c in ipairs(cases) do
      it(("%q vs %q"):format(c[1], c[2]), function()
        assert.equal(c[3], fs.match(c[1], c[2]))
        assert.equal(c[3], fs.match(c[1], c[2], { cross_slash = false }))
        assert.equal(c[4], fs.match(c[1], c[2], { cross_slash = true }))
      end)
    end

    it("is binary-safe", function()
      assert.is_true(fs.match("a?b", "a\0b"))
      assert.is_false(fs.match("a\0b", "a\0c"))
    end)

    it("raises on misuse", function()
      assert.has_error(function() fs.match(nil, "x") end)
      assert.has_error(function() fs.match("x") end)
      assert.has_error(function() fs.match("x", "x", { cross = true }) end)
      assert.has_error(function() fs.match("x", "x", { cross_slash = "yes" }) end)
      assert.has_error(function() fs.match("x", "x", true) end)
    end)
  end)

  describe("glob", function()
    local function tree()
      for _, p in ipairs({ "in/2021/01/a.csv", "in/2021/01/b.txt", "in/2021/02/c.csv",
        "in/x-raw.csv", "in/y-raw.csv", "in/y-processing.csv", "top.csv" }) do
        assert(fs.mkdir_p((dir .. "/" .. p):match("^(.*)/")))
        assert(fs.write(dir .. "/" .. p, p))
      end
    end

    -- pattern (relative to dir), cross_slash, expected (relative to dir)
    local cases = {
      { "in/*raw.csv", false, { "in/x-raw.csv", "in/y-raw.csv" } },
      { "in/*.csv", false, { "in/x-raw.csv", "in/y-processing.csv", "in/y-raw.csv" } },
      { "in/*.csv", true, { "in/2021/01/a.csv", "in/2021/02/c.csv", "in/x-raw.csv",
        "in/y-processing.csv", "in/y-raw.csv" } },
      { "in/**/*.csv", false, { "in/2021/01/a.csv", "in/2021/02/c.csv", "in/x-raw.csv",
        "in/y-processing.csv", "in/y-raw.csv" } },
      { "in/*/*/*.csv", false, { "in/2021/01/a.csv", "in/2021/02/c.csv" } },
      { "in/2021/0[2-9]/*", false, { "in/2021/02/c.csv" } },
      { "in/2021/*", false, { "in/2021/01", "in/2021/02" } },
      { "in/*/", false, { "in/2021/" } },
      { "in/**/", false, { "in/2021/", "in/2021/01/", "in/2021/02/" } },
      { "in/?-raw.csv", false, { "in/x-raw.csv", "in/y-raw.csv" } },
      { "*.csv", false, { "top.csv" } },
      { "nothing/*.csv", false, {} },
      { "in/x-raw.csv", false, { "in/x-raw.csv" } },
      { "in/none.csv", false, {} },
    }
    for _, c in ipairs(cases) do
      it(("%q cross_slash=%s"):format(c[1], tostring(c[2])), function()
        tree()
        local expected = {}
        for i, p in ipairs(c[3]) do expected[i] = dir .. "/" .. p end
        assert.same(expected, fs.glob(dir .. "/" .. c[1], { cross_slash = c[2] }))
      end)
    end

    it("keeps relative patterns relative", function()
      tree()
      assert(fs.write(dir .. "/g.lua", "local fs = require('gf.fs')\n" ..
        "print(table.concat(fs.glob('in/*-raw.csv'), ' '))\n" ..
        "print(table.concat(fs.glob('*.csv'), ' '))\n"))
      local out = sh("cd '" .. dir .. "' && '" .. require("gf.host").exe() .. "' run ./g.lua")
      assert.equal("in/x-raw.csv in/y-raw.csv\ntop.csv\n", out)
    end)

    it("raises on misuse", function()
      assert.has_error(function() fs.glob() end)
      assert.has_error(function() fs.glob("*", { cross_slash = 1 }) end)
      assert.has_error(function() fs.glob("*", { hidden = true }) end)
    end)
  end)

  describe("lock", function()
    it("is exclusive, tells whether it is held and is released by unlock and <close>", function()
      local path = dir .. "/a.lock"
      local a = assert(fs.lock(path))
      assert.is_true(a:held())
      local b, msg, code = fs.lock(path)
      assert.is_nil(b)
      assert.equal("conflict", code)
      assert.equal("fs.lock " .. path .. ": held by another process", msg)
      a:unlock()
      assert.is_false(a:held())
      a:unlock() -- idempotent
      do
        local c <close> = assert(fs.lock(path))
        assert.is_true(c:held())
        assert.is_nil((fs.lock(path)))
      end
      assert.is_truthy(fs.lock(path))
      local _, m2, c2 = fs.lock(dir .. "/no/such/dir/x.lock")
      assert.equal("not_found", c2)
      assert.matches("^fs%.lock ", m2)
    end)

    it("is held by another process until that process is killed with SIGKILL", function()
      local path = dir .. "/b.lock"
      local script = dir .. "/hold.lua"
      assert(fs.write(script, ("local l = assert(require('gf.fs').lock(%q)); io.open(%q, 'w'):close(); "
        .. "require('gf.task').sleep(30)"):format(path, dir .. "/ready")))
      local exe = require("spec.support.paths").gfhost
      local pid = tonumber(sh(("'%s' run '%s' >/dev/null 2>&1 & echo $!"):format(exe, script)))
      for _ = 1, 200 do
        if fs.exists(dir .. "/ready") then break end
        sh("sleep 0.05")
      end
      local none, _, code = fs.lock(path)
      assert.is_nil(none)
      assert.equal("conflict", code)
      sh("kill -9 " .. pid .. "; sleep 0.2")
      local l = assert(fs.lock(path))
      assert.is_true(l:held())
      l:unlock()
    end)
  end)

  describe("sha256", function()
    it("matches the known vectors", function()
      assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        fs.sha256_string(""))
      assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        fs.sha256_string("abc"))
      assert.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        fs.sha256_string("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
      assert(fs.write(dir .. "/empty", ""))
      assert(fs.write(dir .. "/abc", "abc"))
      assert.same({ "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { fs.sha256(dir .. "/empty") })
      assert.same({ "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { fs.sha256(dir .. "/abc") })
    end)

    it("hashes binary data like sha256sum", function()
      local data = ("\0\1\2\255"):rep(12345)
      assert(fs.write(dir .. "/bin", data))
      assert.equal(sha256sum(dir .. "/bin"), fs.sha256_string(data))
      assert.equal(sha256sum(dir .. "/bin"), fs.sha256(dir .. "/bin"))
    end)

    it("hashes a 50 MB file like sha256sum", function()
      local p = dir .. "/big"
      big_file(p, 50, "x")
      assert.equal(50 * 1048576 + 1, fs.stat(p).size)
      assert.equal(sha256sum(p), fs.sha256(p))
    end)

    it("returns failures as tuples and raises on misuse", function()
      local p = dir .. "/none"
      assert.same({ nil, "fs.sha256 " .. p .. ": " .. ENOENT, "not_found" }, { fs.sha256(p) })
      assert.same({ nil, "fs.sha256 " .. dir .. ": Is a directory", "io" }, { fs.sha256(dir) })
      assert.has_error(function() fs.sha256() end)
      assert.has_error(function() fs.sha256({}) end)
      assert.has_error(function() fs.sha256_string(nil) end)
    end)

    it("hashes many large files concurrently on the worker pool (task.map)", function()
      local files, expected = {}, {}
      for i = 1, 4 do
        files[i] = ("%s/f%d"):format(dir, i)
        big_file(files[i], 48, tostring(i))
        expected[i] = sha256sum(files[i])
      end
      local inflight, max_inflight, ticks = 0, 0, 0
      local running = true
      local ticker = task.spawn(function()
        while running do
          ticks = ticks + 1
          task.sleep(0.001)
        end
      end)
      local results, failures = task.map(files, function(path)
        inflight = inflight + 1
        max_inflight = math.max(max_inflight, inflight)
        local hex, err = fs.sha256(path)
        inflight = inflight - 1
        return hex or err
      end, { concurrency = 4 })
      running = false
      task.wait(ticker)
      assert.same({}, failures)
      assert.same(expected, results) -- correct, and in the order of the input
      assert.equal(4, max_inflight)  -- all four hashes were in flight at once
      assert.is_true(ticks > 1)      -- the loop kept running other tasks meanwhile
    end)
  end)
end)
