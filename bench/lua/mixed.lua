-- The mixed workload (like Online Boutique's and the OpenTelemetry demo's load generators):
-- for every order, ten browsing requests (menu, types, my orders), as a browser sends them.
-- THINK_MS="lo,hi" makes each connection a user who waits a uniform lo..hi ms between
-- requests (wrk's delay(); the latency it reports excludes the wait). Without it, no wait.
local token = os.getenv("TOKEN")
local think = os.getenv("THINK_MS")
local lo, hi = 0, 0
if think and think ~= "" then lo, hi = think:match("(%d+),(%d+)"); lo, hi = tonumber(lo), tonumber(hi) end
local n = 0
local me = tostring({}):gsub("table: ", "")
init = function() math.randomseed(os.time() + tonumber(me:sub(-6), 16)) end
local browse = {"/menu/", "/menu/types/", "/menu/?categ=Chicken", "/order/myorder/?limit=10", "/order/branch/"}
request = function()
  n = n + 1
  local h = {["Authorization"] = "Bearer " .. token, ["Accept-Encoding"] = "gzip, deflate, br"}
  if n % 11 == 0 then
    h["Content-Type"] = "application/json"
    h["Idempotency-Key"] = string.format("mixed-%d-%s-%d", os.time(), me, n)
    local branches = {"gangnam", "hongdae", "jamsil", "pangyo", "haeundae"}
    return wrk.format("POST", "/order/", h, string.format(
      '{"bran_id":"%s","items":[{"pizza_id":"hawaiian_m","quantity":1}]}', branches[math.floor(n / 11) % 5 + 1]))
  end
  return wrk.format("GET", browse[(n % #browse) + 1], h)
end
if hi > 0 then delay = function() return math.random(lo, hi) end end
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
