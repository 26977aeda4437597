-- wrk script: POSTs the engagement page's example body (with a consumerId)
-- to the URL given on the command line, which carries the query, e.g.
--
--   wrk -t1 -c64 -d10s -s tests/sim/wrk-engagement.lua \
--     'http://127.0.0.1:PORT/api/account/123/app/abc/engagement?v=1.0&obh=true'
--
-- Without a sid every request creates a session (201). To reuse one
-- session (200), create it first and pass its ids in the environment:
--   SIM_SID=<sessionId> SIM_VID=<visitorId> wrk ...
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "wrk-engagement"
wrk.body = [[
{
 "clientProperties":{
   "osName": "MAC_OSX",
   "osVersion": "1.2",
   "appVersion": "1.0",
   "deviceFamily": "MOBILE",
   "ipAddress": "192.168.5.2"
 },
 "consumerId":"uniqueIdInBrand",
 "identities": [
   {
        "iss": "LivePerson",
        "acr": "0",
        "sub": "identifierForNoAuth"
    },
    {
        "iss": "TMO",
        "acr": "loa1",
        "sub": "identifierForAuth"
    }
 ],
 "entryPoints":[
   "tel://972737004000",
   "https://www.liveperson.com/",
   "sec://Sport",
   "lang://English"
 ],
 "engagementAttributes": [
   {
     "type": "personal",
     "personal": {
       "contacts": [{"email":"user123@gmail.com","phone":"12345678"},{"email":"aaa@domain.co.il","phone":"98765430"}],
       "age": {
         "age":30.0,
         "year":1985,
         "month":7,
         "day":22
       },
       "firstname": "test",
       "lastname": "test2",
       "gender": "FEMALE",
       "company": "liveperson"
     }
   }
 ]
}
]]

local sid = os.getenv("SIM_SID")
local vid = os.getenv("SIM_VID")
if sid and sid ~= "" then
   wrk.path = wrk.path .. "&sid=" .. sid
end
if vid and vid ~= "" then
   wrk.path = wrk.path .. "&vid=" .. vid
end
