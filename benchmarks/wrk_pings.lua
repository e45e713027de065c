-- wrk request generator for benchmarks/ingest_bench.py: unique pings from many devices.
-- args: mode (native | osmand | batch), devices file ("device_id token" lines), base epoch ms,
-- and for a paced load (ws_latency): the wait before each request of a connection in ms (0:
-- not paced), and how far a device's fix time advances per request (so fix times follow the
-- wall clock); "once" after those: each device once, then stop (a fleet's caches warmed)
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local devices, mode, base, n, id = {}, "native", 0, 0, 0
local pause_ms, step_ms = nil, 1
local answered, share = 0, nil

function init(args)
  mode, base = args[1], tonumber(args[3])
  if args[4] and tonumber(args[4]) > 0 then
    pause_ms = tonumber(args[4])
    -- wrk looks for delay() after init(): defined only here, a closed-loop run has no timers
    delay = function() return pause_ms end
  end
  if args[5] then
    step_ms = tonumber(args[5])
  end
  id = wrk.thread:get("id")
  for line in io.lines(args[2]) do
    local device, token = line:match("(%S+) (%S+)")
    devices[#devices + 1] = { device, token }
  end
  if args[6] == "once" then
    -- the two threads take alternate devices (request()): each answers for half of them
    share = math.ceil(#devices / 2)
    response = function()
      answered = answered + 1
      if answered >= share then
        wrk.thread:stop()
      end
    end
  end
end

local function position(k)
  return 22.55 + (k % 97) * 0.0001, 114.05 + (k % 89) * 0.0001
end

function request()
  n = n + 1
  -- request g of the run goes to device g mod D as that device's request g div D. Fix times
  -- only have to be unique per device, so they advance per device: one clock for all would
  -- run 500 ms ahead per batch and pass the 300 s clock-skew limit after ~840 batches (the
  -- server then rejects every ping, capping "stored" near 430k pings per run)
  local g = n * 2 + id
  local d = devices[g % #devices + 1]
  local j = math.floor(g / #devices)
  local ts = base + j * step_ms
  local lat, lon = position(n)
  if mode == "osmand" then
    local path = string.format("/osmand/%s?id=%s&lat=%.6f&lon=%.6f&timestamp=%d&accuracy=10",
      d[2], d[1], lat, lon, ts)
    return wrk.format("POST", path, {}, "")
  end
  local headers = { ["Authorization"] = "Bearer " .. d[2], ["Content-Type"] = "application/json" }
  if mode == "batch" then
    local items = {}
    for k = 1, 500 do
      local blat, blon = position(n + k)
      items[k] = string.format('{"ts":%d,"lat":%.6f,"lon":%.6f,"accuracy_m":10}',
        base + j * 500 + k, blat, blon)
    end
    return wrk.format("POST", "/v1/pings", headers, '{"pings":[' .. table.concat(items, ",") .. "]}")
  end
  local body = string.format('{"ts":%d,"lat":%.6f,"lon":%.6f,"accuracy_m":10}', ts, lat, lon)
  return wrk.format("POST", "/v1/pings", headers, body)
end
