-- gfhost run crank against s3rver (127.0.0.1:19000): nested and root triggers, 1-, 3- and
-- 6-band images, a missing image and malformed rows, an idempotent rerun, two processes racing
-- for the same triggers over 10 rounds, kill -9 mid-run then a later run, and the DAGMan output
-- run node by node with gfhost task. COGs are checked with GDAL's validator and their pixels
-- (and the JPEGs') against gdal_translate's.
local servers = require("spec.support.servers")
local paths = require("spec.support.paths")
local run = require("spec.support.run")
local crank = require("spec.support.crank")
local fs = require("gf.fs")

local function pause(s) os.execute("sleep " .. s) end

-- "crank: claimed" log records of a run's stderr: list of {trigger=, as=, run=}
local function claimed(stderr)
  local out = {}
  for line in stderr:gmatch("[^\n]+") do
    if line:find("crank: claimed", 1, true) then
      out[#out + 1] = { trigger = line:match("trigger=(%S+)"), as = line:match("as=(%S+)"),
        run = line:match("run=(%S+)") }
    end
  end
  return out
end

-- HTCondor's new-style argument quoting, as gf.flow.dag writes it.
local function condor_words(s)
  local words, i = {}, 1
  while i <= #s do
    local c = s:sub(i, i)
    if c == " " then
      i = i + 1
    elseif c == "'" then
      local buf, j = {}, i + 1
      while true do
        local ch = s:sub(j, j)
        if ch == "" then error("unterminated quote in " .. s) end
        if ch == "'" then
          if s:sub(j + 1, j + 1) == "'" then buf[#buf + 1] = "'"; j = j + 2 else break end
        elseif ch == '"' and s:sub(j + 1, j + 1) == '"' then
          buf[#buf + 1] = '"'; j = j + 2
        else
          buf[#buf + 1] = ch; j = j + 1
        end
      end
      words[#words + 1] = table.concat(buf)
      i = j + 1
    else
      local w = s:match("^[^ ]+", i)
      words[#words + 1] = w
      i = i + #w
    end
  end
  return words
end

describe("crank on s3rver #integration", function()
  if servers.skip(_ENV) then return end
  local dir, c, input, output, keyargs, imgs

  before_each(function()
    dir = paths.tmpdir()
    c, input, output = crank.buckets()
    keyargs = crank.key_args(dir)
    imgs = crank.images(dir, 256)
  end)
  after_each(function() fs.remove_tree(dir) end)

  local function args(extra)
    local a = { "--input", input, "--output", output, "--state", dir .. "/state.db", "--lock-dir", dir }
    for _, v in ipairs(keyargs) do a[#a + 1] = v end
    for _, v in ipairs(extra or {}) do a[#a + 1] = v end
    return a
  end

  local function put_file(key, path) assert(c:put(input .. "/" .. key, nil, { file = path })) end
  local function put(key, text) assert(c:put(input .. "/" .. key, text)) end

  it("converts nested and root triggers, reports failed rows, and a rerun changes nothing", function()
    put_file("Counties/WI/Wood/1band.tif", imgs["1band"])
    put_file("Counties/WI/Wood/3band.tif", imgs["3band"])
    put_file("Counties/WI/Dane/6band.tif", imgs["6band"])
    put("Counties/WI/test_raw.csv", "Counties/WI/Wood/1band.tif,1\nCounties/WI/Wood/3band.tif,3\n"
      .. "Counties/WI/Dane/6band.tif,6\nCounties/WI/Dane/gone.tif,1\nCounties/WI/Dane/6band.tif\n")
    put("root_raw.csv", "Counties/WI/Wood/3band.tif,3")
    put("notes.csv", "not a trigger")

    local r = crank.crank(args())
    assert.are.equal(1, r.code, r.stderr)
    assert.matches("2 triggers, 5 images: 4 converted %(0 reused%), 1 failed, 1 malformed rows", r.stdout)

    local ins = crank.keys(c, input)
    local ts
    for k in pairs(ins) do ts = ts or k:match("^Counties/WI/test_processed%-(%d+%-%d+)%.csv$") end
    assert.is_truthy(ts, "no processed report")
    for k in pairs(ins) do
      assert.is_falsy(k:match("raw%.csv$") or k:match("processing") or k:match("%.aux%.xml$"), k)
    end
    assert.is_truthy(ins["notes.csv"])
    assert.are.equal("Counties/WI/Wood/1band.tif,1\r\nCounties/WI/Wood/3band.tif,3\r\nCounties/WI/Dane/6band.tif,6\r\n",
      (c:get(input .. "/Counties/WI/test_processed-" .. ts .. ".csv")))
    local failed = c:get(input .. "/Counties/WI/test_failed-" .. ts .. ".csv")
    assert.matches("^Counties/WI/Dane/gone%.tif,1,Counties/WI/test_raw%.csv line 4: Counties/WI/Dane/gone%.tif: s3%.get [^\r]*NoSuchKey[^\r]*\r\n"
      .. "Counties/WI/Dane/6band%.tif,\"Counties/WI/test_raw%.csv line 5: expected 2 columns %(path%.tif,BANDS%), got 1\"\r\n$", failed)
    -- a root-level trigger's report key has no leading '/'
    assert.are.equal("Counties/WI/Wood/3band.tif,3\r\n", (c:get(input .. "/root_processed-" .. ts .. ".csv")))
    assert.is_nil(ins["root_failed-" .. ts .. ".csv"])

    local outs = crank.keys(c, output)
    local n = 0
    for k in pairs(outs) do n = n + 1; assert.is_falsy(k:match("%.aux%.xml$"), k) end
    assert.are.equal(6, n)
    for name, key in pairs({ ["1band"] = "Counties/WI/Wood/1band", ["3band"] = "Counties/WI/Wood/3band",
      ["6band"] = "Counties/WI/Dane/6band" }) do
      local cog, jpg = dir .. "/" .. name .. ".cog.tif", dir .. "/" .. name .. ".out.jpg"
      assert(c:get(output .. "/" .. key .. ".tif", { file = cog }))
      assert(c:get(output .. "/" .. key .. ".jpg", { file = jpg }))
      local valid, report = crank.validate(cog)
      if valid ~= nil then assert.is_true(valid, report) end
      local ref_dir = dir .. "/ref-" .. name
      assert(fs.mkdir_p(ref_dir))
      local rcog, rjpg = crank.reference(imgs[name], ref_dir, tonumber(name:sub(1, 1)))
      assert.are.same(crank.checksums(rcog), crank.checksums(cog))
      assert.are.same(crank.checksums(rjpg), crank.checksums(jpg))
      assert.are.equal(name == "1band" and 1 or 3, #crank.checksums(jpg))
    end

    local r2 = crank.crank(args())
    assert.are.equal(0, r2.code, r2.stderr)
    assert.matches("no triggers matching", r2.stdout)
    local outs2 = crank.keys(c, output)
    for k, o in pairs(outs) do assert.are.equal(o.last_modified, outs2[k].last_modified, k) end
    local ins2 = crank.keys(c, input)
    for k in pairs(ins) do assert.is_truthy(ins2[k], k) end
    for k in pairs(ins2) do assert.is_truthy(ins[k], k) end
  end)

  it("two processes started together never both claim a trigger (10 rounds)", function()
    local small = dir .. "/small.tif"
    assert(crank.sh(("gdal_translate -q -outsize 64 64 %s %s"):format(run.shquote(imgs["3band"]), run.shquote(small))))
    put_file("img/small.tif", small)
    local state = dir .. "/race.db"
    local seen = {}
    for round = 1, 10 do
      local names = {}
      for i = 1, 3 do
        local key = ("r%02d/t%d_raw.csv"):format(round, i)
        names[#names + 1] = key
        put(key, "img/small.tif,3\n")
      end
      local function cmd(tag)
        local a = { "timeout", "120", run.shquote(paths.gfhost), "run", "crank", "--input", input,
          "--output", output, "--state", state, "--lock-dir", dir .. "/host" .. tag }
        for _, v in ipairs(keyargs) do a[#a + 1] = run.shquote(v) end
        assert(fs.mkdir_p(dir .. "/host" .. tag))
        return table.concat(a, " ") .. (" >%s/%s.out 2>%s/%s.err </dev/null"):format(dir, tag, dir, tag)
      end
      os.execute(cmd("a") .. " & " .. cmd("b") .. " & wait")
      local all = {}
      for _, tag in ipairs({ "a", "b" }) do
        for _, cl in ipairs(claimed(fs.read(dir .. "/" .. tag .. ".err") or "")) do all[#all + 1] = cl end
      end
      local count = {}
      for _, cl in ipairs(all) do count[cl.trigger] = (count[cl.trigger] or 0) + 1 end
      for _, key in ipairs(names) do
        assert.are.equal(1, count[key], ("round %d: %s claimed %s times"):format(round, key, tostring(count[key])))
        seen[key] = true
      end
      assert.are.equal(3, #all, "round " .. round)
      -- one processed report per trigger, nothing left in processing
      local ins = crank.keys(c, input)
      local logs = ""
      for _, tag in ipairs({ "a", "b" }) do
        logs = logs .. "\n--- " .. tag .. "\n" .. (fs.read(dir .. "/" .. tag .. ".out") or "")
          .. (fs.read(dir .. "/" .. tag .. ".err") or "")
      end
      for i = 1, 3 do
        local n = 0
        for k in pairs(ins) do
          if k:match(("^r%02d/t%d_processed%%-"):format(round, i)) then n = n + 1 end
          assert.is_falsy(k:match("processing"), k .. logs)
        end
        assert.are.equal(1, n, ("round %d trigger %d: %d processed reports"):format(round, i, n) .. logs)
      end
    end
  end)

  it("a run killed with SIGKILL is adopted by a later run: every image done once, reports right", function()
    local big = dir .. "/big.tif"
    assert(crank.sh(("gdal_translate -q -outsize 1024 1024 %s %s"):format(run.shquote(imgs["3band"]), run.shquote(big))))
    local rows = {}
    for i = 1, 10 do
      put_file(("k/img%02d.tif"):format(i), big)
      rows[#rows + 1] = ("k/img%02d.tif,3"):format(i)
    end
    put("k/kill_raw.csv", table.concat(rows, "\n") .. "\n")
    local a = { run.shquote(paths.gfhost) }
    for _, v in ipairs({ "run", "crank", table.unpack(args({ "--stale", "1", "--concurrency", "1" })) }) do
      a[#a + 1] = run.shquote(v)
    end
    os.execute(("GFHOST_WORKERS=1 %s >%s/k.out 2>%s/k.err </dev/null & echo $! >%s/k.pid"):format(
      table.concat(a, " "), dir, dir, dir))
    local pid = tonumber(fs.read(dir .. "/k.pid"))
    local function wait_jpgs(n)
      local jpgs = 0
      for _ = 1, 600 do
        jpgs = 0
        for k in pairs(crank.keys(c, output)) do if k:match("%.jpg$") then jpgs = jpgs + 1 end end
        if jpgs >= n then break end
        pause(0.05)
      end
      return jpgs
    end
    assert.is_true(wait_jpgs(1) >= 1)
    -- while it runs (it holds the lock), a second run on the same input (cron) exits 0 and
    -- does nothing
    local busy = crank.crank(args({ "--stale", "1" }))
    assert.are.equal(0, busy.code, busy.stderr)
    assert.matches("another run is live", busy.stdout)
    -- one image at a time: a second JPEG means the first image's node is recorded completed
    local jpgs = wait_jpgs(2)
    os.execute("kill -9 " .. pid)
    assert.is_true(jpgs >= 2 and jpgs < 10, "images done before the kill: " .. jpgs)
    pause(0.3)

    local cl = claimed(fs.read(dir .. "/k.err"))
    assert.are.equal(1, #cl)
    local run_id = cl[1].run
    local state = require("gf.state")
    local store = assert(state.open({ path = dir .. "/state.db" }))
    local done_before = {}
    for _, rec in ipairs(assert(store:list_nodes(run_id))) do
      if rec.node:match("^image%[") and rec.status == "completed" then done_before[rec.output.cog] = rec.attempts end
    end
    store:close()
    local ndone = 0
    for _ in pairs(done_before) do ndone = ndone + 1 end
    assert.is_true(ndone >= 1 and ndone < 10, "completed before the kill: " .. ndone)
    local outs_before = crank.keys(c, output)
    assert.is_truthy(crank.keys(c, input)[cl[1].as], "the processing file stays after the kill")

    pause(1.5) -- the dead run's claim is now older than --stale
    local later = crank.crank(args({ "--stale", "1" }))
    assert.are.equal(0, later.code, later.stderr)
    assert.matches("adopting a dead run's trigger", later.stderr)
    assert.matches(("run %s: 1 triggers, 10 images: 10 converted %%(%d reused%%), 0 failed"):format(
      run_id:gsub("%p", "%%%0"), ndone), later.stdout)
    local outs = crank.keys(c, output)
    for key in pairs(done_before) do
      assert.are.equal(outs_before[key].last_modified, outs[key].last_modified, key .. " was converted twice")
    end
    local ins = crank.keys(c, input)
    local ts = cl[1].as:match("processing%-(%d+%-%d+)%.csv$")
    assert.is_nil(ins[cl[1].as])
    assert.is_nil(ins["k/kill_failed-" .. ts .. ".csv"])
    assert.are.equal(table.concat(rows, "\r\n") .. "\r\n", (c:get(input .. "/k/kill_processed-" .. ts .. ".csv")))
    for i = 1, 10 do
      assert.is_truthy(outs[("k/img%02d.tif"):format(i)])
      assert.is_truthy(outs[("k/img%02d.jpg"):format(i)])
    end
  end)

  it("--dag writes DAGMan files whose nodes run one by one with gfhost task", function()
    put_file("d/1band.tif", imgs["1band"])
    put_file("d/6band.tif", imgs["6band"])
    put("d/dag_raw.csv", "d/1band.tif,1\nd/6band.tif,6\n")
    local r = crank.crank(args({ "--dag", dir .. "/dag" }))
    assert.are.equal(0, r.code, r.stderr)
    local run_id = r.stdout:match("crank: (%S+): 1 triggers, 2 images, 4 nodes")
    assert.is_truthy(run_id, r.stdout)
    -- claimed at DAG time, as the original's crondor run
    local ins = crank.keys(c, input)
    assert.is_nil(ins["d/dag_raw.csv"])
    local dag = fs.read(dir .. "/dag/" .. run_id .. "/crank.dag")
    local sub = fs.read(dir .. "/dag/" .. run_id .. "/node.sub")
    local argline = sub:match('\narguments = "([^\n]*)"\n')
    local jobs, retries, final = {}, 0, nil
    for line in dag:gmatch("[^\n]+") do
      local name, done = line:match("^JOB (%S+) node%.sub( ?D?O?N?E?)$")
      if name then jobs[#jobs + 1] = { name = name, done = done == " DONE" } end
      local vname, node = line:match('^VARS (%S+) node="(.*)"$')
      if vname then
        for _, j in ipairs(jobs) do if j.name == vname then j.node = node end end
        if final and final.name == vname then final.node = node end
      end
      if line:match("^RETRY %S+ 3$") then retries = retries + 1 end
      local fname = line:match("^FINAL (%S+) node%.sub$")
      if fname then final = { name = fname } end
      local post = line:match("^SCRIPT POST %S+ (.*)$")
      if post then final.post = post end
    end
    assert.are.equal(3, #jobs)
    assert.are.equal(2, retries)
    assert.is_true(jobs[1].done) -- the claim ran while planning
    local function task_cmd(words)
      local q = {}
      for i, w in ipairs(words) do q[i] = run.shquote(w) end
      return table.concat(q, " ")
    end
    for _, j in ipairs(jobs) do
      if not j.done then
        local words = condor_words(argline:gsub("%$%(node%)", (j.node:gsub("%%", "%%%%"))))
        local out, code = crank.sh(run.shquote(paths.gfhost) .. " " .. task_cmd(words))
        assert.are.equal(0, code, out)
      end
    end
    local fwords = condor_words(argline:gsub("%$%(node%)", (final.node:gsub("%%", "%%%%"))))
    local out, code = crank.sh(run.shquote(paths.gfhost) .. " " .. task_cmd(fwords))
    assert.are.equal(0, code, out)
    local pwords = condor_words(final.post)
    out, code = crank.sh(task_cmd(pwords))
    assert.are.equal(0, code, out)
    local outs = crank.keys(c, output)
    for _, k in ipairs({ "d/1band.tif", "d/1band.jpg", "d/6band.tif", "d/6band.jpg" }) do
      assert.is_truthy(outs[k], k)
    end
    ins = crank.keys(c, input)
    local processed
    for k in pairs(ins) do
      assert.is_falsy(k:match("processing"), k)
      if k:match("^d/dag_processed%-") then processed = k end
    end
    assert.are.equal("d/1band.tif,1\r\nd/6band.tif,6\r\n", (c:get(input .. "/" .. processed)))
  end)
  it("runs its image nodes on gfhost workers with --executor sqs (fauxqs)", function()
    local sqs = require("gf.sqs")
    local qc = sqs.client({ endpoint = "http://127.0.0.1:19001", region = "us-east-1",
      credentials = { access_key = "test", secret_key = "test" } })
    local queue = assert(qc:create_queue("crank-" .. servers.uid()))
    put_file("q/1band.tif", imgs["1band"])
    put_file("q/3band.tif", imgs["3band"])
    put("q/sqs_raw.csv", "q/1band.tif,1\nq/3band.tif,3\n")
    local env = "env AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 "
    local w = { run.shquote(paths.gfhost), "worker", "--queue", run.shquote(queue), "--state",
      run.shquote(dir .. "/state.db"), "--wait", "1", "--idle-exit", "60", "--endpoint-url", "http://127.0.0.1:19001" }
    os.execute(env .. table.concat(w, " ") .. (" >%s/w.out 2>%s/w.err </dev/null & echo $! >%s/w.pid"):format(dir, dir, dir))
    -- bounded: the coordinator follows gf.state until the worker has run every node
    local co = { "timeout", "120", run.shquote(paths.gfhost), "run", "crank" }
    for _, v in ipairs(args({ "--executor", "sqs", "--queue", queue, "--endpoint-url",
      "http://127.0.0.1:19001", "--poll", "0.2" })) do co[#co + 1] = run.shquote(v) end
    local text, code = crank.sh(env .. table.concat(co, " ") .. " 2>" .. run.shquote(dir .. "/co.err"))
    local r = { code = code, stdout = text, stderr = fs.read(dir .. "/co.err") or "" }
    os.execute("kill " .. (fs.read(dir .. "/w.pid") or ""):gsub("%s", "") .. " 2>/dev/null")
    qc:delete_queue(queue)
    assert.are.equal(0, r.code, r.stdout .. r.stderr .. (fs.read(dir .. "/w.err") or ""))
    assert.matches("1 triggers, 2 images: 2 converted", r.stdout)
    local outs = crank.keys(c, output)
    for _, k in ipairs({ "q/1band.tif", "q/1band.jpg", "q/3band.tif", "q/3band.jpg" }) do assert.is_truthy(outs[k], k) end
    local ins = crank.keys(c, input)
    local processed
    for k in pairs(ins) do
      assert.is_falsy(k:match("processing") or k:match("raw%.csv$"), k)
      if k:match("^q/sqs_processed%-") then processed = k end
    end
    assert.are.equal("q/1band.tif,1\r\nq/3band.tif,3\r\n", (c:get(input .. "/" .. processed)))
  end)
  it("two cron hosts sharing only a DynamoDB state (dynalite) claim each trigger once", function()
    local tname = "crank-claims-" .. servers.uid()
    local st = assert(require("gf.state").open({ backend = "dynamodb", table = tname,
      endpoint = "http://127.0.0.1:19002", region = "us-east-1",
      credentials = { access_key = "test", secret_key = "test" }, create = true }))
    st:close()
    local spec = ("dynamodb://%s?endpoint=http%%3A%%2F%%2F127.0.0.1%%3A19002&region=us-east-1"):format(tname)
    local small = dir .. "/small.tif"
    assert(crank.sh(("gdal_translate -q -outsize 64 64 %s %s"):format(run.shquote(imgs["1band"]), run.shquote(small))))
    put_file("img/small.tif", small)
    for i = 1, 4 do put(("ddb/t%d_raw.csv"):format(i), "img/small.tif,1\n") end
    local function cmd(tag)
      local a = { "env", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "timeout", "120", run.shquote(paths.gfhost),
        "run", "crank", "--input", input, "--output", output, "--state", run.shquote(spec),
        "--lock-dir", dir .. "/host" .. tag }
      for _, v in ipairs(keyargs) do a[#a + 1] = run.shquote(v) end
      assert(fs.mkdir_p(dir .. "/host" .. tag))
      return table.concat(a, " ") .. (" >%s/%s.out 2>%s/%s.err </dev/null"):format(dir, tag, dir, tag)
    end
    os.execute(cmd("a") .. " & " .. cmd("b") .. " & wait")
    local count, n = {}, 0
    local logs = ""
    for _, tag in ipairs({ "a", "b" }) do
      local err = fs.read(dir .. "/" .. tag .. ".err") or ""
      logs = logs .. "\n--- " .. tag .. "\n" .. (fs.read(dir .. "/" .. tag .. ".out") or "") .. err
      for _, cl in ipairs(claimed(err)) do count[cl.trigger] = (count[cl.trigger] or 0) + 1; n = n + 1 end
    end
    assert.are.equal(4, n, logs)
    for i = 1, 4 do assert.are.equal(1, count[("ddb/t%d_raw.csv"):format(i)], logs) end
    local ins = crank.keys(c, input)
    local reports = 0
    for k in pairs(ins) do
      assert.is_falsy(k:match("processing"), k .. logs)
      if k:match("^ddb/t%d_processed%-") then reports = reports + 1 end
    end
    assert.are.equal(4, reports, logs)
  end)
end)
