-- The mixed workload (like Online Boutique's and the OpenTelemetry demo's load generators):
-- for every order, ten browsing requests (menu, types, my orders).
local token = os.getenv("TOKEN")
local n = 0
local browse = {"/menu/", "/menu/types/", "/menu/?categ=Chicken", "/order/myorder/?limit=10", "/order/branch/"}
request = function()
  n = n + 1
  local auth = {["Authorization"] = "Bearer " .. token}
  if n % 11 == 0 then
    auth["Content-Type"] = "application/json"
    return wrk.format("POST", "/order/", auth,
      '{"bran_id":"hongdae","items":[{"pizza_id":"hawaiian_m","quantity":1}]}')
  end
  return wrk.format("GET", browse[(n % #browse) + 1], auth)
end
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
