-- wrk script for scripts/bench-serving.sh: GET recommendations of random users (or items),
-- optionally paced to a target rate, counting non-2xx answers.
--   PATH_KIND=users|items  N_IDS=100000  WIDTH=6  RATE=0 (0: as fast as possible)  HOT=0  SEED=0
--   FIRST=0  SEQ=0  THREADS=1
-- Ids are zero-padded to WIDTH digits, as `attune bench model` writes them: the width of the
-- count (u000000..u099999 for 100,000 users, i00000..i49999 for 50,000 items).
local kind = os.getenv("PATH_KIND") or "users"
local app = os.getenv("APP") or "bench"
local n_ids = tonumber(os.getenv("N_IDS") or "100000")
local width = tonumber(os.getenv("WIDTH") or "6")
local rate = tonumber(os.getenv("RATE") or "0")
local hot = tonumber(os.getenv("HOT") or "0")
-- Runs with different SEEDs ask for different users (the same seed repeats the sequence, and
-- users asked for before are cached).
local seed = tonumber(os.getenv("SEED") or "0")
-- SEQ=1: every id of FIRST..FIRST+N_IDS-1 once, in order, split over the THREADS threads (no
-- repeats until the range is used up: a run of uncached requests really is uncached).
local first = tonumber(os.getenv("FIRST") or "0")
local seq = os.getenv("SEQ") == "1"
local n_threads = tonumber(os.getenv("THREADS") or "1")
local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

function init(args)
   math.randomseed(id * 7919 + seed * 104729)
   bad = 0
   n = 0
   local conns = tonumber(wrk.thread.connections or 1)
   -- Pace each connection so all of them together send RATE requests per second.
   pause = 0
   if rate > 0 then
      pause = 1000.0 * (tonumber(os.getenv("CONNECTIONS") or "1")) / rate
   end
end

-- Exponential gaps (a Poisson arrival process per connection): a constant pause keeps all
-- connections in step, so requests arrive in bursts of CONNECTIONS at once, which measures
-- the bursts rather than the rate.
function delay()
   if pause > 0 then return -pause * math.log(1 - math.random()) end
   return 0
end

function request()
   n = n + 1
   local pick
   if seq then
      pick = first + ((n - 1) * n_threads + (id - 1)) % n_ids
   elseif hot > 0 then
      pick = first + math.random(0, hot - 1)
   else
      pick = first + math.random(0, n_ids - 1)
   end
   local id = string.format("%0" .. width .. "d", pick)
   if kind == "items" then
      return wrk.format("GET", "/v1/items/i" .. id .. "/similar?n=10", {["x-attune-app"] = app})
   end
   return wrk.format("GET", "/v1/users/u" .. id .. "/recommendations?n=10", {["x-attune-app"] = app})
end

function response(status, headers, body)
   if status < 200 or status > 299 then bad = bad + 1 end
end

function done(summary, latency, requests)
   local failed = 0
   for _, t in ipairs(threads) do failed = failed + t:get("bad") end
   io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d non2xx=%d errors=%d\n",
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, summary.requests, failed,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
