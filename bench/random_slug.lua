-- bench/random_slug.lua - wrk asks for a random stored slug on each request.
--
--   wrk -s bench/random_slug.lua URL -- PREFIX LINKS
--
-- Each request is GET PREFIX..sNNNNNNN with NNNNNNN drawn uniformly from
-- 1..LINKS (the slugs bench/run.sh stores); LINKS = 0 asks for PREFIX
-- itself every time (mod_alias's single Redirect).
--
-- The requests are drawn in init(), before wrk starts its clock, as wrk's
-- SCRIPTING advises: request() then only takes the next one, which costs
-- the same for every contender, fixed path or not.  Each thread draws its
-- own POOL requests and goes round them; at the rates seen here a 5-second
-- round barely goes round once.
--
-- done() prints one machine-readable line for bench/run.sh:
--   wrk-result REQUESTS DURATION_US P50_US P99_US STATUS_ERRORS SOCKET_ERRORS

local POOL = 131072

local threads = 0

function setup(thread)
    -- A different random sequence in each thread.
    threads = threads + 1
    thread:set("thread_number", threads)
end

local requests, next_request = {}, 0

function init(args)
    local prefix = args[1] or "/"
    local links = tonumber(args[2] or "0")
    math.randomseed(os.time() * 100 + (thread_number or 0))
    -- wrk.format adds the Host header (and any -H): split its output around
    -- a marker path once, then only concatenate.
    local sample = wrk.format("GET", prefix .. "\0")
    local at = sample:find("\0", 1, true)
    local head, tail = sample:sub(1, at - 1), sample:sub(at + 1)
    for i = 1, POOL do
        if links == 0 then
            requests[i] = head .. tail
        else
            requests[i] = head .. string.format("s%07d", math.random(links)) .. tail
        end
    end
end

function request()
    next_request = next_request % POOL + 1
    return requests[next_request]
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("wrk-result %d %d %d %d %d %d\n",
        summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(99),
        e.status, e.connect + e.read + e.write + e.timeout))
end
