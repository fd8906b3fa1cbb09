-- wrk script: POST /classify (or $WRK_PATH) with bodies read from $WRK_BODIES (one JSON body per
-- line, sent round-robin); prints one "RESULT {json}" line with counts by status
-- and by the X-Model-Version that answered. $WRK_HEADERS: extra "Name: value" lines.
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
  return wrk.format("POST", path, headers, bodies[next_body])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
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

function done(summary, latency, requests)
  local merged, by_model = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + n
    end
    for model, n in pairs(thread:get("models")) do
      by_model[model] = (by_model[model] or 0) + n
    end
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"duration_us": %d, "requests": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "statuses": {%s}, ' ..
    '"models": {%s}}\n',
    summary.duration, summary.requests, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, as_json(merged, '"%d": %d'), as_json(by_model, '"%s": %d')))
end
