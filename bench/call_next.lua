-- wrk: call-next (顺呼) over the hall's windows with a gateway token. Each wrk thread keeps
-- to its own share of the windows, as each window has its own keypad in a hall; bench/run.py
-- runs one thread with one connection per window, so a window never calls twice at once.
local token = os.getenv("JH_TOKEN")
local hall = os.getenv("JH_HALL") or "bench"
local windows = tonumber(os.getenv("JH_WINDOWS") or "40")
local threads = tonumber(os.getenv("JH_THREADS") or "2")
-- With fewer windows than threads each thread still gets one.
local per = math.max(math.floor(windows / threads), 1)
local started = 0
local i = 0
local headers = { ["Authorization"] = "Bearer " .. token }
setup = function(thread)
  thread:set("first", started * per)
  started = started + 1
end
response = function(status, headers, body)
  if status >= 300 and not reported then
    reported = true
    io.stderr:write("call-next " .. status .. ": " .. body .. "\n")
  end
end
request = function()
  i = i + 1
  local window = (first or 0) + (i % per) + 1
  return wrk.format("POST", "/api/v1/halls/" .. hall .. "/windows/" .. window .. "/call-next", headers, "")
end
