-- POST /login/ with a valid member (env MEMBER_ID, MEMBER_PWD).
local body = string.format('{"member_id":"%s","member_pwd":"%s"}', os.getenv("MEMBER_ID"), os.getenv("MEMBER_PWD"))
request = function()
  return wrk.format("POST", "/login/", {["Content-Type"] = "application/json"}, body)
end
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
