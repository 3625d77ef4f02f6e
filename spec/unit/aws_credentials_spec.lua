-- gf.aws.credentials: the credentials chain, provider refresh, region and endpoint resolution.
-- Environment through the env seam, temp config files, a fake http function: no network.
local credentials = require("gf.aws.credentials")
local aws = require("gf.aws")
local paths = require("spec.support.paths")

local SECRETS = {} -- every secret used below; no message may contain one
local function secret(s)
  SECRETS[#SECRETS + 1] = s
  return s
end

local ENV_SK = secret("envSECRETenvSECRETenvSECRETenvSECRET0001")
local FILE_SK = secret("fileSECRETfileSECRETfileSECRETfile00002")
local SRC_SK = secret("srcSECRETsrcSECRETsrcSECRETsrcSECRET0003")
local ROLE_SK = secret("roleSECRETroleSECRETroleSECRETrole00004")
local ROLE_TOKEN = secret("FwoGZXIvYXdzEROLETOKEN+/=roleTOKEN0005")
local PROC_SK = secret("procSECRETprocSECRETprocSECRETproc00006")
local BOX_SK = secret("boxSECRETboxSECRETboxSECRETboxSECRET0007")
local IMDS_SK = secret("imdsSECRETimdsSECRETimdsSECRETimds00008")
local ENV_TOKEN = secret("envTOKENenvTOKENenvTOKEN0009")
local CONTAINER_AUTH = secret("containerAUTHtoken0010")

local messages = {} -- every message a failing call returned, checked at the end

local function failure(...)
  local r = table.pack(...)
  messages[#messages + 1] = tostring(r[2])
  return r
end

local write = require("spec.support.files").write

-- A fake gf.http.request: routes[i] = {method, pattern, fn(req) -> response | nil, msg, code}.
local function fake_http(routes)
  local calls = {}
  local function request(req)
    calls[#calls + 1] = req
    for _, r in ipairs(routes) do
      if req.method == r[1] and req.url:match(r[2]) then return r[3](req) end
    end
    return nil, "connect to " .. req.url .. " failed", "network"
  end
  return request, calls
end

local function no_network(req) return nil, "connect to " .. req.url .. " failed", "network" end

describe("gf.aws.credentials #unit", function()
  local dir, env

  before_each(function()
    dir = paths.tmpdir()
    env = { HOME = dir }
  end)

  after_each(function()
    os.execute("rm -rf " .. dir)
  end)

  local function opts(extra)
    local o = { env = env, http = no_network }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  describe("chain order", function()
    it("uses explicit credentials first", function()
      env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY = "AKENV", ENV_SK
      local c = credentials.resolve(opts({ access_key = "AKX", secret_key = "skx", session_token = "tok" }))
      assert.same({ access_key = "AKX", secret_key = "skx", session_token = "tok", source = "explicit" }, c)
      assert.has_error(function() credentials.resolve(opts({ access_key = "AKX" })) end,
        "gf.aws.credentials: access_key and secret_key must both be strings")
    end)

    it("reads CHTC style key files, trimmed", function()
      write(dir .. "/ak", "  AKFILE\n")
      write(dir .. "/sk", FILE_SK .. "\n\n")
      env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY = "AKENV", ENV_SK
      local c = credentials.resolve(opts({ access_key_file = dir .. "/ak", secret_key_file = dir .. "/sk" }))
      assert.same({ access_key = "AKFILE", secret_key = FILE_SK, source = "files" }, c)
      local r = failure(credentials.resolve(opts({ access_key_file = dir .. "/ak",
        secret_key_file = dir .. "/missing" })))
      assert.same({ n = 3, nil, "aws credentials: cannot read secret_key_file: " .. dir
        .. "/missing: No such file or directory", "io" }, r)
      assert.has_error(function() credentials.resolve(opts({ access_key_file = dir .. "/ak" })) end,
        "gf.aws.credentials: access_key_file and secret_key_file go together")
    end)

    it("reads the environment, with the session token", function()
      env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN = "AKENV", ENV_SK, ENV_TOKEN
      assert.same({ access_key = "AKENV", secret_key = ENV_SK, session_token = ENV_TOKEN, source = "env" },
        credentials.resolve(opts()))
      env.AWS_SESSION_TOKEN = ""
      assert.is_nil(credentials.resolve(opts()).session_token)
    end)

    it("accepts a getenv function instead of an env table", function()
      local c = credentials.resolve({ http = no_network, getenv = function(k)
        return ({ AWS_ACCESS_KEY_ID = "AKF", AWS_SECRET_ACCESS_KEY = ENV_SK, HOME = dir })[k]
      end })
      assert.equal("AKF", c.access_key)
    end)

    it("reads the default profile, or AWS_PROFILE's, from the credentials file", function()
      write(dir .. "/creds", "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = " .. FILE_SK
        .. "\n\n# comment\n[work]\naws_access_key_id=AKWORK\naws_secret_access_key=" .. FILE_SK
        .. "\naws_session_token = wtok\n")
      env.AWS_SHARED_CREDENTIALS_FILE = dir .. "/creds"
      assert.same({ access_key = "AKDEF", secret_key = FILE_SK, source = "profile" }, credentials.resolve(opts()))
      env.AWS_PROFILE = "work"
      assert.same({ access_key = "AKWORK", secret_key = FILE_SK, session_token = "wtok", source = "profile" },
        credentials.resolve(opts()))
    end)

    it("lets env win over AWS_PROFILE but not over an explicit profile (as the CLI)", function()
      write(dir .. "/creds", "[work]\naws_access_key_id = AKWORK\naws_secret_access_key = " .. FILE_SK .. "\n")
      env.AWS_SHARED_CREDENTIALS_FILE = dir .. "/creds"
      env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_PROFILE = "AKENV", ENV_SK, "work"
      assert.equal("AKENV", credentials.resolve(opts()).access_key)
      assert.equal("AKWORK", credentials.resolve(opts({ profile = "work" })).access_key)
    end)

    it("fails for a named profile that does not exist", function()
      env.AWS_SHARED_CREDENTIALS_FILE, env.AWS_CONFIG_FILE = dir .. "/c", dir .. "/f"
      local r = failure(credentials.resolve(opts({ profile = "nope" })))
      assert.same({ n = 3, nil, "aws credentials: profile 'nope' not found in " .. dir .. "/c or "
        .. dir .. "/f", "auth" }, r)
    end)

    it("reports what it tried when nothing is found", function()
      local http, calls = fake_http({})
      local r = failure(credentials.resolve(opts({ http = http })))
      assert.same({ n = 3, nil,
        "aws credentials: none found (tried: explicit, env, profile 'default', container, instance)",
        "auth" }, r)
      assert.equal(1, #calls) -- only the IMDS token PUT, with short timeouts and no retries
      assert.same({ "PUT", "http://169.254.169.254/latest/api/token", 1, false },
        { calls[1].method, calls[1].url, calls[1].timeout, calls[1].retry })
      env.AWS_PROFILE = "ci"
      env.AWS_EC2_METADATA_DISABLED = "true"
      write(dir .. "/creds", "[ci]\nregion = x\n")
      env.AWS_SHARED_CREDENTIALS_FILE = dir .. "/creds"
      http, calls = fake_http({})
      r = failure(credentials.resolve(opts({ http = http })))
      assert.same({ n = 3, nil,
        "aws credentials: none found (tried: explicit, env, profile 'ci', container, instance)", "auth" }, r)
      assert.equal(0, #calls)
    end)
  end)

  describe("config file", function()
    it("parses [profile x] sections, comments and nested settings", function()
      local ini = credentials._parse_ini("[default]\nregion = eu-west-1 # trailing\n; c\n[profile a]\n"
        .. "s3 =\n  endpoint_url = http://x\n  addressing_style = path\nregion=us-west-2\n")
      assert.same({ default = { region = "eu-west-1" },
        ["profile a"] = { s3 = { endpoint_url = "http://x", addressing_style = "path" }, region = "us-west-2" } }, ini)
    end)

    it("runs credential_process and reads Version 1 JSON with Expiration", function()
      write(dir .. "/config", "[profile proc]\ncredential_process = /opt/get-creds --role x\n")
      env.AWS_CONFIG_FILE = dir .. "/config"
      local ran
      local function run(cmd)
        ran = cmd
        return '{"Version": 1, "AccessKeyId": "AKPROC", "SecretAccessKey": "' .. PROC_SK
          .. '", "SessionToken": "ptok", "Expiration": "2030-01-02T03:04:05Z"}', true, 0
      end
      local c = credentials.resolve(opts({ profile = "proc", run = run }))
      assert.equal("/opt/get-creds --role x", ran)
      assert.same({ access_key = "AKPROC", secret_key = PROC_SK, session_token = "ptok",
                    expiration = 1893553445, source = "process" }, c)
    end)

    it("runs a real credential_process command", function()
      write(dir .. "/config", "[default]\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":\"AKP\","
        .. "\"SecretAccessKey\":\"" .. PROC_SK .. "\"}'\n")
      env.AWS_CONFIG_FILE = dir .. "/config"
      assert.same({ access_key = "AKP", secret_key = PROC_SK, source = "process" }, credentials.resolve(opts()))
      write(dir .. "/config", "[default]\ncredential_process = sh -c 'echo " .. PROC_SK .. "; exit 3'\n")
      local r = failure(credentials.resolve(opts()))
      assert.same({ n = 3, nil, "aws credentials: credential_process of profile 'default' failed (exit 3)", "auth" }, r)
    end)

    it("rejects bad credential_process output without echoing it", function()
      write(dir .. "/config", "[default]\ncredential_process = x\n")
      env.AWS_CONFIG_FILE = dir .. "/config"
      local function out(s) return function() return s, true, 0 end end
      assert.same({ n = 3, nil, "aws credentials: credential_process of profile 'default': unsupported Version 2", "parse" },
        failure(credentials.resolve(opts({ run = out('{"Version":2,"AccessKeyId":"A","SecretAccessKey":"' .. PROC_SK .. '"}') }))))
      assert.same({ n = 3, nil, "aws credentials: credential_process of profile 'default' printed no JSON object", "parse" },
        failure(credentials.resolve(opts({ run = out(PROC_SK) }))))
      assert.same({ n = 3, nil, "aws credentials: credential_process of profile 'default': AccessKeyId/SecretAccessKey "
        .. "missing or bad Expiration", "parse" },
        failure(credentials.resolve(opts({ run = out('{"Version":1,"AccessKeyId":"A","SecretAccessKey":"' .. PROC_SK
          .. '","Expiration":"soon"}') }))))
    end)

    it("reports SSO profiles as unsupported", function()
      write(dir .. "/config", "[profile sso]\nsso_session = corp\n")
      env.AWS_CONFIG_FILE = dir .. "/config"
      local r = failure(credentials.resolve(opts({ profile = "sso" })))
      assert.equal("invalid_input", r[3])
      assert.matches("profile 'sso' uses SSO", r[2])
    end)
  end)

  describe("assume role", function()
    local STS_OK = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"
      .. "<Credentials><AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>" .. ROLE_SK .. "</SecretAccessKey>"
      .. "<SessionToken>" .. ROLE_TOKEN .. "</SessionToken><Expiration>2030-01-01T00:00:00.123Z</Expiration>"
      .. "</Credentials></AssumeRoleResult></AssumeRoleResponse>"

    before_each(function()
      write(dir .. "/creds", "[src]\naws_access_key_id = AKSRC\naws_secret_access_key = " .. SRC_SK .. "\n")
      write(dir .. "/config", "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\n"
        .. "source_profile = src\nrole_session_name = ci-run\nexternal_id = ext&1\nregion = us-west-2\n"
        .. "[profile chained]\nrole_arn = arn:aws:iam::123456789012:role/second\nsource_profile = deploy\n"
        .. "[profile loop1]\nrole_arn = arn:x:1\nsource_profile = loop2\n"
        .. "[profile loop2]\nrole_arn = arn:x:2\nsource_profile = loop1\n"
        .. "[profile envrole]\nrole_arn = arn:x:3\ncredential_source = Environment\n")
      env.AWS_SHARED_CREDENTIALS_FILE, env.AWS_CONFIG_FILE = dir .. "/creds", dir .. "/config"
    end)

    it("calls STS AssumeRole signed with the source profile's keys", function()
      local http, calls = fake_http({ { "POST", "^https://sts%.us%-west%-2%.amazonaws%.com/$",
        function() return { status = 200, headers = {}, body = STS_OK } end } })
      local c = credentials.resolve(opts({ profile = "deploy", http = http, now = function() return 1700000000 end }))
      assert.same({ access_key = "ASIAROLE", secret_key = ROLE_SK, session_token = ROLE_TOKEN,
                    expiration = 1893456000, source = "assume-role" }, c)
      assert.equal(1, #calls)
      local req = calls[1]
      assert.equal("Action=AssumeRole&ExternalId=ext%261&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeploy"
        .. "&RoleSessionName=ci-run&Version=2011-06-15", req.body)
      assert.equal("application/x-www-form-urlencoded; charset=utf-8", req.headers["Content-Type"])
      assert.equal("20231114T221320Z", req.headers["X-Amz-Date"])
      -- The signature is the one gf.aws.sign computes for that request with the source keys.
      local want = aws.sign({ method = "POST", url = req.url, body = req.body,
        headers = { ["Content-Type"] = req.headers["Content-Type"] } },
        { access_key = "AKSRC", secret_key = SRC_SK }, { region = "us-west-2", service = "sts", time = 1700000000 })
      assert.equal(want.Authorization, req.headers.Authorization)
    end)

    it("chains roles and detects source_profile loops", function()
      local n = 0
      local http, calls = fake_http({ { "POST", "sts", function()
        n = n + 1
        return { status = 200, body = STS_OK:gsub("ASIAROLE", "ASIA" .. n) }
      end } })
      local c = credentials.resolve(opts({ profile = "chained", http = http }))
      assert.equal("ASIA2", c.access_key)
      assert.equal(2, #calls)
      assert.matches("ASIA1/", calls[2].headers.Authorization) -- second call signed with the first role
      assert.matches("RoleArn=arn%%3Aaws%%3Aiam%%3A%%3A123456789012%%3Arole%%2Fsecond", calls[2].body)
      assert.equal("https://sts.us-east-1.amazonaws.com/", calls[2].url)
      local r = failure(credentials.resolve(opts({ profile = "loop1", http = http })))
      assert.same({ n = 3, nil, "aws credentials: profile 'loop2': source_profile loop", "invalid_input" }, r)
    end)

    it("uses credential_source = Environment", function()
      env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY = "AKENV", ENV_SK
      local http, calls = fake_http({ { "POST", "sts", function() return { status = 200, body = STS_OK } end } })
      assert.equal("ASIAROLE", credentials.resolve(opts({ profile = "envrole", http = http })).access_key)
      assert.matches("Credential=AKENV/", calls[1].headers.Authorization)
    end)

    it("turns an STS error into a message with the AWS code", function()
      local http = fake_http({ { "POST", "sts", function()
        return { status = 403, body = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
          .. "<Message>User: arn:aws:iam::1:user/x is not authorized to perform: sts:AssumeRole</Message></Error>"
          .. "</ErrorResponse>" }
      end } })
      local r = failure(credentials.resolve(opts({ profile = "deploy", http = http })))
      assert.same({ n = 3, nil, "aws credentials: sts AssumeRole arn:aws:iam::123456789012:role/deploy (profile "
        .. "'deploy'): 403 AccessDenied: User: arn:aws:iam::1:user/x is not authorized to perform: sts:AssumeRole",
        "auth" }, r)
      r = failure(credentials.resolve(opts({ profile = "deploy", http = no_network })))
      assert.same({ n = 3, nil, "aws credentials: sts AssumeRole arn:aws:iam::123456789012:role/deploy (profile "
        .. "'deploy'): connect to https://sts.us-west-2.amazonaws.com/ failed", "network" }, r)
    end)
  end)

  describe("container and instance", function()
    local DOC = '{"AccessKeyId":"ASIABOX","SecretAccessKey":"' .. BOX_SK
      .. '","Token":"btok","Expiration":"2030-01-01T00:00:00Z","RoleArn":"arn:x"}'

    it("reads ECS container credentials with the authorization token", function()
      env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI = "/v2/credentials/abc"
      env.AWS_CONTAINER_AUTHORIZATION_TOKEN = CONTAINER_AUTH
      local http, calls = fake_http({ { "GET", "^http://169%.254%.170%.2/v2/credentials/abc$",
        function() return { status = 200, body = DOC } end } })
      assert.same({ access_key = "ASIABOX", secret_key = BOX_SK, session_token = "btok", expiration = 1893456000,
                    source = "container" }, credentials.resolve(opts({ http = http })))
      assert.equal(CONTAINER_AUTH, calls[1].headers.Authorization)
    end)

    it("accepts FULL_URI on loopback or https only, and a token file", function()
      write(dir .. "/tok", CONTAINER_AUTH .. "\n")
      env.AWS_CONTAINER_CREDENTIALS_FULL_URI = "http://127.0.0.1:9911/creds"
      env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = dir .. "/tok"
      local http, calls = fake_http({ { "GET", "9911", function() return { status = 200, body = DOC } end } })
      assert.equal("ASIABOX", credentials.resolve(opts({ http = http })).access_key)
      assert.equal(CONTAINER_AUTH, calls[1].headers.Authorization)
      env.AWS_CONTAINER_CREDENTIALS_FULL_URI = "http://example.com/creds"
      local r = failure(credentials.resolve(opts({ http = http })))
      assert.same({ n = 3, nil, "aws credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a "
        .. "loopback/ECS/EKS address", "invalid_input" }, r)
      env.AWS_CONTAINER_CREDENTIALS_FULL_URI = "http://127.0.0.1:9911/creds"
      http = fake_http({ { "GET", "9911", function() return { status = 500, body = BOX_SK } end } })
      r = failure(credentials.resolve(opts({ http = http })))
      assert.same({ n = 3, nil, "aws credentials: container endpoint: HTTP 500", "auth" }, r)
    end)

    it("reads EC2 instance credentials through IMDSv2", function()
      local http, calls = fake_http({
        { "PUT", "/latest/api/token$", function(req)
          assert.equal("21600", req.headers["X-aws-ec2-metadata-token-ttl-seconds"])
          return { status = 200, body = "IMDSTOKEN" }
        end },
        { "GET", "/security%-credentials/$", function() return { status = 200, body = "my-role\n" } end },
        { "GET", "/security%-credentials/my%-role$", function()
          return { status = 200, body = '{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDS",'
            .. '"SecretAccessKey":"' .. IMDS_SK .. '","Token":"itok","Expiration":"2030-01-01T00:00:00Z"}' }
        end } })
      local c = credentials.resolve(opts({ http = http }))
      assert.same({ access_key = "ASIAIMDS", secret_key = IMDS_SK, session_token = "itok", expiration = 1893456000,
                    source = "instance" }, c)
      assert.equal(3, #calls)
      assert.equal("IMDSTOKEN", calls[2].headers["X-aws-ec2-metadata-token"])
      assert.equal("IMDSTOKEN", calls[3].headers["X-aws-ec2-metadata-token"])
      env.AWS_EC2_METADATA_SERVICE_ENDPOINT = "http://[fd00:ec2::254]/"
      http, calls = fake_http({})
      credentials.resolve(opts({ http = http }))
      assert.equal("http://[fd00:ec2::254]/latest/api/token", calls[1].url)
    end)
  end)

  describe("provider", function()
    it("caches and refreshes 5 minutes before expiration", function()
      local t = 1000000
      local n = 0
      local fail_next = false
      local function run()
        if fail_next then return "", false, 1 end
        n = n + 1
        return ('{"Version":1,"AccessKeyId":"AK%d","SecretAccessKey":"%s","Expiration":"%s"}')
          :format(n, PROC_SK, os.date("!%Y-%m-%dT%H:%M:%SZ", t + 3600)), true, 0
      end
      write(dir .. "/config", "[default]\ncredential_process = x\n")
      env.AWS_CONFIG_FILE = dir .. "/config"
      local p = credentials.provider(opts({ run = run, now = function() return t end }))
      assert.equal("AK1", p:get().access_key)
      local exp = t + 3600
      t = exp - 301
      assert.equal("AK1", p:get().access_key) -- still fresh
      t = exp - 299
      assert.equal("AK2", p:get().access_key) -- refreshed early
      t = t + 3600 - 310
      fail_next = true
      local c = p:get()                         -- refresh fails, but AK2 has not expired yet
      assert.equal("AK2", c.access_key)
      t = c.expiration
      local r = failure(p:get())
      assert.same({ n = 3, nil, "aws credentials: credential_process of profile 'default' failed (exit 1)", "auth" }, r)
      fail_next = false
      assert.equal("AK3", p:get().access_key)
      p:invalidate()
      assert.equal("AK4", p:get().access_key)
    end)

    it("never refreshes credentials without expiration", function()
      local calls = 0
      local p = credentials.provider({ getenv = function(k)
        calls = calls + 1
        return ({ AWS_ACCESS_KEY_ID = "AK", AWS_SECRET_ACCESS_KEY = ENV_SK })[k]
      end })
      p:get()
      local after = calls
      for _ = 1, 5 do assert.equal("AK", p:get().access_key) end
      assert.equal(after, calls)
    end)
  end)

  describe("region", function()
    it("resolves opts, AWS_REGION, AWS_DEFAULT_REGION, profile, us-east-1 in that order", function()
      write(dir .. "/config", "[default]\nregion = eu-central-1\n[profile other]\nregion = ap-south-1\n")
      env.AWS_CONFIG_FILE = dir .. "/config"
      assert.equal("eu-central-1", credentials.region(opts()))
      assert.equal("ap-south-1", credentials.region(opts({ profile = "other" })))
      env.AWS_DEFAULT_REGION = "us-west-1"
      assert.equal("us-west-1", credentials.region(opts()))
      env.AWS_REGION = "us-west-2"
      assert.equal("us-west-2", credentials.region(opts()))
      assert.equal("ca-central-1", credentials.region(opts({ region = "ca-central-1" })))
      env.AWS_CONFIG_FILE = dir .. "/none"
      env.AWS_REGION, env.AWS_DEFAULT_REGION = nil, nil
      assert.equal("us-east-1", credentials.region(opts()))
      assert.equal("us-east-1", aws.region({ env = env }))
    end)
  end)

  describe("endpoint", function()
    it("uses the AWS defaults with path_style false", function()
      env.AWS_REGION = "eu-west-1"
      assert.same({ "https://s3.eu-west-1.amazonaws.com", false }, { credentials.endpoint("s3", opts()) })
      assert.same({ "https://sqs.eu-west-1.amazonaws.com", false }, { credentials.endpoint("sqs", opts()) })
      assert.same({ "https://logs.eu-west-1.amazonaws.com", false }, { credentials.endpoint("cloudwatch_logs", opts()) })
      assert.same({ "https://logs.eu-west-1.amazonaws.com", false }, { credentials.endpoint("logs", opts()) })
      assert.same({ "https://states.eu-west-1.amazonaws.com", false }, { credentials.endpoint("sfn", opts()) })
      assert.same({ "https://dynamodb.cn-north-1.amazonaws.com.cn", false },
        { credentials.endpoint("dynamodb", opts({ region = "cn-north-1" })) })
    end)

    it("prefers override, AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, then the profile", function()
      write(dir .. "/config", "[default]\nendpoint_url = http://profile:1/\nservices = local\n"
        .. "[services local]\nsqs =\n  endpoint_url = http://svc-sqs:2\n")
      env.AWS_CONFIG_FILE = dir .. "/config"
      assert.same({ "http://svc-sqs:2", true }, { credentials.endpoint("sqs", opts()) })
      assert.same({ "http://profile:1", true }, { credentials.endpoint("s3", opts()) })
      env.AWS_ENDPOINT_URL = "http://127.0.0.1:19000/"
      assert.same({ "http://127.0.0.1:19000", true }, { credentials.endpoint("s3", opts()) })
      env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = "http://logs:3"
      env.AWS_ENDPOINT_URL_SFN = "http://sfn:4"
      assert.same({ "http://logs:3", true }, { credentials.endpoint("logs", opts()) })
      assert.same({ "http://sfn:4", true }, { credentials.endpoint("sfn", opts()) })
      assert.same({ "http://127.0.0.1:19000", true }, { credentials.endpoint("dynamodb", opts()) })
      assert.same({ "http://x:9", true }, { credentials.endpoint("sfn", opts({ endpoint = "http://x:9/" })) })
      env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = "true"
      assert.same({ "https://states.us-east-1.amazonaws.com", false }, { credentials.endpoint("sfn", opts()) })
      assert.same({ "https://sqs.us-east-1.amazonaws.com", false }, { aws.endpoint("sqs", opts()) })
      assert.has_error(function() credentials.endpoint(nil, opts()) end,
        "bad argument #1 to 'endpoint' (service name expected)")
    end)
  end)

  describe("helpers", function()
    it("parses ISO 8601 times", function()
      assert.equal(1700000000, credentials._parse_time("2023-11-14T22:13:20Z"))
      assert.equal(1700000000, credentials._parse_time("2023-11-14T22:13:20.999Z"))
      assert.equal(1700000000, credentials._parse_time("2023-11-15T00:13:20+02:00"))
      assert.is_nil(credentials._parse_time("tomorrow"))
    end)

    it("decodes the JSON documents with gf.json", function()
      assert.same({ a = "x\"y\nz€", b = { 1, 2.5, true, require("gf.json").null }, c = {} },
        credentials._json_decode('{"a":"x\\"y\\nz\\u20ac","b":[1,2.5,true,null],"c":{}} '))
      assert.is_nil(credentials._json_decode('{"a":1} x'))
      assert.is_nil(credentials._json_decode('"str"'))
    end)
  end)

  it("never puts a secret in a message", function()
    assert.is_true(#messages >= 12)
    for _, m in ipairs(messages) do
      for _, s in ipairs(SECRETS) do
        assert.is_nil(m:find(s, 1, true), "secret in: " .. m)
      end
    end
  end)
end)

describe("gf.aws credentials facade #unit", function()
  it("returns a provider from aws.credentials and a table from resolve_credentials", function()
    local env = { AWS_ACCESS_KEY_ID = "AKFACADE", AWS_SECRET_ACCESS_KEY = "s", HOME = "/nonexistent" }
    local p = aws.credentials({ env = env })
    assert.equal("AKFACADE", p:get().access_key)
    assert.same({ access_key = "AKFACADE", secret_key = "s", source = "env" },
      aws.resolve_credentials({ env = env }))
  end)
end)
