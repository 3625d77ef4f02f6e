--- Collections `gfhost run regression` leaves out. Edit freely: no code changes needed.
--
-- names:   collection short names (the .cfg file name without .cfg), each with the reason
--          printed in the regression summary. Add a collection here when it must not be
--          backfilled by a regression run (e.g. one whose configuration is being reworked).
-- exclude: function(name, cfg, kind) -> reason | nil, called for every collection that is not
--          in `names`. cfg is the decoded forge-tig configuration, kind "forge", "tig",
--          "forge-py" or "all" (no --type). Return a string (or true) to leave it out.
--
-- The original tool had no list at all (its README says to "modify" the script); here the
-- defaults are empty names and a predicate that leaves out configurations the backfill could
-- not look up by name: missing the forge-tig schema's required keys, or whose shortName is
-- not the file name (the backfill fetches <collection>.cfg by the collection's short name).
local REQUIRED = { "shortName", "latVar", "lonVar", "is360" }

return {
  names = {
    -- ["SOME_COLLECTION-v1"] = "reason",
  },

  exclude = function(name, cfg)
    for _, k in ipairs(REQUIRED) do
      if cfg[k] == nil then return ("config has no %s"):format(k) end
    end
    if cfg.shortName ~= name then
      return ("config shortName %s is not the file name"):format(tostring(cfg.shortName))
    end
    return nil
  end,
}
