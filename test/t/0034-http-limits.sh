#!/bin/bash
# lib/http bounds what a server can make it hold: a response with more than
# 100 headers or more than 64 KiB of them fails its attempt with a clear
# error (no retry); just under the caps is fine. SIGPIPE is ignored while
# libcurl runs with CURLOPT_NOSIGNAL. --version names libcurl via lib/http.
. "$(dirname "$0")/lib.sh"
plan 12

# A server that answers with as many headers as the path asks for:
# /n/<count>/<bytes per value>. /hold keeps the request open until the
# client goes away.
cat >"$T_TMP/headers.py" <<'PY'
import http.server, os, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        with open(sys.argv[2], "a") as log:
            log.write(self.path + "\n")
        if self.path == "/hold":
            threading.Event().wait(60)
            return
        _, _, count, size = self.path.split("/")
        self.send_response(200)
        for i in range(int(count)):
            self.send_header("X-Filler-%d" % i, "v" * int(size))
        body = b'{"ok":true}'
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PY
python3 "$T_TMP/headers.py" "$T_TMP/headers.port" "$T_TMP/headers.log" &
T_PIDS="$T_PIDS $!"
for _ in $(seq 400); do [ -s "$T_TMP/headers.port" ] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$T_TMP/headers.port")"
result() { json_field "$(sed -n 1p <<<"$OUT")" "$1"; }

# 96 headers of ours + Server, Date, Content-Type, Content-Length = 100: at the cap.
run_jobrun debug-http "$URL/n/96/10"
is "$(result 'd["outcome"], d["attempts"]')" "done 1" "100 headers are accepted"
run_jobrun debug-http "$URL/n/97/10"
is "$RC" 1 "101 headers fail the request"
is "$(result 'd["outcome"], d["attempts"]')" "gave_up 1" "one attempt, no retry"
like "$(result 'd["error"]')" "^GET /n/97/10: response headers over the limit \(100 headers, 64 KiB\)" \
	"the error names the limit"

# 60 headers of 1 KiB fit; 70 do not (over 64 KiB in all).
run_jobrun debug-http "$URL/n/60/1000"
is "$(result 'd["outcome"]')" "done" "60 KiB of headers are accepted"
run_jobrun debug-http "$URL/n/70/1000"
is "$(result 'd["outcome"], d["attempts"]')" "gave_up 1" "70 KiB of headers fail the request, no retry"
like "$(result 'd["error"]')" "response headers over the limit" "the error names the limit"
is "$(grep -c '^/n/70/1000$' "$T_TMP/headers.log")" 1 "the server saw one request, not five"

# SIGPIPE: libcurl runs with CURLOPT_NOSIGNAL, so jobrun ignores it itself.
bg_jobrun debug-http --max-attempts 1 "$URL/hold"
check "the request reached the server" wait_for_line "$T_TMP/headers.log" '^/hold$'
if [ -n "$JOBRUN_WRAPPER" ]; then
	ok 0 "SIGPIPE is ignored # skip: /proc shows the wrapper's signal state"
else
	ign=$(awk '/^SigIgn:/ { print $2 }' "/proc/$BG_PID/status")
	is "$(python3 -c "print(bool(int('$ign', 16) >> 12 & 1))")" True "SIGPIPE is ignored (SigIgn $ign)"
fi
kill -TERM "$BG_PID"
wait_exit "$BG_PID"
is "$WAIT_RC" 143 "SIGTERM still ends it (143)"
sanitizer_check "$BG_ERR"

run_jobrun --version
like "$OUT" "^jobrun [0-9]+\.[0-9]+\.[0-9]+ \(libcurl/[0-9]" "--version names libcurl"

done_testing
