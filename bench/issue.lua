-- wrk: issue tickets (取号) over HTTP with a kiosk token, round-robin over services.
--
-- With JH_DELAY_MS set, each connection waits on average that long between requests:
-- kiosks below saturation, so latency is the engine's own, not the queue a closed loop
-- builds in front of a saturated server. The waits are drawn at random (exponential, as
-- independent citizens arrive): fixed waits keep all connections in step and send them in
-- bursts.
local token = os.getenv("JH_TOKEN")
local hall = os.getenv("JH_HALL") or "bench"
local pause = tonumber(os.getenv("JH_DELAY_MS") or "")
local services = { "s1", "s2", "s3", "s4" }
local i = 0
local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
-- Each wrk thread has its own Lua state: seed each differently (a fresh table's address).
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
request = function()
  i = i + 1
  local body = '{"service":"' .. services[(i % #services) + 1] .. '"}'
  return wrk.format("POST", "/api/v1/halls/" .. hall .. "/tickets", headers, body)
end
if pause then
  delay = function()
    return math.floor(-pause * math.log(1 - math.random()))
  end
end
