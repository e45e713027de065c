-- wrk request generator for benchmarks/ingest_bench.py: unique pings from many devices.
-- args: mode (native | osmand | batch), devices file ("device_id token" lines), base epoch ms
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local devices, mode, base, n, id = {}, "native", 0, 0, 0

function init(args)
  mode, base = args[1], tonumber(args[3])
  id = wrk.thread:get("id")
  for line in io.lines(args[2]) do
    local device, token = line:match("(%S+) (%S+)")
    devices[#devices + 1] = { device, token }
  end
end

local function position(k)
  return 22.55 + (k % 97) * 0.0001, 114.05 + (k % 89) * 0.0001
end

function request()
  n = n + 1
  local d = devices[(n * 2 + id) % #devices + 1]
  local ts = base + n * 2 + id -- unique per thread and request: no duplicates
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
        base + (n * 2 + id) * 500 + k, blat, blon)
    end
    return wrk.format("POST", "/v1/pings", headers, '{"pings":[' .. table.concat(items, ",") .. "]}")
  end
  local body = string.format('{"ts":%d,"lat":%.6f,"lon":%.6f,"accuracy_m":10}', ts, lat, lon)
  return wrk.format("POST", "/v1/pings", headers, body)
end
