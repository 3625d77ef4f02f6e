--- gf.csv: streaming RFC 4180 CSV.
--
-- reader(source [, opts]) -> reader | nil, message, "io"
--     source: a path, "-" (stdin) or an open file handle (left open by close()).
-- from_string(text [, opts]) -> reader        the same over text in memory
--     opts: header = false   true: the first record names the columns and rows are keyed by name
--           delimiter = ","  quote = '"'      (one character each, not CR/LF, different)
--           strict = true    see "Bad rows" below
--     Quoted fields hold delimiters, doubled quotes and line breaks (kept as written). LF, CRLF
--     and a lone CR end a record; the last record needs no line end; a UTF-8 BOM is skipped;
--     empty lines are skipped (they are not records and are not checked). Fields are strings
--     ("" for empty); nothing is converted.
-- reader:read() -> row | nil (end of input) | nil, message, "parse" | "io"
-- reader:rows() -> iterator for `for row in r:rows() do`; it RAISES the message of a parse or io
--     failure (so a loop cannot end early unnoticed). Use read() to handle bad rows one by one.
-- reader:header() -> list of column names (header = true) or nil
-- reader:line() -> line number where the last record (or failure) began
-- reader:close()                 idempotent; also __close and __gc
--
-- Bad rows. The first record (the header, with header = true) fixes the field count.
--   strict = true: a record with another count is a failure
--       nil, "csv <name>:<line>: expected N fields, got M", "parse"
--     and so is a quote inside an unquoted field or text after a closing quote; reading
--     continues with the next line on the next read(). An unterminated quoted field is a
--     failure that ends the input. A duplicate header name fails reader()/from_string().
--   strict = false: records of any length are returned as they are (with header = true the
--     extra fields go to integer keys N+1.., missing ones are absent); stray quotes are kept
--     as text. reader:line() tells where a row came from.
--   <name> is the path, "<stdin>", "<file>" or "<string>" (opts.name overrides).
--
-- parse(text [, opts]) -> list of rows | nil, message, code     all rows or the first failure
-- writer(target [, opts]) -> writer | nil, message, "io"
--     target: a path (created/truncated) or an open file handle (flushed, not closed, by close()).
--     opts: header = {names...}: written first; rows are then keyed by these names.
--           delimiter, quote as for the reader; eol = "\n" (or "\r\n" for strict RFC 4180).
-- writer:write(row) -> true | nil, message, "io"
--     row: a list, or with header a table keyed by name. Strings as they are, integers in
--     decimal, floats in their shortest exact form, booleans "true"/"false", nil and json.null
--     empty; anything else raises. A field is quoted when it holds the delimiter, the quote, CR
--     or LF, or starts or ends with a space; quotes inside are doubled.
-- writer:close() -> true | nil, message, "io"   idempotent; also __close and __gc
-- encode_row(list [, opts]) -> string          one record, without a line end
local core = require("gf.csv.core")

local M = {}

local READER_OPTS = { header = "boolean", delimiter = "string", quote = "string",
  strict = "boolean", name = "string" }
local WRITER_OPTS = { header = "table", delimiter = "string", quote = "string", eol = "string",
  name = "string" }

local function options(fname, opts, allowed)
  local o = {}
  if opts == nil then return o end
  if type(opts) ~= "table" then
    error("bad argument #2 to '" .. fname .. "' (table expected, got " .. type(opts) .. ")", 3)
  end
  for k, v in pairs(opts) do
    local want = allowed[k]
    if not want then error("csv." .. fname .. ": unknown option '" .. tostring(k) .. "'", 3) end
    if type(v) ~= want then
      error("csv." .. fname .. ": option '" .. k .. "' must be a " .. want, 3)
    end
    o[k] = v
  end
  return o
end

local function open_reader(kind, source, name, o)
  local strict = true
  if o.strict ~= nil then strict = o.strict end
  return core.reader(kind, source, o.name or name, o.delimiter or ",", o.quote or '"',
    o.header or false, strict)
end

function M.reader(source, opts)
  local o = options("reader", opts, READER_OPTS)
  if source == "-" then -- read through the loop (other tasks run while stdin waits), then parsed
    return open_reader("string", require("gf.task").stdin():all(), o.name or "<stdin>", o)
  end
  if type(source) == "string" then return open_reader("path", source, source, o) end
  if io.type(source) == "file" then return open_reader("file", source, "<file>", o) end
  error("bad argument #1 to 'reader' (path, \"-\" or open file expected)", 2)
end

function M.from_string(text, opts)
  if type(text) ~= "string" then
    error("bad argument #1 to 'from_string' (string expected, got " .. type(text) .. ")", 2)
  end
  local o = options("from_string", opts, READER_OPTS)
  return open_reader("string", text, "<string>", o)
end

function M.parse(text, opts)
  if type(text) ~= "string" then
    error("bad argument #1 to 'parse' (string expected, got " .. type(text) .. ")", 2)
  end
  local o = options("parse", opts, READER_OPTS)
  local r, msg, code = open_reader("string", text, "<string>", o)
  if not r then return nil, msg, code end
  local rows = {}
  while true do
    local row, err, ecode = r:read()
    if row == nil then
      r:close()
      if err then return nil, err, ecode end
      return rows
    end
    rows[#rows + 1] = row
  end
end

function M.writer(target, opts)
  local o = options("writer", opts, WRITER_OPTS)
  local kind, name
  if type(target) == "string" then
    kind, name = "path", target
  elseif io.type(target) == "file" then
    kind, name = "file", "<file>"
  else
    error("bad argument #1 to 'writer' (path or open file expected)", 2)
  end
  if o.header then
    for i = 1, #o.header do
      if type(o.header[i]) ~= "string" then error("csv.writer: header names must be strings", 2) end
    end
  end
  return core.writer(kind, target, o.name or name, o.delimiter or ",", o.quote or '"',
    o.eol or "\n", o.header)
end

function M.encode_row(row, opts)
  if type(row) ~= "table" then
    error("bad argument #1 to 'encode_row' (table expected, got " .. type(row) .. ")", 2)
  end
  local o = options("encode_row", opts, { delimiter = "string", quote = "string" })
  return core.encode_row(row, o.delimiter or ",", o.quote or '"')
end

return M
