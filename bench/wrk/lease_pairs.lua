-- POST /v1/leases then DELETE /v1/leases/{id}: create and cancel, so the farm never fills up.
-- wrk's request() does not say which connection asks, so each wrk thread keeps a FIFO of the
-- lease ids its 201 answers carried; its next request cancels the oldest one, and creates a
-- lease only when none is waiting. Creates and cancels stay one to one, and at most about one
-- lease per connection is open at a time (well under the demo farm's 128 RTX 3090s).
local c = dofile(os.getenv("RIGSHIFT_WRK_DIR") .. "/common.lua")
setup = c.setup
done = c.done

wrk.headers["Content-Type"] = "application/json"
local body = os.getenv("RIGSHIFT_LEASE_BODY") or '{"gpus":1,"models":["RTX 3090"],"hours":1}'
local queue, head, tail = {}, 1, 0

function request()
  if head <= tail then
    local id = queue[head]
    queue[head] = nil
    head = head + 1
    c.add("sent_delete")
    return wrk.format("DELETE", "/v1/leases/" .. id, nil, nil)
  end
  c.add("sent_post")
  return wrk.format("POST", "/v1/leases", nil, body)
end

function response(status, headers, body)
  c.count(status)
  if status == 201 then
    local id = (headers["Location"] or headers["location"] or ""):match("/(%d+)$") or body:match('"id":(%d+)')
    if id then
      tail = tail + 1
      queue[tail] = id
    else
      c.add("201_without_id")
    end
    if body:find('"state":"pending"', 1, true) then c.add("created_pending") else c.add("created_running") end
  elseif status == 200 then
    if body:find('"state":"cancelled"', 1, true) then c.add("cancelled") else c.add("cancel_other_state") end
  end
end
