-- wrk script: a CertCentral GET with the X-DC-DEVKEY header. Usage:
--   DEVKEY=... CC_PATH='/services/v2/user?limit=100' wrk -t1 -c32 -d10s -s bench/wrk/cc_get.lua http://127.0.0.1:8080
local key = os.getenv("DEVKEY") or "bench-devkey"
local path = os.getenv("CC_PATH") or "/services/v2/user/me"
local req

function init(args)
  req = wrk.format("GET", path, { ["X-DC-DEVKEY"] = key })
end

function request()
  return req
end

local bad = 0
function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if bad == 1 then io.stderr:write("unexpected " .. status .. ": " .. body .. "\n") end
  end
end
