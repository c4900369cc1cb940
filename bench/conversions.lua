-- POSTs a new sale per request: each external_id unique (run id, thread, counter).
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  prefix = (os.getenv("BENCH_RUN") or tostring(os.time())) .. "-" .. tid
  counter = 0
  key = os.getenv("BENCH_KEY") or ""
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"kind":"sale","external_id":"%s-%d","amount":"1999.90","partner":"BENCH1","customer_external_id":"c-%s-%d"}',
    prefix, counter, prefix, counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
