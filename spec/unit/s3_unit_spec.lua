-- Request building and response parsing of gf.s3, gf.sqs, gf.sns and gf.awsjson, with
-- gf.http.request replaced by a scripted fake (the signer is the real gf.aws).
describe("AWS service clients #unit", function()
  local http = require("gf.http")
  local aws = require("gf.aws")
  local s3 = require("gf.s3")
  local sqs = require("gf.sqs")
  local sns = require("gf.sns")
  local awsjson = require("gf.awsjson")
  local query = require("gf.awsjson.query")
  local base = require("gf.awsjson.base")
  local json = require("gf.json")

  local SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
  local CREDS = { access_key = "AKIDEXAMPLE", secret_key = SECRET }
  local EP = "http://127.0.0.1:19999"
  local requests, replies

  -- Each reply is {status, body, headers} or a function(opts) -> response.
  local function script(list)
    replies = list
  end

  before_each(function()
    requests, replies = {}, {}
  end)

  local real_request = http.request
  setup(function()
    http.request = function(opts)
      requests[#requests + 1] = opts
      local r = table.remove(replies, 1)
      if type(r) == "function" then return r(opts) end
      if not r then error("no scripted reply for " .. tostring(opts.method) .. " " .. opts.url) end
      return { status = r[1], body = r[2] or "", headers = r[3] or {} }
    end
  end)
  teardown(function()
    http.request = real_request
  end)

  local function client(extra)
    local o = { endpoint = EP, credentials = CREDS, region = "us-east-1" }
    for k, v in pairs(extra or {}) do o[k] = v end
    return s3.client(o)
  end

  describe("s3 URLs and keys", function()
    it("parses s3:// URLs", function()
      assert.same({ "bkt", "a/b c.txt" }, { s3.parse_url("s3://bkt/a/b c.txt") })
      assert.same({ "bkt", "" }, { s3.parse_url("s3://bkt") })
      assert.same({ "bkt", "" }, { s3.parse_url("s3://bkt/") })
      assert.has_error(function() s3.parse_url("http://bkt/k") end)
      assert.has_error(function() s3.parse_url(42) end)
    end)

    it("encodes a key exactly once, keeping '/'", function()
      assert.equal("dir/a%20b%2Bc%3Dd%C3%BC~-_.txt", s3.encode_key("dir/a b+c=dü~-_.txt"))
      assert.equal("100%25%3F%23%26", s3.encode_key("100%?#&"))
    end)

    it("builds path-style URLs for custom endpoints and virtual-hosted ones for AWS", function()
      local c = client()
      assert.equal(EP .. "/bkt/a%20b/%2B.txt", c:object_url("bkt", "a b/+.txt"))
      assert.equal(EP .. "/bkt?list-type=2&prefix=a%20b%2F", c:object_url("bkt", "",
        { ["list-type"] = 2, prefix = "a b/" }))
      local a = s3.client({ credentials = CREDS, region = "us-west-2", endpoint = nil })
      if not a.endpoint:find("amazonaws") then return end -- AWS_ENDPOINT_URL set outside
      assert.equal("https://bkt.s3.us-west-2.amazonaws.com/k%201", a:object_url("bkt", "k 1"))
      assert.equal("https://s3.us-west-2.amazonaws.com/my.bkt/k", a:object_url("my.bkt", "k"))
    end)

    it("raises on unknown client options and bad types", function()
      assert.has_error(function() s3.client({ endpiont = EP }) end,
        "bad argument #1 to 'client' (unknown option 'endpiont')")
      assert.has_error(function() s3.client({ region = 3 }) end,
        "bad argument #1 to 'client' (region must be a string)")
      assert.has_error(function() s3.client({ part_size = 1024 }) end,
        "bad argument #1 to 'client' (part_size must be at least 5 MiB)")
      assert.has_error(function() s3.client("x") end,
        "bad argument #1 to 'client' (table expected, got string)")
    end)

    it("guesses a content type from the extension", function()
      assert.equal("text/csv", s3.content_type("a/b.CSV"))
      assert.equal("image/tiff", s3.content_type("x.tif"))
      assert.equal("application/octet-stream", s3.content_type("noext"))
    end)
  end)

  describe("s3 requests", function()
    it("signs a PUT with the body hash and always sends a Content-Type", function()
      script({ { 200, "", { etag = '"e1"' } } })
      local r = assert(client():put("s3://bkt/a b+c.bin", "hello"))
      assert.same({ etag = "e1" }, r)
      local q = requests[1]
      assert.equal("PUT", q.method)
      assert.equal(EP .. "/bkt/a%20b%2Bc.bin", q.url)
      assert.equal("hello", q.body)
      assert.equal("application/octet-stream", q.headers["content-type"])
      assert.equal(aws.sha256_hex("hello"), q.headers["x-amz-content-sha256"])
      assert.matches("^AWS4%-HMAC%-SHA256 Credential=AKIDEXAMPLE/%d+/us%-east%-1/s3/aws4_request, ",
        q.headers["authorization"])
      assert.matches("^%d+T%d+Z$", q.headers["x-amz-date"])
      for _, v in pairs(q.headers) do assert.is_nil(v:find(SECRET, 1, true)) end
    end)

    it("sends files with UNSIGNED-PAYLOAD, metadata and the given content type", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write("abc")
      f:close()
      script({ { 200, "", { etag = '"e2"' } } })
      assert(client():put("s3://bkt/k.csv", nil, { file = path, metadata = { Run = 7 },
        content_type = "text/plain" }))
      os.remove(path)
      local q = requests[1]
      assert.equal(path, q.body_file)
      assert.is_nil(q.body)
      assert.equal("UNSIGNED-PAYLOAD", q.headers["x-amz-content-sha256"])
      assert.equal("text/plain", q.headers["content-type"])
      assert.equal("7", q.headers["x-amz-meta-run"])
    end)

    it("rejects data and file together, and unknown put options", function()
      assert.has_error(function() client():put("s3://b/k", "x", { file = "/tmp/x" }) end,
        "bad argument #2 to 'put' (give either data or opts.file)")
      assert.has_error(function() client():put("s3://b/k", "x", { contenttype = "a" }) end,
        "bad argument #3 to 'put' (unknown option 'contenttype')")
      assert.has_error(function() client():put("s3://b/k", 5) end,
        "bad argument #2 to 'put' (string expected, got number)")
    end)

    it("turns S3 error bodies into nil, message, code", function()
      local nosuch = [[<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>k</Key></Error>]]
      script({
        { 404, nosuch },
        { 404, "" },
        { 403, "<Error><Code>InvalidAccessKeyId</Code><Message>bad key</Message></Error>" },
        { 503, "<Error><Code>SlowDown</Code><Message>Reduce</Message></Error>" },
        { 412, "<Error><Code>PreconditionFailed</Code><Message>At least one</Message></Error>" },
        { 500, "<Error><Code>InternalError</Code><Message>oops</Message></Error>" },
        { 400, "<Error><Code>InvalidArgument</Code><Message>a &amp; b</Message></Error>" },
        { 502, "bad gateway text" },
      })
      local c = client()
      assert.same({ nil, "s3.get s3://bkt/k: 404 NoSuchKey: The specified key does not exist.",
        "not_found" }, { c:get("s3://bkt/k") })
      assert.same({ nil, "s3.head s3://bkt/k: 404 NotFound", "not_found" }, { c:head("s3://bkt/k") })
      assert.same({ nil, "s3.delete s3://bkt/k: 403 InvalidAccessKeyId: bad key", "auth" },
        { c:delete("s3://bkt/k") })
      assert.same({ nil, "s3.get s3://bkt/k: 503 SlowDown: Reduce", "throttled" },
        { c:get("s3://bkt/k") })
      assert.same({ nil, "s3.put s3://bkt/k: 412 PreconditionFailed: At least one", "conflict" },
        { c:put("s3://bkt/k", "x", { if_none_match = "*" }) })
      assert.equal("*", requests[5].headers["if-none-match"])
      assert.same({ nil, "s3.get s3://bkt/k: 500 InternalError: oops", "service" },
        { c:get("s3://bkt/k") })
      assert.same({ nil, "s3.get s3://bkt/k: 400 InvalidArgument: a & b", "invalid_input" },
        { c:get("s3://bkt/k") })
      assert.same({ nil, "s3.get s3://bkt/k: 502 BadGateway: bad gateway text", "service" },
        { c:get("s3://bkt/k") })
    end)

    it("passes transport failures through with the operation named", function()
      script({ function() return nil, "http.request GET http://x/: connection refused", "network" end })
      assert.same({ nil, "s3.get s3://bkt/k: connection refused", "network" },
        { client():get("s3://bkt/k") })
    end)

    it("reads ranges and object metadata", function()
      script({ { 206, "ell", { ["content-length"] = "3", ["content-range"] = "bytes 1-3/5",
        etag = '"x"', ["x-amz-meta-k1"] = "v1", ["content-type"] = "text/plain" } } })
      local body, info = client():get("s3://bkt/k", { range = { 1, 3 } })
      assert.equal("ell", body)
      assert.equal("bytes=1-3", requests[1].headers.range)
      assert.equal(3, info.size)
      assert.equal(5, info.total_size)
      assert.equal("x", info.etag)
      assert.same({ k1 = "v1" }, info.metadata)
      assert.has_error(function() client():get("s3://bkt/k", { range = 5 }) end)
      assert.has_error(function() client():get("s3://bkt/k", { fiel = "x" }) end,
        "bad argument #2 to 'get' (unknown option 'fiel')")
      assert.has_error(function() client():get("s3://bkt/k", { file = "/tmp/x", sync = "no" }) end,
        "bad argument #2 to 'get' (sync must be a boolean, got string)")
    end)

    local function page(keys, token, prefixes)
      local p = { "<ListBucketResult><IsTruncated>", token and "true" or "false", "</IsTruncated>" }
      if token then p[#p + 1] = "<NextContinuationToken>" .. token .. "</NextContinuationToken>" end
      for _, k in ipairs(keys) do
        p[#p + 1] = ("<Contents><Key>%s</Key><Size>%d</Size><ETag>&quot;e&quot;</ETag>"
          .. "</Contents>"):format(k, #k)
      end
      for _, pr in ipairs(prefixes or {}) do
        p[#p + 1] = "<CommonPrefixes><Prefix>" .. pr .. "</Prefix></CommonPrefixes>"
      end
      p[#p + 1] = "</ListBucketResult>"
      return table.concat(p)
    end

    it("lists with continuation tokens, prefix, delimiter and a glob", function()
      script({ { 200, page({ "in/a_raw.csv", "in/b.txt" }, "tok/+=1", { "in/sub/" }) },
        { 200, page({ "in/c_raw.csv" }) } })
      local objs, prefixes = client():list("s3://bkt/in/*raw.csv", { delimiter = "/" })
      assert.same({ "in/a_raw.csv", "in/c_raw.csv" }, { objs[1].key, objs[2].key })
      assert.equal(2, #objs)
      assert.same({ key = "in/a_raw.csv", url = "s3://bkt/in/a_raw.csv", size = 12, etag = "e" },
        objs[1])
      assert.same({ "in/sub/" }, prefixes)
      assert.equal(EP .. "/bkt?delimiter=%2F&list-type=2&prefix=in%2F", requests[1].url)
      assert.equal(EP .. "/bkt?continuation-token=tok%2F%2B%3D1&delimiter=%2F&list-type=2"
        .. "&prefix=in%2F", requests[2].url)
    end)

    it("stops at a limit and reports a broken listing as a parse error", function()
      script({ { 200, page({ "a", "b", "c" }, "t") } })
      local objs = client():list("s3://bkt", { limit = 2 })
      assert.equal(2, #objs)
      assert.equal(1, #requests)
      script({ { 200, "<ListBucketResult>" } })
      assert.same({ nil, "s3.list s3://bkt/: not a complete ListBucketResult document", "parse" },
        { client():list("s3://bkt") })
      script({ { 200, "<Error><Code>InternalError</Code></Error>" } })
      assert.same({ nil, "s3.list s3://bkt/: not a complete ListBucketResult document", "parse" },
        { client():list("s3://bkt") })
      script({ { 200, "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>" } })
      assert.same({ nil, "s3.list s3://bkt/: Contents without a Key", "parse" },
        { client():list("s3://bkt") })
      script({ { 200, page({ "a &bogus; b" }) } })
      assert.same({ nil, "s3.list s3://bkt/: xml.unescape: unknown entity &bogus;", "parse" },
        { client():list("s3://bkt") })
    end)

    it("decodes escaped keys, including ones that spell markup", function()
      script({ { 200, page({ "a &amp; b", "x&lt;/Contents&gt;y", "&#x263A;" }, "t&amp;u",
        { "p&amp;q/" }) }, { 200, page({ "z" }) } })
      local objs, prefixes = client():list("s3://bkt")
      assert.same({ "a & b", "x</Contents>y", "\u{263A}", "z" },
        { objs[1].key, objs[2].key, objs[3].key, objs[4].key })
      assert.equal(4, #objs)
      assert.same({ key = "x</Contents>y", url = "s3://bkt/x</Contents>y", size = 19, etag = "e" },
        objs[2])
      assert.same({ "p&q/" }, prefixes)
      assert.equal(EP .. "/bkt?continuation-token=t%26u&list-type=2", requests[2].url)
    end)

    it("hands list_pages one page at a time, the last page of a limit included", function()
      script({ { 200, page({ "a", "b" }, "t") }, { 200, page({ "c", "d" }, "u") },
        { 200, page({ "e" }) } })
      local pages = {}
      assert.same({ true }, { client():list_pages("s3://bkt", { limit = 3 }, function(objs)
        local keys = {}
        for i, o in ipairs(objs) do keys[i] = o.key end
        pages[#pages + 1] = keys
      end) })
      assert.same({ { "a", "b" }, { "c" } }, pages)
      assert.equal(2, #requests)
      script({ { 200, page({ "a" }, "t") }, { 200, page({ "b" }) } })
      pages = {}
      assert.same({ true }, { client():list_pages("s3://bkt", nil, function(objs)
        pages[#pages + 1] = objs[1].key
        return false
      end) })
      assert.same({ "a" }, pages)
      assert.equal(3, #requests) -- 2 for the limited listing, 1 for this one
    end)

    it("deletes many keys 1000 per call and reports per-key errors", function()
      local keys = {}
      for i = 1, 2500 do keys[i] = ("k/%04d & <x>"):format(i) end
      script({ { 200, "<DeleteResult></DeleteResult>" },
        { 200, "<DeleteResult><Error><Key>k/1500 &amp; &lt;x&gt;</Key><Code>AccessDenied</Code>"
          .. "<Message>no</Message></Error></DeleteResult>" },
        { 500, "<Error><Code>InternalError</Code><Message>x</Message></Error>" } })
      local r = client():delete_many("s3://bkt", keys)
      assert.equal(3, #requests)
      assert.equal(EP .. "/bkt?delete", requests[1].url)
      local _, n = requests[1].body:gsub("<Object>", "")
      assert.equal(1000, n)
      assert.truthy(requests[1].body:find("<Key>k/0001 &amp; &lt;x&gt;</Key>", 1, true))
      assert.equal("application/xml", requests[1].headers["content-type"])
      local sum = requests[1].headers["x-amz-checksum-sha256"]
      assert.equal(44, #sum)
      assert.equal(1999, #r.deleted)
      assert.equal(501, #r.failed)
      assert.same({ key = "k/1500 & <x>", code = "auth",
        message = "s3.delete_many s3://bkt/k/1500 & <x>: AccessDenied: no" }, r.failed[1])
      assert.same({ key = "k/2001 & <x>", code = "service",
        message = "s3.delete_many s3://bkt: 500 InternalError: x" }, r.failed[2])
    end)

    it("copies with an encoded copy source and catches a 200 carrying an error", function()
      script({ { 200, "<CopyObjectResult><ETag>&quot;c1&quot;</ETag></CopyObjectResult>" },
        { 200, "<Error><Code>InternalError</Code><Message>copy failed</Message></Error>" } })
      local c = client()
      assert.same({ etag = "c1" }, c:copy("s3://src/a b+.txt", "s3://dst/x y.txt"))
      assert.equal("/src/a%20b%2B.txt", requests[1].headers["x-amz-copy-source"])
      assert.equal(EP .. "/dst/x%20y.txt", requests[1].url)
      assert.same({ nil, "s3.copy s3://src/k -> s3://dst/k: 500 InternalError: copy failed", "service" },
        { c:copy("s3://src/k", "s3://dst/k") })
    end)

    it("renames only after the copy is verified", function()
      local head = { ["content-length"] = "5", etag = '"e"' }
      script({ { 200, "", head }, { 200, "<CopyObjectResult/>" }, { 200, "", head }, { 204, "" } })
      assert.is_true(client():rename("s3://b/a", "s3://b/c"))
      assert.same({ "HEAD", "PUT", "HEAD", "DELETE" }, { requests[1].method, requests[2].method,
        requests[3].method, requests[4].method })
      requests = {}
      script({ { 200, "", head }, { 200, "<CopyObjectResult/>" },
        { 200, "", { ["content-length"] = "4", etag = '"f"' } } })
      assert.same({ nil, "s3.rename s3://b/a -> s3://b/c: copy does not match the source "
        .. "(size 4/5, etag f/e); source kept", "conflict" }, { client():rename("s3://b/a", "s3://b/c") })
      assert.equal(3, #requests)
    end)
  end)

  describe("sqs", function()
    local QURL = "http://sqs.us-east-1.localhost:19001/000000000000/q1"

    it("POSTs to the endpoint with QueueUrl in the JSON body", function()
      script({ { 200, '{"MessageId":"m1","MD5OfMessageBody":"x"}' } })
      local c = sqs.client({ endpoint = EP, credentials = CREDS })
      local r = c:send(QURL, "hello", { attributes = { s = "v", n = 3 }, delay = 2 })
      assert.same({ message_id = "m1", md5 = "x" }, r)
      local q = requests[1]
      assert.equal("POST", q.method)
      assert.equal(EP .. "/", q.url)
      assert.equal("AmazonSQS.SendMessage", q.headers["x-amz-target"])
      assert.equal("application/x-amz-json-1.0", q.headers["content-type"])
      assert.is_true(q.retry.retry_non_idempotent)
      assert.same({ QueueUrl = QURL, MessageBody = "hello", DelaySeconds = 2,
        MessageAttributes = { s = { DataType = "String", StringValue = "v" },
          n = { DataType = "Number", StringValue = "3" } } }, json.decode(q.body))
      assert.matches("/sqs/aws4_request", q.headers.authorization)
    end)

    it("splits batches into calls of 10 and maps entry results to indexes", function()
      local function ok_all(opts)
        local b = json.decode(opts.body)
        local s = {}
        for _, e in ipairs(b.Entries) do s[#s + 1] = { Id = e.Id, MessageId = "m" .. e.Id } end
        if b.Entries[1].Id == "11" then
          table.remove(s, 2)
          return { status = 200, headers = {}, body = json.encode({ Successful = s,
            Failed = { { Id = "12", Code = "InvalidMessageContents", Message = "bad",
              SenderFault = true } } }) }
        end
        return { status = 200, headers = {}, body = json.encode({ Successful = s }) }
      end
      script({ ok_all, ok_all })
      local entries = {}
      for i = 1, 12 do entries[i] = "b" .. i end
      local r = sqs.client({ endpoint = EP, credentials = CREDS }):send_batch(QURL, entries)
      assert.equal(2, #requests)
      assert.equal(10, #json.decode(requests[1].body).Entries)
      assert.equal(11, #r.successful)
      assert.same({ { index = 12, id = "12", code = "InvalidMessageContents", message = "bad",
        sender_fault = true } }, r.failed)
    end)

    it("returns the error tuple when every batch call fails", function()
      script({ { 400, '{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"}' } })
      assert.same({ nil, "sqs.send_batch " .. QURL .. ": 400 QueueDoesNotExist: gone", "not_found" },
        { sqs.client({ endpoint = EP, credentials = CREDS }):send_batch(QURL, { "a" }) })
    end)

    it("receives with long-poll timeout, attribute names and maps messages", function()
      script({ { 200, json.encode({ Messages = { { MessageId = "i", Body = "b", ReceiptHandle = "r",
        MD5OfBody = "m", Attributes = { ApproximateReceiveCount = "1" } } } }) } })
      local ms = sqs.client({ endpoint = EP, credentials = CREDS }):receive(QURL,
        { wait = 5, visibility = 30 })
      assert.same({ { id = "i", body = "b", receipt = "r", md5 = "m",
        attributes = { ApproximateReceiveCount = "1" }, message_attributes = {} } }, ms)
      local b = json.decode(requests[1].body)
      assert.same({ QueueUrl = QURL, MaxNumberOfMessages = 10, WaitTimeSeconds = 5,
        VisibilityTimeout = 30, AttributeNames = { "All" }, MessageAttributeNames = { "All" } }, b)
      assert.equal(35, requests[1].timeout)
      assert.has_error(function()
        sqs.client({ endpoint = EP, credentials = CREDS }):receive(QURL, { max = 11 })
      end, "max must be an integer in 1..10")
    end)

    it("resolves a queue name once and uses the x-amzn-query-error code", function()
      script({ { 200, '{"QueueUrl":"' .. QURL .. '"}' }, { 200, "{}" }, { 200, "{}" },
        { 400, "{}", { ["x-amzn-query-error"] = "AWS.SimpleQueueService.NonExistentQueue;Sender" } } })
      local c = sqs.client({ endpoint = EP, credentials = CREDS })
      assert.is_true(c:purge("q1"))
      assert.is_true(c:delete("q1", { receipt = "rh" }))
      assert.equal("AmazonSQS.GetQueueUrl", requests[1].headers["x-amz-target"])
      assert.same({ QueueUrl = QURL, ReceiptHandle = "rh" }, json.decode(requests[3].body))
      assert.same({ nil, "sqs.purge " .. QURL .. ": 400 AWS.SimpleQueueService.NonExistentQueue",
        "not_found" }, { c:purge(QURL) })
    end)
  end)

  describe("sns and query protocol", function()
    it("flattens nested params into query keys", function()
      assert.same({ ["A.member.1"] = "x", ["A.member.2"] = "y", ["B.C"] = "1", D = "true",
        ["E.member.1.F"] = "2.5" },
        query.flatten({ A = { "x", "y" }, B = { C = 1 }, D = true, E = { { F = 2.5 } } }))
      assert.has_error(function() query.flatten({ A = function() end }) end)
    end)

    it("publishes with form-encoded attributes and reads the MessageId", function()
      script({ { 200, "<PublishResponse><PublishResult><MessageId>mid</MessageId></PublishResult>"
        .. "</PublishResponse>" } })
      local c = sns.client({ endpoint = EP, credentials = CREDS })
      assert.equal("mid", c:publish("arn:t", "hi there & more", { subject = "s",
        attributes = { a = "b", n = 2 } }))
      local q = requests[1]
      assert.equal("application/x-www-form-urlencoded; charset=utf-8", q.headers["content-type"])
      assert.equal("Action=Publish&Message=hi%20there%20%26%20more&MessageAttributes.entry.1.Name=a"
        .. "&MessageAttributes.entry.1.Value.DataType=String"
        .. "&MessageAttributes.entry.1.Value.StringValue=b&MessageAttributes.entry.2.Name=n"
        .. "&MessageAttributes.entry.2.Value.DataType=Number"
        .. "&MessageAttributes.entry.2.Value.StringValue=2&Subject=s&TopicArn=arn%3At"
        .. "&Version=2010-03-31", q.body)
      assert.matches("/sns/aws4_request", q.headers.authorization)
    end)

    it("publishes batches of 10 and reports per-entry failures", function()
      local function reply(opts)
        local ids = {}
        for id in opts.body:gmatch("Entries%.member%.%d+%.Id=(%d+)") do ids[#ids + 1] = id end
        local s = { "<PublishBatchResponse><PublishBatchResult><Successful>" }
        for i, id in ipairs(ids) do
          if id ~= "3" then
            s[#s + 1] = ("<member><Id>%s</Id><MessageId>m%s</MessageId></member>"):format(id, i)
          end
        end
        s[#s + 1] = "</Successful><Failed>"
        if opts.body:find("Id=3&", 1, true) then
          s[#s + 1] = "<member><Id>3</Id><Code>InvalidParameter</Code><Message>bad</Message>"
            .. "<SenderFault>true</SenderFault></member>"
        end
        s[#s + 1] = "</Failed></PublishBatchResult></PublishBatchResponse>"
        return { status = 200, headers = {}, body = table.concat(s) }
      end
      script({ reply, reply })
      local entries = {}
      for i = 1, 11 do entries[i] = "m" .. i end
      local r = sns.client({ endpoint = EP, credentials = CREDS }):publish_batch("arn:t", entries)
      assert.equal(2, #requests)
      assert.equal(10, #r.successful)
      assert.same({ { index = 3, id = "3", code = "InvalidParameter", message = "bad",
        sender_fault = true } }, r.failed)
    end)

    it("validates topics through GetTopicAttributes", function()
      script({ { 200, "<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes><entry>"
        .. "<key>TopicArn</key><value>arn:t</value></entry></Attributes>"
        .. "</GetTopicAttributesResult></GetTopicAttributesResponse>" },
        { 404, "<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does "
          .. "not exist</Message></Error></ErrorResponse>" } })
      local c = sns.client({ endpoint = EP, credentials = CREDS })
      assert.same({ TopicArn = "arn:t" }, c:get_topic_attributes("arn:t"))
      assert.same({ nil, "sns.get_topic_attributes arn:x: 404 NotFound: Topic does not exist",
        "not_found" }, { c:validate_topic("arn:x") })
    end)
  end)

  describe("awsjson", function()
    it("uses JSON 1.1 and the target prefix for CloudWatch Logs", function()
      script({ { 200, '{"events":[]}' } })
      local c = awsjson.client({ service = "logs", endpoint = EP, credentials = CREDS })
      local r = c:call("FilterLogEvents", { logGroupName = "/aws/lambda/f" })
      assert.same({ events = {} }, r)
      assert.equal("Logs_20140328.FilterLogEvents", requests[1].headers["x-amz-target"])
      assert.equal("application/x-amz-json-1.1", requests[1].headers["content-type"])
      assert.matches("/logs/aws4_request", requests[1].headers.authorization)
    end)

    it("maps JSON error types and keeps empty params as {}", function()
      script({ { 400, '{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",'
        .. '"message":"The conditional request failed"}' },
        { 400, '{"__type":"ValidationException:http://internal","Message":"bad"}' },
        { 200, "" } })
      local c = awsjson.client({ service = "dynamodb", endpoint = EP, credentials = CREDS })
      assert.same({ nil, "dynamodb.PutItem T: 400 ConditionalCheckFailedException: The conditional "
        .. "request failed", "conflict" }, { c:call("PutItem", { TableName = "T" }) })
      assert.same({ nil, "states.StartExecution arn:sm: 400 ValidationException: bad",
        "invalid_input" }, { awsjson.call("stepfunctions", "StartExecution",
        { stateMachineArn = "arn:sm" }, { endpoint = EP, credentials = CREDS }) })
      assert.equal("AWSStepFunctions.StartExecution", requests[2].headers["x-amz-target"])
      assert.same({}, awsjson.call("dynamodb", "ListTables", {}, { endpoint = EP,
        credentials = CREDS }))
      assert.equal("{}", requests[3].body)
    end)

    it("raises for bad arguments", function()
      assert.has_error(function() awsjson.client({}) end,
        "bad argument #1 to 'client' (service expected)")
      local c = awsjson.client({ service = "dynamodb", endpoint = EP, credentials = CREDS })
      assert.has_error(function() c:call(nil, {}) end,
        "bad argument #1 to 'call' (string expected, got nil)")
      assert.has_error(function() c:call("PutItem", "x") end,
        "bad argument #2 to 'call' (table expected, got string)")
    end)

    it("classifies AWS codes and statuses", function()
      assert.equal("not_found", base.classify(400, "ResourceNotFoundException"))
      assert.equal("auth", base.classify(400, "ExpiredToken"))
      assert.equal("auth", base.classify(403, nil))
      assert.equal("throttled", base.classify(400, "ThrottlingException"))
      assert.equal("throttled", base.classify(429, nil))
      assert.equal("conflict", base.classify(400, "ConditionalCheckFailedException"))
      assert.equal("invalid_input", base.classify(400, "SomethingElse"))
      assert.equal("service", base.classify(500, "InternalFailure"))
    end)
  end)
end)
