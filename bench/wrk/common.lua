-- Shared by the wrk scripts of bench/server_load.sh: the bearer token, a status tally per wrk
-- thread, and a done() that prints machine-readable "RESULT" lines the shell script parses.
-- Loaded with dofile(os.getenv("RIGSHIFT_WRK_DIR") .. "/common.lua") in every Lua state wrk makes
-- (one per thread plus the main one).
local M = {}

local token = os.getenv("RIGSHIFT_TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end

-- Per-thread globals; done() reads them from each thread with thread:get().
statuses = {}   -- HTTP status -> responses (only where the script defines response())
counters = {}   -- script-specific: requests sent per method, lease states seen, ...

function M.count(status) statuses[status] = (statuses[status] or 0) + 1 end
function M.add(name, n) counters[name] = (counters[name] or 0) + (n or 1) end

local threads = {}
function M.setup(thread) table.insert(threads, thread) end

local function merge(into, from)
  if type(from) ~= "table" then return end
  for k, v in pairs(from) do into[k] = (into[k] or 0) + v end
end

function M.done(summary, latency, requests)
  local tally, extra = {}, {}
  for _, t in ipairs(threads) do
    merge(tally, t:get("statuses"))
    merge(extra, t:get("counters"))
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  local out = {}
  local function line(...) out[#out + 1] = "RESULT " .. table.concat({...}, " ") end
  line("requests", string.format("%d", summary.requests))
  line("duration_s", string.format("%.3f", seconds))
  line("rps", string.format("%.1f", seconds > 0 and summary.requests / seconds or 0))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    line("p" .. tostring(p) .. "_us", string.format("%d", latency:percentile(p)))
  end
  line("mean_us", string.format("%.0f", latency.mean))
  line("max_us", string.format("%d", latency.max))
  line("errors", string.format("connect=%d read=%d write=%d timeout=%d http_4xx_5xx=%d",
                               e.connect, e.read, e.write, e.timeout, e.status))
  local keys = {}
  for k in pairs(tally) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do line("status", tostring(k), string.format("%d", tally[k])) end
  keys = {}
  for k in pairs(extra) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do line("counter", k, string.format("%d", extra[k])) end
  io.write(table.concat(out, "\n") .. "\n")
end

return M
