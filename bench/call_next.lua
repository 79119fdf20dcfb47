-- wrk: call-next (顺呼) round-robin over the hall's windows with a gateway token.
local token = os.getenv("JH_TOKEN")
local hall = os.getenv("JH_HALL") or "bench"
local windows = tonumber(os.getenv("JH_WINDOWS") or "40")
local i = 0
local headers = { ["Authorization"] = "Bearer " .. token }
setup = function(thread)
  thread:set("offset", math.random(0, windows - 1))
end
request = function()
  i = i + 1
  local window = ((i + (offset or 0)) % windows) + 1
  return wrk.format("POST", "/api/v1/halls/" .. hall .. "/windows/" .. window .. "/call-next", headers, "")
end
