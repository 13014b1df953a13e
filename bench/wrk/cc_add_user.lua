-- wrk script: CertCentral add-user (POST /services/v2/user) with a unique
-- username per request. Usage:
--   DEVKEY=... wrk -t1 -c32 -d10s -s bench/wrk/cc_add_user.lua http://127.0.0.1:8080
-- Each wrk thread gets its own prefix, so names never collide across
-- threads or runs (the prefix carries the start time).
local counter = 0
local prefix = ""
local key = os.getenv("DEVKEY") or "bench-devkey"
local thread_seq = 0

function setup(thread)
  thread_seq = thread_seq + 1
  thread:set("tid", thread_seq)
end

function init(args)
  prefix = string.format("ld%d-%d-", os.time(), tid or 0)
end

function request()
  counter = counter + 1
  local name = prefix .. counter
  local body = '{"username":"' .. name .. '","first_name":"Load","last_name":"User ' .. counter ..
    '","email":"' .. name .. '@example.test","access_roles":[{"id":5}]}'
  return wrk.format("POST", "/services/v2/user",
    { ["X-DC-DEVKEY"] = key, ["Content-Type"] = "application/json" }, body)
end

local bad = 0
function response(status, headers, body)
  if status ~= 201 then
    bad = bad + 1
    if bad == 1 then io.stderr:write("unexpected " .. status .. ": " .. body .. "\n") end
  end
end
