--- gf.fs: files and directories, globbing, SHA-256.
--
-- Every function raises on misuse (wrong argument types, unknown options, a NUL byte in a path)
-- and returns `nil, message, code` when the file system says no. code is "not_found" (ENOENT,
-- or ENOTDIR: a path component is not a directory) or "io" (anything else); the message is
-- "fs.<op> <path>: <strerror>" ("fs.<op> <a> -> <b>: ..." for rename and copy).
--
-- read(path) -> string                  whole file, binary-safe
-- write(path, data, {mode=}) -> true      create/truncate; mode (e.g. 0x1a4 = tonumber("644", 8),
--                                       or the string "644") is applied exactly, else 0666 - umask
-- write_atomic(path, data, {mode=}) -> true
--                                       temp file beside path + fsync + rename (+ fsync of the
--                                       directory): readers see the old or the new file, never a
--                                       partial one, and no temp file is left behind on failure.
--                                       Without mode an existing file keeps its permissions.
-- append(path, data, {mode=}) -> true     create if missing, append otherwise
-- copy(src, dst) -> true                 bytes + permission bits, via a temp file renamed into
--                                       place; runs on the worker pool (the task yields)
-- rename(src, dst) -> true               rename(2); across file systems a regular file is copied
--                                       and the source removed
-- list(dir) -> {names}                  entries except . and .., sorted (byte order)
-- walk(dir, {dirs=false, depth=nil}) -> {relative paths}
--                                       recursive, sorted; directories only with dirs=true;
--                                       depth=1 lists dir's own entries; symlinks are listed, not
--                                       followed
-- glob(pattern, {cross_slash=false}) -> {paths}
--                                       sorted matches of match() below, directories included; the
--                                       wildcard-free leading directories are the starting point
--                                       and are kept in the results ("data/*.csv" ->
--                                       "data/a.csv"); a missing directory gives {}; a
--                                       trailing '/' keeps only directories ("in/2021/")
-- match(pattern, name, {cross_slash=false}) -> boolean
--                                       the same matcher without the file system (S3 keys):
--                                         ?      one character            *   a run of characters
--                                         [a-z] [!a-z] [^a-z]  sets     \c  c literally
--                                       '*', '?' and sets do not match '/' unless cross_slash.
--                                       '**' matches any run including '/' in both modes, and
--                                       "a/**/b" also matches "a/b" (zero directories). A leading
--                                       '.' is not special. An unclosed '[' is a literal '['.
-- mkdir_p(path, {mode=}) -> true          like mkdir -p; fine if it exists as a directory
-- tempdir(prefix) -> path               new 0700 directory under $TMPDIR (or /tmp), named
--                                       <prefix>XXXXXX (prefix default "gf-")
-- remove(path) -> true                   a file, link or empty directory
-- remove_tree(path) -> true              rm -r without following links; raises for "" and any
--                                       path that resolves to "/"
-- stat(path) -> {size=, mtime=, type=, mode=}
--                                       lstat: type is "file", "dir", "link" or "other"; mtime in
--                                       epoch seconds (float); mode the permission bits
-- exists(path) -> boolean                anything (even a dangling link) is at path
-- sha256(path) -> hex                    runs on the worker pool: many tasks hash in parallel while
--                                       the loop stays free
-- sha256_string(data) -> hex             inline
-- lock(path) -> lock                     exclusive flock(2) on path (created), without waiting:
--                                       nil, msg, "conflict" while another process (or another
--                                       lock() in this one) holds it. lock:unlock() releases it,
--                                       as do <close>, garbage collection and the process ending
--                                       (kill -9 included); lock:held() tells.
local core = require("gf.fs.core")

local M = {}

M.read = core.read
M.rename = core.rename
M.list = core.list
M.remove = core.remove
M.remove_tree = core.remove_tree
M.stat = core.stat
M.exists = core.exists
M.sha256 = core.sha256
M.sha256_string = core.sha256_string
M.copy = core.copy
M.lock = core.lock

local function check_opts(fname, argn, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(string.format("bad argument #%d to '%s' (table expected, got %s)", argn, fname,
      type(opts)), 3)
  end
  for k in pairs(opts) do
    if not allowed[k] then
      error(string.format("bad argument #%d to '%s' (unknown option '%s')", argn, fname,
        tostring(k)), 3)
    end
  end
  return opts
end

local function mode_of(fname, mode)
  if mode == nil then return nil end
  if type(mode) == "string" then
    local digits = mode:match("^0?o?([0-7]+)$")
    local m = digits and tonumber(digits, 8)
    if not m then
      error(string.format("bad option 'mode' to '%s' (octal string expected, got '%s')",
        fname, mode), 3)
    end
    mode = m
  end
  if math.type(mode) ~= "integer" or mode < 0 or mode > 4095 then
    error(string.format("bad option 'mode' to '%s' (permission bits 0..0o7777 expected)", fname), 3)
  end
  return mode
end

local MODE_OPT = { mode = true }

function M.write(path, data, opts)
  local o = check_opts("write", 3, opts, MODE_OPT)
  local ok, err, code = core.write(path, data, mode_of("write", o.mode))
  if ok == nil then return nil, err, code end
  return ok
end

function M.append(path, data, opts)
  local o = check_opts("append", 3, opts, MODE_OPT)
  local ok, err, code = core.append(path, data, mode_of("append", o.mode))
  if ok == nil then return nil, err, code end
  return ok
end

function M.write_atomic(path, data, opts)
  local o = check_opts("write_atomic", 3, opts, MODE_OPT)
  local ok, err, code = core.write_atomic(path, data, mode_of("write_atomic", o.mode))
  if ok == nil then return nil, err, code end
  return ok
end

function M.mkdir_p(path, opts)
  local o = check_opts("mkdir_p", 2, opts, MODE_OPT)
  local ok, err, code = core.mkdir_p(path, mode_of("mkdir_p", o.mode))
  if ok == nil then return nil, err, code end
  return ok
end

local WALK_OPTS = { dirs = true, depth = true }

function M.walk(dir, opts)
  local o = check_opts("walk", 2, opts, WALK_OPTS)
  local depth = o.depth
  if depth ~= nil and (math.type(depth) ~= "integer" or depth < 0) then
    error("bad option 'depth' to 'walk' (non-negative integer expected)", 2)
  end
  local list, err, code = core.walk(dir, o.dirs == true, depth or -1)
  if list == nil then return nil, err, code end
  return list
end

local MATCH_OPTS = { cross_slash = true }

local function cross_slash(fname, argn, opts)
  local o = check_opts(fname, argn, opts, MATCH_OPTS)
  if o.cross_slash ~= nil and type(o.cross_slash) ~= "boolean" then
    error(string.format("bad option 'cross_slash' to '%s' (boolean expected)", fname), 3)
  end
  return o.cross_slash == true
end

function M.glob(pattern, opts)
  local cs = cross_slash("glob", 2, opts)
  local list, err, code = core.glob(pattern, cs)
  if list == nil then return nil, err, code end
  return list
end

function M.match(pattern, name, opts)
  local cs = cross_slash("match", 3, opts)
  local r = core.match(pattern, name, cs)
  return r
end

function M.tempdir(prefix)
  if prefix ~= nil and type(prefix) ~= "string" then
    error("bad argument #1 to 'tempdir' (string expected, got " .. type(prefix) .. ")", 2)
  end
  local base = os.getenv("TMPDIR")
  if base == nil or base == "" then base = "/tmp" end
  local path, err, code = core.tempdir(base, prefix or "gf-")
  if path == nil then return nil, err, code end
  return path
end

return M
