-- GET wrk's URL, optionally with a bearer token (env TOKEN).
local token = os.getenv("TOKEN")
request = function()
  local headers = {}
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", nil, headers)
end
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
