--- get_input_payloads: Cirrus v2's name for get_payloads (the same options and output).
local host = require("gf.host")
local run = assert(host.load_script("get_payloads"))
return run(...)
