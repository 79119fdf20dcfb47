-- wrk: issue tickets like bench/issue.lua, but each connection waits JH_DELAY_MS between
-- requests: kiosks at a steady pace below saturation, so latency is the engine's own,
-- not the queue a closed loop builds in front of a saturated server.
local token = os.getenv("JH_TOKEN")
local hall = os.getenv("JH_HALL") or "bench"
local pause = tonumber(os.getenv("JH_DELAY_MS") or "100")
local services = { "s1", "s2", "s3", "s4" }
local i = 0
local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
request = function()
  i = i + 1
  local body = '{"service":"' .. services[(i % #services) + 1] .. '"}'
  return wrk.format("POST", "/api/v1/halls/" .. hall .. "/tickets", headers, body)
end
delay = function()
  return pause
end
