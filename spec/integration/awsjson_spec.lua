-- gf.awsjson against dynalite (DynamoDB, 127.0.0.1:19002) and stepfunctions-local
-- (127.0.0.1:19006), and gf.awsjson.query against fauxqs's SNS (127.0.0.1:19001).
-- CloudWatch Logs has no local server (test-servers.md §1.8); its request shape is in the unit spec.
local servers = require("spec.support.servers")
local CREDS = servers.CREDS

local uid = servers.uid

describe("gf.awsjson #integration", function()
  if servers.skip(_ENV) then return end
  local awsjson = require("gf.awsjson")
  local query = require("gf.awsjson.query")
  local json = require("gf.json")
  local task = require("gf.task")

  describe("DynamoDB on dynalite", function()
    local d, table_name

    setup(function()
      d = awsjson.client({ service = "dynamodb", endpoint = "http://127.0.0.1:19002",
        region = "us-east-1", credentials = CREDS })
      table_name = "gfspec-" .. uid()
      assert(d:call("CreateTable", {
        TableName = table_name,
        AttributeDefinitions = { { AttributeName = "pk", AttributeType = "S" },
          { AttributeName = "sk", AttributeType = "N" },
          { AttributeName = "owner", AttributeType = "S" } },
        KeySchema = { { AttributeName = "pk", KeyType = "HASH" },
          { AttributeName = "sk", KeyType = "RANGE" } },
        GlobalSecondaryIndexes = { { IndexName = "byOwner",
          KeySchema = { { AttributeName = "owner", KeyType = "HASH" },
            { AttributeName = "sk", KeyType = "RANGE" } },
          Projection = { ProjectionType = "ALL" } } },
        BillingMode = "PAY_PER_REQUEST",
      }))
      -- as on DynamoDB, a new table is usable once ACTIVE (dynalite with many tables takes a moment)
      for _ = 1, 100 do
        local t = assert(d:call("DescribeTable", { TableName = table_name })).Table
        if t.TableStatus == "ACTIVE" then break end
        task.sleep(0.05)
      end
    end)

    it("puts, gets and queries an index", function()
      assert(d:call("PutItem", { TableName = table_name, Item = { pk = { S = "a" }, sk = { N = "1" },
        owner = { S = "alice" }, n = { N = "0" } } }))
      local r = assert(d:call("GetItem", { TableName = table_name,
        Key = { pk = { S = "a" }, sk = { N = "1" } } }))
      assert.same({ S = "alice" }, r.Item.owner)
      local qr = assert(d:call("DynamoDB_20120810.Query", { TableName = table_name,
        IndexName = "byOwner", KeyConditionExpression = "#o = :o AND sk > :s",
        ExpressionAttributeNames = { ["#o"] = "owner" },
        ExpressionAttributeValues = { [":o"] = { S = "alice" }, [":s"] = { N = "0" } } }))
      assert.equal(1, qr.Count)
    end)

    it("maps a failed condition to conflict", function()
      local key = { pk = { S = "c" }, sk = { N = "1" } }
      assert(d:call("PutItem", { TableName = table_name, Item = { pk = key.pk, sk = key.sk,
        n = { N = "0" } } }))
      local upd = { TableName = table_name, Key = key, UpdateExpression = "SET n = n + :one",
        ConditionExpression = "n = :zero", ReturnValues = "ALL_NEW",
        ExpressionAttributeValues = { [":one"] = { N = "1" }, [":zero"] = { N = "0" } } }
      local r = assert(d:call("UpdateItem", upd))
      assert.same({ N = "1" }, r.Attributes.n)
      assert.same({ nil, "dynamodb.UpdateItem " .. table_name
        .. ": 400 ConditionalCheckFailedException: The conditional request failed", "conflict" },
        { d:call("UpdateItem", upd) })
    end)

    it("maps a missing table to not_found and a reserved word to invalid_input", function()
      assert.same({ nil, "dynamodb.GetItem gf-none: 400 ResourceNotFoundException: Requested "
        .. "resource not found", "not_found" },
        { d:call("GetItem", { TableName = "gf-none", Key = { pk = { S = "a" } } }) })
      local r, msg, code = d:call("Query", { TableName = table_name, IndexName = "byOwner",
        KeyConditionExpression = "owner = :o",
        ExpressionAttributeValues = { [":o"] = { S = "alice" } } })
      assert.is_nil(r)
      assert.equal("invalid_input", code)
      assert.matches("^dynamodb%.Query gfspec%-%d+: 400 ValidationException: .*reserved keyword: owner",
        msg)
    end)

    it("runs many calls concurrently from tasks", function()
      local items = {}
      for i = 1, 50 do items[i] = i end
      local results, failures = task.map(items, function(i)
        return assert(d:call("PutItem", { TableName = table_name,
          Item = { pk = { S = "many" }, sk = { N = tostring(i) } } }))
      end, { concurrency = 10 })
      assert.same({}, failures)
      assert.equal(50, #results)
      local qr = assert(d:call("Query", { TableName = table_name,
        KeyConditionExpression = "pk = :p", ExpressionAttributeValues = { [":p"] = { S = "many" } },
        Select = "COUNT" }))
      assert.equal(50, qr.Count)
    end)
  end)

  describe("Step Functions on stepfunctions-local", function()
    local sf

    setup(function()
      sf = awsjson.client({ service = "stepfunctions", endpoint = "http://127.0.0.1:19006",
        region = "us-east-1", credentials = CREDS })
    end)

    local function wait_status(arn)
      for _ = 1, 50 do
        local d = assert(sf:call("DescribeExecution", { executionArn = arn }))
        if d.status ~= "RUNNING" then return d end
        task.sleep(0.1)
      end
      error("execution still running")
    end

    it("creates a state machine, runs it and reads its history", function()
      local def = json.encode({ StartAt = "P", States = {
        P = { Type = "Pass", Result = { x = 1 }, ResultPath = "$.r", Next = "C" },
        C = { Type = "Choice", Choices = { { Variable = "$.a", NumericEquals = 2, Next = "S" } },
          Default = "F" },
        S = { Type = "Succeed" }, F = { Type = "Fail", Error = "Bad", Cause = "no" } } })
      local sm = assert(sf:call("CreateStateMachine", { name = "gf-sm-" .. uid(), definition = def,
        roleArn = "arn:aws:iam::123456789012:role/x" }))
      local ok = assert(sf:call("StartExecution", { stateMachineArn = sm.stateMachineArn,
        input = '{"a":2}' }))
      local d = wait_status(ok.executionArn)
      assert.equal("SUCCEEDED", d.status)
      assert.same({ a = 2, r = { x = 1 } }, json.decode(d.output))
      local h = assert(sf:call("GetExecutionHistory", { executionArn = ok.executionArn }))
      assert.equal("ExecutionStarted", h.events[1].type)
      assert.equal("ExecutionSucceeded", h.events[#h.events].type)
      local list = assert(sf:call("ListExecutions", { stateMachineArn = sm.stateMachineArn,
        statusFilter = "SUCCEEDED" }))
      assert.equal(1, #list.executions)
      assert.equal(ok.executionArn, list.executions[1].executionArn)
    end)

    it("works an activity task like a worker", function()
      local act = assert(sf:call("CreateActivity", { name = "gf-act-" .. uid() }))
      local def = json.encode({ StartAt = "T", States = {
        T = { Type = "Task", Resource = act.activityArn, End = true } } })
      local sm = assert(sf:call("CreateStateMachine", { name = "gf-asm-" .. uid(),
        definition = def, roleArn = "arn:aws:iam::123456789012:role/x" }))
      local ex = assert(sf:call("StartExecution", { stateMachineArn = sm.stateMachineArn,
        input = '{"job":7}' }))
      local t
      for _ = 1, 20 do
        t = assert(sf:call("GetActivityTask", { activityArn = act.activityArn, workerName = "gf" },
          { timeout = 70 }))
        if t.taskToken then break end
      end
      assert.same({ job = 7 }, json.decode(t.input))
      assert(sf:call("SendTaskSuccess", { taskToken = t.taskToken, output = '{"done":true}' }))
      local d = wait_status(ex.executionArn)
      assert.equal("SUCCEEDED", d.status)
      assert.same({ done = true }, json.decode(d.output))
    end)

    it("maps a missing execution to not_found", function()
      local arn = "arn:aws:states:us-east-1:123456789012:execution:nope:x"
      local r, msg, code = sf:call("DescribeExecution", { executionArn = arn })
      assert.is_nil(r)
      assert.equal("not_found", code)
      assert.equal("states.DescribeExecution " .. arn .. ": 400 ExecutionDoesNotExist", msg:sub(1,
        #("states.DescribeExecution " .. arn .. ": 400 ExecutionDoesNotExist")))
    end)
  end)

  describe("query protocol on fauxqs SNS", function()
    it("calls actions with flattened params and reads the result element", function()
      local c = query.client({ service = "sns", endpoint = "http://127.0.0.1:19001",
        region = "us-east-1", credentials = CREDS })
      local name = "gf-q-" .. uid()
      local r = assert(c:call("CreateTopic", { Name = name }))
      assert.equal("arn:aws:sns:us-east-1:000000000000:" .. name, r.TopicArn)
      local list, root = assert(c:call("ListTopics", {}))
      assert.equal("ListTopicsResponse", root.name)
      local found = false
      for _, t in ipairs(list.Topics) do
        if t.TopicArn == r.TopicArn then found = true end
      end
      assert.is_true(found)
      local _, msg, code = c:call("NoSuchAction", {})
      assert.equal("invalid_input", code)
      assert.matches("^sns%.NoSuchAction http://127%.0%.0%.1:19001: 400 ", msg)
    end)
  end)
end)
