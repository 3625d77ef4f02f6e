-- gf.sqlite: the SQLite binding and its facade (transactions), against real database files.
local sqlite = require("gf.sqlite")
local task = require("gf.task")
local paths = require("spec.support.paths")

describe("gf.sqlite #unit", function()
  local dir, path, db

  before_each(function()
    dir = paths.tmpdir()
    path = dir .. "/t.db"
    db = assert(sqlite.open(path))
  end)

  after_each(function()
    if db then db:close() end
    os.execute("rm -rf '" .. dir .. "'")
  end)

  describe("open", function()
    it("reports the library and its version", function()
      assert.equal("SQLite", sqlite._LIBRARY)
      assert.matches("^3%.%d+%.%d+", sqlite._LIBVERSION)
    end)

    it("uses WAL by default and can be told not to", function()
      assert.same({ journal_mode = "wal" }, db:first("PRAGMA journal_mode"))
      local other = assert(sqlite.open(dir .. "/nowal.db", { wal = false }))
      assert.same({ journal_mode = "delete" }, other:first("PRAGMA journal_mode"))
      other:close()
    end)

    it("sets the busy timeout and synchronous mode", function()
      assert.equal(5000, db:busy_timeout())
      assert.same({ synchronous = 1 }, db:first("PRAGMA synchronous")) -- NORMAL with WAL
      local other = assert(sqlite.open(path, { busy_timeout_ms = 250, synchronous = "full" }))
      assert.equal(250, other:busy_timeout())
      assert.same({ synchronous = 2 }, other:first("PRAGMA synchronous"))
      other:close()
    end)

    it("returns nil, message, io for a path that cannot be opened", function()
      assert.same({ nil, "sqlite.open /nonexistent-dir/x.db: unable to open database file", "io" },
        { sqlite.open("/nonexistent-dir/x.db") })
    end)

    it("returns nil, message, io for a file that is not a database", function()
      local f = io.open(dir .. "/text.db", "w")
      f:write(("not a database\n"):rep(100))
      f:close()
      assert.same({ nil, "sqlite.open " .. dir .. "/text.db: file is not a database", "io" },
        { sqlite.open(dir .. "/text.db") })
    end)

    it("opens read-only: reads work, writes fail with io", function()
      assert(db:exec("CREATE TABLE t (x)"))
      local ro = assert(sqlite.open(path, { readonly = true }))
      assert.same({ { n = 0 } }, ro:query("SELECT count(*) AS n FROM t"))
      assert.same({ nil, "sqlite.execute " .. path .. ": attempt to write a readonly database",
        "io" }, { ro:execute("INSERT INTO t VALUES (1)") })
      ro:close()
    end)

    it("raises on misuse", function()
      assert.has_error(function() sqlite.open(42) end,
        "bad argument #1 to 'open' (string expected, got number)")
      assert.has_error(function() sqlite.open(path, { walmode = true }) end,
        "sqlite.open: unknown option 'walmode'")
      assert.has_error(function() sqlite.open(path, { wal = "yes" }) end,
        "sqlite.open: option 'wal' must be a boolean")
      assert.has_error(function() sqlite.open(path, { busy_timeout_ms = -1 }) end,
        "sqlite.open: busy_timeout_ms must be a non-negative integer")
      assert.has_error(function() sqlite.open(path, { synchronous = "fast" }) end,
        "sqlite.open: synchronous must be off, normal, full or extra")
    end)
  end)

  describe("values", function()
    before_each(function()
      assert(db:exec("CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB)"))
    end)

    it("round-trips integers, floats, text with NUL bytes, blobs and NULL", function()
      local bytes = {}
      for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
      local all = table.concat(bytes)
      assert.equal(1, db:execute("INSERT INTO v (i, f, s, b) VALUES (?, ?, ?, ?)",
        math.maxinteger, 0.1, "a\0b", sqlite.blob(all)))
      local row = db:first("SELECT i, f, s, b, typeof(s) AS ts, typeof(b) AS tb FROM v")
      assert.equal(math.maxinteger, row.i)
      assert.equal("integer", math.type(row.i))
      assert.equal(0.1, row.f)
      assert.equal("float", math.type(row.f))
      assert.equal("a\0b", row.s)
      assert.equal(all, row.b)
      assert.same({ "text", "blob" }, { row.ts, row.tb })
      assert.equal(1, db:execute("INSERT INTO v (i) VALUES (?)", nil))
      assert.same({ id = 2 }, db:first("SELECT id, i, f, s, b FROM v WHERE id = 2"))
    end)

    it("binds booleans as 0 and 1", function()
      db:execute("INSERT INTO v (i, f) VALUES (?, ?)", true, false)
      assert.same({ i = 1, f = 0.0 }, db:first("SELECT i, f FROM v"))
    end)

    it("binds by name with :, @ and $ and treats missing names as NULL", function()
      db:execute("INSERT INTO v (i, s, f) VALUES (:i, @s, $f)", { i = 7, s = "x" })
      assert.same({ i = 7, s = "x" }, db:first("SELECT i, s, f FROM v"))
    end)

    it("raises on unsupported values and on too many values", function()
      assert.has_error(function() db:execute("INSERT INTO v (i) VALUES (?)", {}, 2) end,
        "sqlite: 2 values for 1 parameters")
      assert.has_error(function() db:execute("INSERT INTO v (i, s) VALUES (?, ?)", 1, print) end,
        "sqlite: cannot bind a function to parameter 2")
    end)
  end)

  describe("statements", function()
    before_each(function()
      assert(db:exec([[CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE);
        INSERT INTO t (name) VALUES ('a'), ('b'), ('c');]]))
    end)

    it("query returns every row, first the first or nil", function()
      assert.same({ { id = 1, name = "a" }, { id = 2, name = "b" }, { id = 3, name = "c" } },
        db:query("SELECT * FROM t ORDER BY id"))
      assert.same({}, db:query("SELECT * FROM t WHERE id > 10"))
      assert.same({ name = "b" }, db:first("SELECT name FROM t WHERE id = ?", 2))
      assert.is_nil(db:first("SELECT name FROM t WHERE id = ?", 20))
    end)

    it("execute returns the changes; last_insert_id the new rowid", function()
      assert.equal(2, db:execute("UPDATE t SET name = name || '!' WHERE id < 3"))
      assert.equal(2, db:changes())
      assert.equal(1, db:execute("INSERT INTO t (name) VALUES ('d')"))
      assert.equal(4, db:last_insert_id())
    end)

    it("reports constraint violations as conflict", function()
      assert.same({ nil, "sqlite.execute " .. path .. ": UNIQUE constraint failed: t.name",
        "conflict" }, { db:execute("INSERT INTO t (name) VALUES ('a')") })
    end)

    it("reports SQL errors as sql", function()
      assert.same({ nil, "sqlite.query " .. path .. ": no such table: missing", "invalid_input" },
        { db:query("SELECT * FROM missing") })
      assert.same({ nil, "sqlite.exec " .. path .. ": near \"SELEC\": syntax error", "invalid_input" },
        { db:exec("SELEC 1") })
      assert.same({ nil, "sqlite.prepare " .. path .. ": near \"SELEC\": syntax error", "invalid_input" },
        { db:prepare("SELEC 1") })
    end)

    it("raises for several statements where one is expected", function()
      assert.has_error(function() db:query("SELECT 1; SELECT 2") end,
        "sqlite.query: one statement expected (db:exec runs several)")
      assert.same({ { x = 1 } }, db:query("SELECT 1 AS x;  "))
    end)

    it("prepare, bind, step until done, and step again restarts", function()
      local st = assert(db:prepare("SELECT name FROM t WHERE id >= ? ORDER BY id"))
      assert.same({ "name" }, st:columns())
      assert.equal(st, st:bind(2))
      assert.same({ name = "b" }, st:step())
      assert.same({ name = "c" }, st:step())
      assert.is_nil(st:step())
      assert.same({ name = "b" }, st:step())
      st:close()
    end)

    it("rows iterates with fresh bindings each time", function()
      local st = assert(db:prepare("SELECT name FROM t WHERE id <= :max ORDER BY id"))
      local names = {}
      for row in st:rows({ max = 2 }) do names[#names + 1] = row.name end
      for row in st:rows({ max = 1 }) do names[#names + 1] = row.name end
      assert.same({ "a", "b", "a" }, names)
      st:close()
    end)

    it("step returns nil, message, code on failure", function()
      local st = assert(db:prepare("INSERT INTO t (name) VALUES (?)"))
      st:bind("a")
      assert.same({ nil, "sqlite.step " .. path .. ": UNIQUE constraint failed: t.name",
        "conflict" }, { st:step() })
      st:bind("z")
      assert.is_nil(st:step())
      assert.equal(4, db:last_insert_id())
      st:close()
    end)

    it("closes idempotently and raises on use after close", function()
      local st = assert(db:prepare("SELECT 1"))
      assert.is_true(st:close())
      assert.is_true(st:close())
      assert.has_error(function() st:step() end, "attempt to use a closed sqlite statement")
      local st2 = assert(db:prepare("SELECT 1"))
      assert.is_true(db:close())
      assert.is_true(db:close())
      assert.has_error(function() st2:step() end,
        "attempt to use a statement of a closed sqlite database")
      assert.has_error(function() db:query("SELECT 1") end,
        "attempt to use a closed sqlite database")
      st2:close()
      db = nil
    end)

    it("closes with to-be-closed variables", function()
      local st_ref, db_ref
      do
        local d <close> = assert(sqlite.open(path))
        local st <close> = assert(d:prepare("SELECT 1"))
        st_ref, db_ref = st, d
      end
      assert.has_error(function() st_ref:step() end, "attempt to use a closed sqlite statement")
      assert.has_error(function() db_ref:first("SELECT 1") end,
        "attempt to use a closed sqlite database")
    end)

    it("keeps many distinct statements correct past the statement cache", function()
      for i = 1, 100 do
        assert.same({ v = i }, db:first(("SELECT %d AS v"):format(i)))
      end
      assert.same({ v = 7 }, db:first("SELECT 7 AS v"))
    end)
  end)

  describe("transactions", function()
    before_each(function()
      assert(db:exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    end)

    local function count()
      return db:first("SELECT count(*) AS n FROM t").n
    end

    it("commits and returns fn's results", function()
      assert.same({ 1, "x" }, { db:transaction(function(d)
        d:execute("INSERT INTO t (name) VALUES ('a')")
        return 1, "x"
      end) })
      assert.equal(1, count())
      assert.is_true(db:autocommit())
    end)

    it("rolls back and re-raises when fn raises", function()
      assert.has_error(function()
        db:transaction(function(d)
          d:execute("INSERT INTO t (name) VALUES ('a')")
          error("boom", 0)
        end)
      end, "boom")
      assert.equal(0, count())
      assert.is_true(db:autocommit())
    end)

    it("rolls back and returns nil, message, code when fn returns them", function()
      assert.same({ nil, "sqlite.execute " .. path .. ": UNIQUE constraint failed: t.name",
        "conflict" }, { db:transaction(function(d)
        d:execute("INSERT INTO t (name) VALUES ('a')")
        return d:execute("INSERT INTO t (name) VALUES ('a')")
      end) })
      assert.equal(0, count())
    end)

    it("nests with savepoints: an inner failure undoes only the inner part", function()
      db:transaction(function(d)
        d:execute("INSERT INTO t (name) VALUES ('outer')")
        local r = { d:transaction(function(d2)
          d2:execute("INSERT INTO t (name) VALUES ('inner')")
          return nil, "no", "conflict"
        end) }
        assert.same({ nil, "no", "conflict" }, r)
        return true
      end)
      assert.same({ { name = "outer" } }, db:query("SELECT name FROM t"))
    end)

    it("returns busy when another connection holds the lock past the timeout", function()
      local other = assert(sqlite.open(path, { busy_timeout_ms = 0 }))
      assert(db:exec("BEGIN IMMEDIATE"))
      assert.same({ nil, "sqlite.execute " .. path .. ": database is locked", "timeout" },
        { other:execute("INSERT INTO t (name) VALUES ('b')") })
      assert.same({ nil, "sqlite.exec " .. path .. ": database is locked", "timeout" },
        { other:transaction(function() return true end) })
      assert(db:exec("COMMIT"))
      other:close()
    end)

    it("inside a task, waits for the lock with task sleeps while other tasks run", function()
      local other = assert(sqlite.open(path, { busy_timeout_ms = 3000 }))
      assert(db:exec("BEGIN IMMEDIATE"))
      local ticks = 0
      local ticker = task.spawn(function()
        for _ = 1, 5 do
          task.sleep(0.01)
          ticks = ticks + 1
        end
        db:exec("COMMIT") -- release after other tasks had the loop
      end)
      local r = { other:transaction(function(d)
        return d:execute("INSERT INTO t (name) VALUES ('late')")
      end) }
      assert.same({ 1 }, r)
      assert.equal(5, ticks)
      task.wait(ticker)
      assert.equal(1, count())
      other:close()
    end)

    it("retries a plain statement on a database another process holds, without blocking the loop",
      function()
      -- a second process takes the write lock for 0.3 s; this one's INSERT (no transaction) is
      -- retried with task sleeps, and a ticker task keeps running meanwhile
      local ready = os.tmpname()
      os.remove(ready)
      local holder = require("spec.support.run").script(([[
        local db = assert(require("gf.sqlite").open(%q))
        assert(db:exec("BEGIN IMMEDIATE"))
        require("gf.fs").write(%q, "locked")
        require("gf.task").sleep(0.3)
        assert(db:exec("COMMIT"))
      ]]):format(path, ready))
      os.execute(("%s run %s &"):format(require("spec.support.paths").gfhost, holder))
      for _ = 1, 400 do
        if io.open(ready) then break end
        task.sleep(0.01)
      end
      assert.truthy(io.open(ready), "the holder process did not take the lock")
      local ticks = 0
      local ticker = task.spawn(function()
        for _ = 1, 10 do task.sleep(0.01); ticks = ticks + 1 end
      end)
      local other = assert(sqlite.open(path, { busy_timeout_ms = 5000 }))
      assert.equal(1, other:execute("INSERT INTO t (name) VALUES ('after')"))
      assert.equal(10, ticks)
      task.wait(ticker)
      other:close()
      os.remove(ready)
      os.remove(holder)
    end)

    it("inside a task, gives up with busy after busy_timeout_ms", function()
      local other = assert(sqlite.open(path, { busy_timeout_ms = 50 }))
      assert(db:exec("BEGIN IMMEDIATE"))
      assert.same({ nil, "sqlite.exec " .. path .. ": database is locked", "timeout" },
        { other:transaction(function() return true end) })
      assert.equal(50, other:busy_timeout())
      assert(db:exec("COMMIT"))
      other:close()
    end)

    it("serialises transactions of two tasks on one connection", function()
      local log = {}
      local function worker(name)
        return task.spawn(function()
          db:transaction(function(d)
            log[#log + 1] = name .. ">"
            task.sleep(0.01)
            d:execute("INSERT INTO t (name) VALUES (?)", name)
            log[#log + 1] = "<" .. name
          end)
        end)
      end
      local a, b = worker("a"), worker("b")
      assert.is_true((task.wait(a)))
      assert.is_true((task.wait(b)))
      assert.same({ "a>", "<a", "b>", "<b" }, log)
      assert.equal(2, count())
    end)

    it("raises on misuse", function()
      assert.has_error(function() db:transaction("nope") end,
        "bad argument #1 to 'transaction' (function expected)")
    end)
  end)
end)
