-- wrk script: POST /classify with bodies read from $WRK_BODIES (one JSON body per
-- line, sent round-robin); prints one "RESULT {json}" line with counts by status.
local bodies = {}
local next_body = 0
statuses = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("WRK_BODIES")) do
    bodies[#bodies + 1] = line
  end
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/classify", { ["Content-Type"] = "application/json" }, bodies[next_body])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(merged) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"duration_us": %d, "requests": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "statuses": {%s}}\n',
    summary.duration, summary.requests, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, table.concat(parts, ", ")))
end
