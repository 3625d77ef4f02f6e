--- datamart_gaps' comparison: per model and forecast hour, the expected files of a day, those
-- the listener recorded, those the object store holds.
local M = {}

--- compare(files, recorded, stored) -> rows, totals
-- files: expected.files(); recorded: function(relpath) -> bool; stored: function(file) -> bool
-- or nil (store not consulted). rows: {model, hour, expected, recorded, stored, missing = {..}}
-- in config order of first appearance.
function M.compare(files, recorded, stored)
  local rows, by = {}, {}
  local totals = { expected = 0, recorded = 0, stored = stored and 0 or nil }
  for _, f in ipairs(files) do
    local id = f.model .. "\0" .. f.hour
    local r = by[id]
    if not r then
      r = { model = f.model, hour = f.hour, expected = 0, recorded = 0, stored = stored and 0 or nil,
        not_recorded = {}, not_stored = {} }
      by[id] = r
      rows[#rows + 1] = r
    end
    r.expected = r.expected + 1
    totals.expected = totals.expected + 1
    if recorded(f.relpath) then
      r.recorded = r.recorded + 1
      totals.recorded = totals.recorded + 1
    else
      r.not_recorded[#r.not_recorded + 1] = f.file
    end
    if stored then
      if stored(f.file) then
        r.stored = r.stored + 1
        totals.stored = totals.stored + 1
      else
        r.not_stored[#r.not_stored + 1] = f.file
      end
    end
  end
  table.sort(rows, function(a, b)
    if a.model ~= b.model then return a.model < b.model end
    return tonumber(a.hour) < tonumber(b.hour)
  end)
  return rows, totals
end

--- gap(row) -> true when something of the row is missing
function M.gap(row)
  return row.recorded < row.expected or (row.stored ~= nil and row.stored < row.expected)
end

return M
