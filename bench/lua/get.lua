-- GET wrk's URL, optionally with a bearer token (env TOKEN) and an Accept-Encoding
-- (env ACCEPT_ENCODING; browsers always send one).
local token = os.getenv("TOKEN")
local accept = os.getenv("ACCEPT_ENCODING")
request = function()
  local headers = {}
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  if accept and accept ~= "" then headers["Accept-Encoding"] = accept end
  return wrk.format("GET", nil, headers)
end
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
