-- gf.amqp without a broker: URL parsing, argument checks, a refused connection.
local amqp = require("gf.amqp")

describe("gf.amqp.parse_url", function()
  it("reads every part and defaults the rest", function()
    local u = assert(amqp.parse_url("amqp://user:p%40ss@broker.example:5673/vh%2f1?heartbeat=10"))
    assert.same({ scheme = "amqp", host = "broker.example", port = 5673, user = "user",
      password = "p@ss", vhost = "vh/1", tls = false, query = { heartbeat = "10" } }, u)
    u = assert(amqp.parse_url("amqps://h"))
    assert.equal(5671, u.port)
    assert.is_true(u.tls)
    assert.equal("guest", u.user)
    assert.equal("guest", u.password)
    assert.equal("/", u.vhost)
    assert.equal(5672, assert(amqp.parse_url("AMQP://h")).port)
  end)

  it("follows RabbitMQ's URI spec for the vhost, but reads a bare '/' as pika does", function()
    assert.equal("/", assert(amqp.parse_url("amqp://h:1")).vhost)
    assert.equal("/", assert(amqp.parse_url("amqp://h:1/")).vhost)
    assert.equal("/", assert(amqp.parse_url("amqp://h:1/?heartbeat=600")).vhost)
    assert.equal("/", assert(amqp.parse_url("amqp://h:1/%2F")).vhost)
    assert.equal("prod", assert(amqp.parse_url("amqp://h:1/prod")).vhost)
  end)

  it("takes a user without password and IPv6 literals", function()
    local u = assert(amqp.parse_url("amqp://alice@[::1]:19010"))
    assert.equal("alice", u.user)
    assert.equal("guest", u.password)
    assert.equal("::1", u.host)
    assert.equal(19010, u.port)
  end)

  it("refuses what is not an AMQP URL", function()
    for _, bad in ipairs({ "http://h", "h:5672", "amqp://", "amqp://h:/", "amqp://h:0",
      "amqp://h:70000", "amqp://h/a/b", "amqp://u:p@" }) do
      local u, err = amqp.parse_url(bad)
      assert.is_nil(u, bad)
      assert.matches("^gf%.amqp: ", err)
    end
    assert.has_error(function() amqp.parse_url(nil) end,
      "bad argument #1 to 'parse_url' (string expected, got nil)")
  end)
end)

describe("gf.amqp.connect arguments", function()
  it("raises on misuse, naming the argument", function()
    assert.has_error(function() amqp.connect(42) end,
      "bad argument #1 to 'connect' (string expected, got number)")
    assert.has_error(function() amqp.connect("amqp://h", { hearbeat = 5 }) end,
      "gf.amqp.connect: unknown option 'hearbeat'")
    assert.has_error(function() amqp.connect("amqp://h", { heartbeat = "5" }) end,
      "gf.amqp.connect: option 'heartbeat' must be a number")
    assert.has_error(function() amqp.connect("amqp://h", { heartbeat = 1.5 }) end,
      "gf.amqp: heartbeat must be whole seconds between 0 and 65535")
    assert.has_error(function() amqp.connect("amqp://h", { timeout = 0 }) end,
      "gf.amqp: timeout must be positive")
    assert.has_error(function() amqp.connect("ftp://h") end,
      "gf.amqp: unsupported scheme 'ftp' (amqp or amqps)")
  end)

  it("returns nil, msg, 'network' when nothing listens", function()
    -- 19017 is in the RabbitMQ range of spec/support/rabbitmq.sh and never opened
    local c, err, code = amqp.connect("amqp://guest:guest@127.0.0.1:19017", { timeout = 5 })
    assert.is_nil(c)
    assert.equal("network", code)
    assert.matches("cannot connect to 127%.0%.0%.1:19017", err)
  end)

  it("never puts the password in an error message", function()
    local _, err = amqp.connect("amqp://guest:s3cr3t-pw@127.0.0.1:19017", { timeout = 5 })
    assert.is_nil(err:find("s3cr3t-pw", 1, true))
  end)
end)
