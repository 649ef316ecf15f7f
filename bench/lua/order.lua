-- POST /order/ with 1-3 lines and a unique Idempotency-Key (env TOKEN), at a branch picked
-- from BRANCHES (comma-separated; default the five): order numbers make one branch's orders
-- commit one after another, so the spread is what a platform of branches sees.
local token = os.getenv("TOKEN")
local branches = {}
for b in (os.getenv("BRANCHES") or "gangnam,hongdae,jamsil,pangyo,haeundae"):gmatch("[^,]+") do
  branches[#branches + 1] = b
end
local pizzas = {"bbq_ckn_s", "bbq_ckn_m", "bbq_ckn_l", "hawaiian_m", "the_greek_l", "cali_ckn_s", "five_cheese_l"}
local counter = 0
-- Each wrk thread has its own Lua state: a fresh table's address tells them apart.
local me = tostring({}):gsub("table: ", "")
init = function() math.randomseed(os.time() + tonumber(me:sub(-6), 16)) end
request = function()
  counter = counter + 1
  local n = math.random(1, 3)
  local items, used = {}, {}
  while #items < n do
    local p = pizzas[math.random(#pizzas)]
    if not used[p] then
      used[p] = true
      items[#items + 1] = string.format('{"pizza_id":"%s","quantity":%d}', p, math.random(1, 3))
    end
  end
  local body = string.format('{"bran_id":"%s","items":[%s]}',
    branches[math.random(#branches)], table.concat(items, ","))
  return wrk.format("POST", "/order/", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = string.format("bench-%d-%s-%d", os.time(), me, counter),
  }, body)
end
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
