-- GET the URL wrk was given (GET /v1/offers on rigshift, the static copy on nginx), with the
-- bearer token. No response() hook, so wrk parses no bodies here: non-2xx/3xx answers are
-- counted by wrk itself (RESULT errors ... http_4xx_5xx, and wrk's "Non-2xx" line).
local c = dofile(os.getenv("RIGSHIFT_WRK_DIR") .. "/common.lua")
setup = c.setup
done = c.done
