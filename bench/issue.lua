-- wrk: issue tickets (取号) over HTTP with a kiosk token, round-robin over services.
local token = os.getenv("JH_TOKEN")
local hall = os.getenv("JH_HALL") or "bench"
local services = { "s1", "s2", "s3", "s4" }
local i = 0
local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
request = function()
  i = i + 1
  local body = '{"service":"' .. services[(i % #services) + 1] .. '"}'
  return wrk.format("POST", "/api/v1/halls/" .. hall .. "/tickets", headers, body)
end
