-- wrk script for the sidecar: POST /v1/acquire over many tenants, and POST /v1/record (success) for every permit
-- received (a thread's connections share a queue of permits to record, so none is lost). Refusals (429/503) count as completed requests; `done` prints how many.
-- Pacing: with WRK_DELAY_MS set, each connection waits that long between requests (an open-loop-ish rate of
-- connections / delay; plain wrk has no fixed-rate mode).

local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  permits = {}
  n = 0
  refused = 0
  errors = 0
  tenants = tonumber(os.getenv("WRK_TENANTS") or "1000")
  pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
  wrk.headers["Content-Type"] = "application/json"
end

function delay()
  return pause
end

function request()
  local permit = table.remove(permits)
  if permit then
    return wrk.format("POST", "/v1/record", nil, '{"permit":"' .. permit .. '","outcome":"success"}')
  end
  n = n + 1
  local tenant = (id * 7919 + n) % tenants
  return wrk.format("POST", "/v1/acquire", nil, '{"integration":"bench","tenant":"t' .. tenant .. '"}')
end

function response(status, headers, body)
  if status == 200 then
    local p = body:match('"permit":"([^"]+)"')
    if p then table.insert(permits, p) end
  elseif status == 429 or status == 503 then
    if refused == 0 and os.getenv("WRK_SHOW_REFUSAL") then print(status, body) end
    refused = refused + 1
  else
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local r, e = 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("refused")
    e = e + t:get("errors")
  end
  io.write(string.format("refused %d, other errors %d\n", r, e))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%s %.3f ms\n", p, latency:percentile(p) / 1000))
  end
end
