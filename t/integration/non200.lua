-- wrk script for the load tests: counts answers that are not 200. wrk's own
-- "Non-2xx or 3xx" line passes a 302, which is what a lost session gets.
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   non200 = 0
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
   end
end

function done(summary, latency, requests)
   local n = 0
   for _, t in ipairs(threads) do
      n = n + t:get("non200")
   end
   io.write(string.format("non-200 answers: %d\n", n))
end
