-- gfhost dag / gfhost task: DAGMan files that give the same result as the local executor.
local paths = require("spec.support.paths")
local run = require("spec.support.run")
local fs = require("gf.fs")
local json = require("gf.json")

--- Parse a DAG file; check it against the DAGMan grammar gfhost writes. Returns jobs, edges.
local function parse_dag(text)
  local jobs, order, vars, retry, edges, final, post = {}, {}, {}, {}, {}, nil, nil
  local ln = 0
  for line in text:gmatch("([^\n]*)\n") do
    ln = ln + 1
    if line:match("^#") or line == "" then goto continue end
    local kw, rest = line:match("^(%u+)%s+(.*)$")
    assert(kw, ("line %d: not a DAGMan statement: %s"):format(ln, line))
    if kw == "JOB" then
      local name, sub, done = rest:match("^(%S+)%s+(%S+)%s*(%S*)$")
      assert(name and sub, "line " .. ln .. ": JOB name file [DONE]")
      assert(done == "" or done == "DONE", "line " .. ln .. ": bad JOB option " .. done)
      assert(not jobs[name], "line " .. ln .. ": duplicate JOB " .. name)
      jobs[name] = { sub = sub, done = done == "DONE" }
      order[#order + 1] = name
    elseif kw == "VARS" then
      local name, k, v = rest:match('^(%S+)%s+([%w_]+)="(.*)"$')
      assert(name and (jobs[name] or (final and final.name == name)), "line " .. ln .. ": VARS for unknown node")
      vars[name] = vars[name] or {}
      vars[name][k] = v:gsub('\\"', '"'):gsub("\\\\", "\\")
    elseif kw == "RETRY" then
      local name, n = rest:match("^(%S+)%s+(%d+)$")
      assert(name and jobs[name], "line " .. ln .. ": RETRY node count")
      retry[name] = tonumber(n)
    elseif kw == "PARENT" then
      local ps, cs = rest:match("^(.-)%s+CHILD%s+(.+)$")
      assert(ps, "line " .. ln .. ": PARENT ... CHILD ...")
      for p in ps:gmatch("%S+") do
        assert(jobs[p], "line " .. ln .. ": unknown parent " .. p)
        for c in cs:gmatch("%S+") do
          assert(jobs[c], "line " .. ln .. ": unknown child " .. c)
          edges[#edges + 1] = { p, c }
        end
      end
    elseif kw == "FINAL" then
      local name, sub = rest:match("^(%S+)%s+(%S+)$")
      assert(name, "line " .. ln .. ": FINAL name file")
      final = { name = name, sub = sub }
    elseif kw == "SCRIPT" then
      local when, name, cmd = rest:match("^(%u+)%s+(%S+)%s+(.+)$")
      assert(when == "POST" and final and name == final.name, "line " .. ln .. ": SCRIPT POST for the final node")
      post = cmd
    else
      error(("line %d: unexpected keyword %s"):format(ln, kw))
    end
    ::continue::
  end
  return { jobs = jobs, order = order, vars = vars, retry = retry, edges = edges, final = final, post = post }
end

-- Split HTCondor new-style arguments ("..." with '...' quoting).
local function condor_args(s)
  local out, i = {}, 1
  while i <= #s do
    local c = s:sub(i, i)
    if c == " " then
      i = i + 1
    elseif c == "'" then
      local buf = {}
      i = i + 1
      while i <= #s do
        local d = s:sub(i, i)
        if d == "'" and s:sub(i + 1, i + 1) == "'" then buf[#buf + 1] = "'" i = i + 2
        elseif d == "'" then i = i + 1 break
        else buf[#buf + 1] = d i = i + 1 end
      end
      out[#out + 1] = table.concat(buf)
    else
      local j = s:find(" ", i, true) or (#s + 1)
      out[#out + 1] = s:sub(i, j - 1)
      i = j
    end
  end
  return out
end

describe("gfhost dag #unit", function()
  local dir
  before_each(function() dir = paths.tmpdir() end)
  after_each(function() fs.remove_tree(dir) end)

  it("writes DAGMan files whose nodes, run in order, match the local executor", function()
    local input = paths.root .. "/config/example/stations.csv"
    -- Reference: the local executor.
    local r = run.gfhost({ "run", "example", "--state", dir .. "/local.db", "--param", "out=" .. dir .. "/local",
      "--param", "input=" .. input })
    assert.equal(0, r.code, r.stderr)
    -- DAG.
    r = run.gfhost({ "dag", "example", "--out", dir .. "/dag", "--state", dir .. "/dag.db",
      "--param", "out=" .. dir .. "/viadag", "--param", "input=" .. input })
    assert.equal(0, r.code, r.stderr)
    assert.matches("example%.dag: 15 nodes", r.stdout)
    local dag = parse_dag(assert(fs.read(dir .. "/dag/example.dag")))
    assert.equal(14, #dag.order) -- stations, 12 stations, checksums (+ FINAL report)
    assert.is_true(dag.jobs.n1_stations.done)
    assert.equal(2, dag.retry["n2_describe_CYVR_"])
    assert.equal("report", dag.vars[dag.final.name].node)
    assert.matches("task .-example%.lua %-%-check", dag.post)
    local sub = assert(fs.read(dir .. "/dag/node.sub"))
    assert.matches("\nqueue\n", sub)
    local exe = sub:match("\nexecutable = (%S+)")
    local argline = sub:match('\narguments = "(.-)"\n')
    assert.equal(paths.gfhost, exe)
    -- Run every node's command in dependency order (DONE nodes skipped), then FINAL and POST.
    local indeg, kids = {}, {}
    for _, n in ipairs(dag.order) do indeg[n] = 0 end
    for _, e in ipairs(dag.edges) do
      indeg[e[2]] = indeg[e[2]] + 1
      kids[e[1]] = kids[e[1]] or {}
      table.insert(kids[e[1]], e[2])
    end
    local queue, ran = {}, 0
    for _, n in ipairs(dag.order) do if indeg[n] == 0 then queue[#queue + 1] = n end end
    local function run_node(name)
      local a = condor_args((argline:gsub("%$%(node%)", "'" .. dag.vars[name].node:gsub("'", "''") .. "'")))
      local res = run.gfhost(a)
      assert.equal(0, res.code, name .. ": " .. res.stderr)
      ran = ran + 1
    end
    local i = 1
    while queue[i] do
      local n = queue[i]
      i = i + 1
      if not dag.jobs[n].done then run_node(n) end
      for _, c in ipairs(kids[n] or {}) do
        indeg[c] = indeg[c] - 1
        if indeg[c] == 0 then queue[#queue + 1] = c end
      end
    end
    assert.equal(#dag.order, i - 1)
    run_node(dag.final.name)
    assert.equal(14, ran)
    local post = condor_args(dag.post)
    table.remove(post, 1) -- the executable
    local pr = run.gfhost(post)
    assert.equal(0, pr.code, pr.stderr)
    -- Same results: every station file, identical content.
    local a, b = fs.list(dir .. "/local"), fs.list(dir .. "/viadag")
    assert.same(a, b)
    for _, name in ipairs(a) do
      if name ~= "report.json" then
        assert.same(json.decode(fs.read(dir .. "/local/" .. name)), json.decode(fs.read(dir .. "/viadag/" .. name)))
      end
    end
    local rl = json.decode(fs.read(dir .. "/local/report.json"))
    local rd = json.decode(fs.read(dir .. "/viadag/report.json"))
    assert.same(rl.counts, rd.counts)
    assert.equal(14, rl.counts.completed)
  end)

  it("the POST check fails when a node did not complete", function()
    local input = paths.root .. "/config/example/stations.csv"
    local common = { "--state", dir .. "/s.db", "--param", "out=" .. dir .. "/o", "--param", "input=" .. input }
    local r = run.gfhost({ "dag", "example", "--out", dir .. "/dag", table.unpack(common) })
    assert.equal(0, r.code, r.stderr)
    local c = run.gfhost({ "task", "example", "--check", table.unpack(common) })
    assert.equal(1, c.code)
    assert.matches("describe%[CYVR%]: not run", c.stderr)
  end)

  it("gfhost task names a missing node clearly", function()
    local r = run.gfhost({ "task", "example", "nope", "--state", dir .. "/s.db" })
    assert.equal(2, r.code)
    assert.equal("gfhost: workflow example has no task 'nope'\n", r.stderr)
  end)
end)
