-- Which optional native modules this build has (CMake options GF_WITH_GDAL, GF_WITH_AMQP,
-- GF_WITH_SERVER turn gf.raster + gf.grib, gf.amqp and gf.server off).
local M = {}

--- Is gf.<name>'s native core in this build?
function M.built(name)
  return (pcall(require, "gf." .. name .. ".core"))
end

--- Inside a describe block, `if features.skip_unless(_ENV, "raster") then return end`: when the
--- module is not built, declare one pending test saying so and return true.
function M.skip_unless(env, ...)
  for _, name in ipairs({ ... }) do
    if not M.built(name) then
      env.it("needs gf." .. name, function()
        env.pending("gf." .. name .. " is not in this build (a CMake option turned it off)")
      end)
      return true
    end
  end
  return false
end

return M
