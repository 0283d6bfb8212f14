-- POST /v1/leases only. Once the farm is full every new lease is `pending`; run the server with a
-- large --max-pending, or the answers turn into 429s. Tallies the statuses and lease states.
local c = dofile(os.getenv("RIGSHIFT_WRK_DIR") .. "/common.lua")
setup = c.setup
done = c.done

wrk.method = "POST"
wrk.path = "/v1/leases"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("RIGSHIFT_LEASE_BODY") or '{"gpus":1,"models":["RTX 3090"],"hours":1}'

function response(status, headers, body)
  c.count(status)
  if status == 201 then
    if body:find('"state":"pending"', 1, true) then c.add("created_pending") else c.add("created_running") end
  end
end
