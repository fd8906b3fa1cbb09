-- wrk script: POST /classify (or $WRK_PATH) with bodies read from $WRK_BODIES (one JSON body per
-- line, sent round-robin); prints one "RESULT {json}" line with counts by status
-- and by the X-Model-Version that answered. $WRK_HEADERS: extra "Name: value" lines.
-- $WRK_STAMP=1: each request's X-Request-ID is the monotonic microsecond it was
-- written, which the server echoes, so the latency of the 200s is told apart from
-- the refusals' (wrk's own percentiles mix every answer): ok_p50_us, ok_p99_us,
-- ok_max_us, other_p99_us in the RESULT line.
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } wrk_timespec;
int clock_gettime(int clock, wrk_timespec *ts);
]])
local clock = ffi.new("wrk_timespec")
local CLOCK_MONOTONIC = 1
local BUCKET_US = 100 -- latencies are counted in buckets of 0.1 ms
local stamp = os.getenv("WRK_STAMP") == "1"
local bodies = {}
local next_body = 0
local path = os.getenv("WRK_PATH") or "/classify"
local headers = { ["Content-Type"] = "application/json" }
for line in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then
    headers[name] = value
  end
end
statuses = {}
models = {}
ok_latency = {} -- bucket -> count, for the 200s (when stamped)
other_latency = {} -- the same for every other status
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("WRK_BODIES")) do
    bodies[#bodies + 1] = line
  end
end

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000000 + math.floor(tonumber(clock.tv_nsec) / 1000)
end

function request()
  next_body = next_body % #bodies + 1
  if stamp then
    headers["X-Request-ID"] = string.format("%d", now_us())
  end
  return wrk.format("POST", path, headers, bodies[next_body])
end

local function count_latency(status, headers)
  local sent = tonumber(headers["x-request-id"] or headers["X-Request-ID"] or "")
  if not sent then
    return
  end
  local bucket = math.floor((now_us() - sent) / BUCKET_US)
  local counts = status == 200 and ok_latency or other_latency
  counts[bucket] = (counts[bucket] or 0) + 1
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if stamp then
    count_latency(status, headers)
  end
  local model = headers["x-model-version"] or headers["X-Model-Version"]
  if model then
    models[model] = (models[model] or 0) + 1
  end
end

local function as_json(counts, quote)
  local parts = {}
  for key, n in pairs(counts) do
    parts[#parts + 1] = string.format(quote, key, n)
  end
  return table.concat(parts, ", ")
end

-- The bucket's upper bound (us) below which a share ``q`` of the counts fall.
local function percentile(counts, q)
  local keys, total = {}, 0
  for bucket, n in pairs(counts) do
    keys[#keys + 1] = bucket
    total = total + n
  end
  if total == 0 then
    return -1
  end
  table.sort(keys)
  local seen = 0
  for _, bucket in ipairs(keys) do
    seen = seen + counts[bucket]
    if seen >= q * total then
      return (bucket + 1) * BUCKET_US
    end
  end
  return (keys[#keys] + 1) * BUCKET_US
end

local function merge(into, counts)
  for bucket, n in pairs(counts) do
    into[bucket] = (into[bucket] or 0) + n
  end
end

function done(summary, latency, requests)
  local merged, by_model, ok, other = {}, {}, {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + n
    end
    for model, n in pairs(thread:get("models")) do
      by_model[model] = (by_model[model] or 0) + n
    end
    merge(ok, thread:get("ok_latency"))
    merge(other, thread:get("other_latency"))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"duration_us": %d, "requests": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "statuses": {%s}, ' ..
    '"models": {%s}, "ok_p50_us": %d, "ok_p99_us": %d, "ok_max_us": %d, "other_p99_us": %d}\n',
    summary.duration, summary.requests, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, as_json(merged, '"%d": %d'), as_json(by_model, '"%s": %d'),
    percentile(ok, 0.5), percentile(ok, 0.99), percentile(ok, 1.0), percentile(other, 0.99)))
end
