-- An entry's fence in the run hash, "<n>:<i>,<i>,...": the n items a worker took from it (claim
-- writes it, a retry takes its item out, requeue reads it).
local function sw_fence_items(value)
  local list = {}
  for i in string.gmatch(string.match(value or '', ':(.*)$') or '', '%d+') do list[#list + 1] = i end
  return list
end

local function sw_fence_value(list)
  return #list .. ':' .. table.concat(list, ',')
end
