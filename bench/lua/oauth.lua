-- wrk script for bench/compare.py: one workload per run, chosen by environment variables.
--
--   BENCH_MODE=refresh  POST BENCH_PATH with BENCH_BODY .. <refresh token>, chaining: every
--                       request presents a refresh token that an earlier response returned, and
--                       every token is presented once. The initial tokens (one per connection,
--                       from password grants made before the timed part) are read from the file
--                       BENCH_TOKENS, one per line, and dealt out to the threads.
--   BENCH_MODE=post     POST BENCH_PATH with the fixed form body BENCH_BODY.
--   BENCH_MODE=get      GET BENCH_PATH, with the header "Authorization: BENCH_AUTH" if set.
--
-- Any status other than 200 counts as an error. done() prints one line,
-- "BENCH_RESULT <json>", that compare.py parses.
--
-- wrk's Lua API has no connection identity, so chaining is per thread: a thread keeps the
-- tokens its responses returned in a stack, and its next request (from whichever of its
-- connections is ready) takes one. With as many threads as connections (--threads = --connections)
-- this is exactly "each connection presents the token its previous response returned"; with
-- fewer threads, a chain may move between the connections of one thread, which the server
-- cannot tell apart. Either way a token is never presented twice and never skipped.

local mode = os.getenv("BENCH_MODE") or "get"
local path = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY") or ""
local auth = os.getenv("BENCH_AUTH")
local tokens_file = os.getenv("BENCH_TOKENS")

local threads = {}
local next_thread_id = 0

function setup(thread)
  thread:set("id", next_thread_id)
  next_thread_id = next_thread_id + 1
  table.insert(threads, thread)
end

-- The initial tokens are dealt out by thread id: each thread reads the file in its own Lua
-- state (init) and keeps every BENCH_THREADS-th line, starting at its id.
local stack = {}
-- Globals, not locals: done() reads them from each thread with thread:get.
errors = 0
exhausted = 0
first_error = ""

local function form_escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  if mode == "refresh" then
    verify_call_pending = (id == 0)
    local f = assert(io.open(tokens_file, "r"))
    local i = 0
    for line in f:lines() do
      if line ~= "" then
        if i % nthreads == id then
          table.insert(stack, line)
        end
        i = i + 1
      end
    end
    f:close()
  else
    wrk.method = (mode == "post") and "POST" or "GET"
    wrk.path = path
    if mode == "post" then
      wrk.body = body
      wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    end
    if auth and auth ~= "" then
      wrk.headers["Authorization"] = auth
    end
  end
end

local refresh_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

if mode == "refresh" then
  -- A thread whose chains were all broken by errors would otherwise loop on failing requests
  -- as fast as the server refuses them; wait instead, so that errors do not crowd out the rest.
  function delay()
    if #stack == 0 then return 50 end
    return 0
  end

  -- wrk (4.1, src/wrk.c main) calls request() once on thread 0's Lua state, after init, to
  -- check the script (script_verify_request); that request is never sent, so it must not take
  -- a token. (Were it not made, thread 0's first request would carry "unsent" and count as an error.)
  -- (verify_call_pending is set in init, once the thread knows its id.)

  function request()
    if verify_call_pending then
      verify_call_pending = false
      return wrk.format("POST", path, refresh_headers, body .. "unsent")
    end
    local token = table.remove(stack)
    if token == nil then
      -- Every chain of this thread was broken by an error; this request fails and counts.
      exhausted = exhausted + 1
      token = "exhausted"
    end
    return wrk.format("POST", path, refresh_headers, body .. form_escape(token))
  end
end

function response(status, headers, resp_body)
  if status ~= 200 then
    errors = errors + 1
    if first_error == "" then
      first_error = tostring(status) .. " " .. string.sub(resp_body or "", 1, 200)
    end
    return
  end
  if mode == "refresh" then
    local token = string.match(resp_body, '"refresh_token"%s*:%s*"([^"]+)"')
    if token then
      table.insert(stack, token)
    else
      errors = errors + 1
      if first_error == "" then
        first_error = "200 without refresh_token: " .. string.sub(resp_body or "", 1, 200)
      end
    end
  end
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local errs, exh, first = 0, 0, ""
  for _, thread in ipairs(threads) do
    errs = errs + (thread:get("errors") or 0)
    exh = exh + (thread:get("exhausted") or 0)
    local f = thread:get("first_error") or ""
    if first == "" then first = f end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"non200":%d,"exhausted":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"first_error":%s}\n',
    summary.requests, summary.duration, errs, exh,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max,
    json_string(first)))
end
