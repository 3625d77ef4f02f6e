-- Helpers for the integration specs that need the test servers of spec/support/servers.sh
-- (the test command starts them and sets GF_TEST_SERVERS).
local M = {}

--- Credentials every test server accepts.
M.CREDS = { access_key = "test", secret_key = "test" }

--- Inside a describe block, `if servers.skip(_ENV) then return end`: when the servers are not
--- running, declare one pending test saying so (with the spec file's `it` and `pending`, which
--- live in its environment) and return true; otherwise false.
function M.skip(env)
  if os.getenv("GF_TEST_SERVERS") then return false end
  env.it("needs the test servers", function()
    env.pending("GF_TEST_SERVERS not set: run through spec/support/servers.sh run")
  end)
  return true
end

--- A suffix for queue, topic, table and bucket names that no other run uses.
function M.uid()
  return tostring(os.time()) .. tostring(math.random(100000, 999999))
end

return M
