#!/usr/bin/env bash
# Load benchmark of `rigshift server` on loopback, with nginx serving a static file of the same
# size in the same run as the ceiling. See the usage text below; `make bench-server` runs it.
set -uo pipefail

usage() {
  cat <<'EOF'
Usage: bench/server_load.sh [--duration S] [--connections N] [--threads T] [--binary PATH]
                            [--data DIR] [--server-threads N] [--json OUT] [--keep]

Runs wrk (-tT -cN -dSs --latency) on loopback against:
  nginx       a static copy of the server's GET /v1/offers body (same size): the ceiling
  offers      GET /v1/offers on `rigshift server --demo`
  pairs       POST /v1/leases + DELETE /v1/leases/{id} (create and cancel) on the same server
  post        POST /v1/leases only, on a fresh server with --max-pending and --max-pending-per-tenant
              100000000 (every lease
              past the farm's 176 rentable GPUs is pending)
and prints requests/s, p50, p99 and the non-2xx answers of each, beside nginx.

  --duration S     seconds per target (default 10)
  --connections N  wrk connections (default 64)
  --threads T      wrk threads (default 2)
  --binary PATH    the rigshift binary (default build/release/src/cli/rigshift; `make build`)
  --data DIR       the imported data folder (default data; `make demo` or `rigshift data import`)
  --server-threads N  the server's --threads (HTTP I/O threads; default: the server's default)
  --json OUT       also write the results as JSON to OUT
  --keep           keep the temporary folder (configs, logs, raw wrk output) and print its path

Exit status: 0 all ran and every answer was the expected one; 1 a target failed to run (or the
setup failed); 2 every target ran but some answers were unexpected (non-2xx, socket errors).
EOF
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/.." && pwd)

duration=10
connections=64
threads=2
binary=build/release/src/cli/rigshift
data=data
json_out=""
server_threads=""
keep=0
binary_given=0
data_given=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --connections) connections=${2:?--connections needs a value}; shift 2 ;;
    --threads) threads=${2:?--threads needs a value}; shift 2 ;;
    --binary) binary=${2:?--binary needs a value}; binary_given=1; shift 2 ;;
    --data) data=${2:?--data needs a value}; data_given=1; shift 2 ;;
    --server-threads) server_threads=${2:?--server-threads needs a value}; shift 2 ;;
    --json) json_out=${2:?--json needs a value}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "server_load: unknown argument '$1'" >&2; usage >&2; exit 1 ;;
  esac
done
for v in duration connections threads server_threads; do
  [ "$v" = server_threads ] && [ -z "$server_threads" ] && continue
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then echo "server_load: --${v//_/-} must be a positive integer, got '${!v}'" >&2; exit 1; fi
done
server_flags=()
if [ -n "$server_threads" ]; then server_flags=(--threads "$server_threads"); fi

# Paths given on the command line are relative to where the script was called from; the
# defaults are relative to the repository.
absolute() {  # absolute PATH GIVEN
  if [[ $1 = /* ]]; then echo "$1"; elif [ "$2" = 1 ]; then echo "$PWD/$1"; else echo "$root/$1"; fi
}
binary=$(absolute "$binary" "$binary_given")
data=$(absolute "$data" "$data_given")
if [ -n "$json_out" ]; then json_out=$(absolute "$json_out" 1); fi
cd "$root" || exit 1  # `--demo` reads examples/demo-farm.toml relative to here

bash scripts/install-deps.sh bench || { echo "server_load: scripts/install-deps.sh bench failed" >&2; exit 1; }
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "server_load: '$tool' is not installed (apt-get install $tool)" >&2; exit 1; }
done
if [ ! -x "$binary" ]; then
  echo "server_load: no rigshift binary at $binary: build it with \`make build\` (or pass --binary PATH)" >&2
  exit 1
fi
if [ ! -f "$data/gpu_models.csv" ]; then
  echo "server_load: no imported data in $data: run \`make demo\` once, or" >&2
  echo "  $binary data import --source ../shared/data --out $data" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rigshift-bench.XXXXXX")
chmod 755 "$tmp"  # nginx workers run as nobody when started by root and must read $tmp/www
server_pid=""
nginx_pid=""

stop_pid() {  # stop_pid PID NAME: TERM, wait up to 10 s, then KILL
  local pid=$1 name=$2 i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "server_load: $name (pid $pid) did not stop on SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  return 0
}

cleanup() {
  stop_pid "$server_pid" "rigshift server"
  server_pid=""
  stop_pid "$nginx_pid" "nginx"
  nginx_pid=""
  if [ "$keep" = 1 ]; then echo "server_load: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load() { cut -d' ' -f1-3 /proc/loadavg; }

# --- the rigshift server -----------------------------------------------------------------------

token=""
server_url=""
start_server() {  # start_server NAME [extra flags...]: sets server_pid, server_url, token
  local name=$1 dir="$tmp/$1"
  shift
  mkdir -p "$dir"
  "$binary" server --demo --data-dir "$dir" --listen 127.0.0.1:0 --data "$data" ${server_flags[@]+"${server_flags[@]}"} "$@" \
    >"$tmp/$name.log" 2>&1 &
  server_pid=$!
  local deadline=$((SECONDS + 120))  # a Release build starts in about a second; Debug takes ~20 s
  while [ $SECONDS -lt $deadline ]; do
    [ -s "$dir/server.url" ] && [ -s "$dir/tenant-demo.token" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ ! -s "$dir/server.url" ]; then
    echo "server_load: rigshift server did not start (within 120 s); its log ($tmp/$name.log):" >&2
    tail -20 "$tmp/$name.log" >&2
    return 1
  fi
  server_url=$(head -1 "$dir/server.url")
  token=$(head -1 "$dir/tenant-demo.token")
  # The simulated agents register within about 2 s; until then nothing is free.
  deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    if curl -fsS -H "Authorization: Bearer $token" "$server_url/v1/offers" -o "$tmp/offers.json" 2>/dev/null &&
      grep -Eq '"gpus_free":[1-9]' "$tmp/offers.json"; then
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "server_load: GET $server_url/v1/offers showed no free GPU within 60 s (agents not registered?); log:" >&2
  tail -20 "$tmp/$name.log" >&2
  return 1
}

# --- nginx ---------------------------------------------------------------------------------------

nginx_port=""
start_nginx() {  # serves $tmp/www/offers.json; sets nginx_pid, nginx_port
  mkdir -p "$tmp/www" "$tmp/nginx-temp"
  chmod 755 "$tmp/www"
  local temps="" m attempt i
  for m in client_body proxy fastcgi uwsgi scgi; do
    if ! nginx -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
      temps+="  ${m}_temp_path $tmp/nginx-temp/$m;"$'\n'
    fi
  done
  for ((attempt = 0; attempt < 10; attempt++)); do
    nginx_port=$((20000 + RANDOM % 40000))
    cat >"$tmp/nginx.conf" <<EOF
# Written by bench/server_load.sh: a static-file ceiling for the rigshift server benchmark.
worker_processes 2;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  types { application/json json; }
  default_type application/json;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 100000000;  # wrk's connections stay open, as they do on rigshift
$temps
  server {
    listen 127.0.0.1:$nginx_port;
    root $tmp/www;
  }
}
EOF
    nginx -e "$tmp/nginx-error.log" -p "$tmp" -c "$tmp/nginx.conf" >>"$tmp/nginx.log" 2>&1 &
    nginx_pid=$!
    for ((i = 0; i < 50; i++)); do
      if curl -fsS "http://127.0.0.1:$nginx_port/offers.json" -o /dev/null 2>/dev/null; then return 0; fi
      kill -0 "$nginx_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$nginx_pid" 2>/dev/null; then break; fi  # runs but does not answer: give up
    wait "$nginx_pid" 2>/dev/null
    nginx_pid=""
    grep -q "in use" "$tmp/nginx-error.log" "$tmp/nginx.log" 2>/dev/null || break  # not a port clash
  done
  echo "server_load: nginx did not start; its log:" >&2
  tail -10 "$tmp/nginx-error.log" "$tmp/nginx.log" >&2 2>/dev/null
  stop_pid "$nginx_pid" nginx
  nginx_pid=""
  return 1
}

# --- one wrk run ---------------------------------------------------------------------------------

names=()
declare -A label rps p50 p99 non2xx sockerr unexpected failed loadavg detail
ceiling_rps=""

# run_target NAME LABEL URL LUA EXPECTED_STATUSES: EXPECTED is a space-separated list of the
# statuses the script tallies that are expected (ignored by get.lua, which tallies none).
run_target() {
  local name=$1 what=$2 url=$3 lua=$4 expected=$5 out="$tmp/wrk-$1.txt"
  names+=("$name")
  label[$name]=$what
  failed[$name]=0
  unexpected[$name]=""
  local before after
  before=$(load)
  echo
  echo "== $what: wrk -t$threads -c$connections -d${duration}s --latency -s bench/wrk/$lua $url   (load before: $before)"
  RIGSHIFT_WRK_DIR="$script_dir/wrk" RIGSHIFT_TOKEN="$token" \
    wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$script_dir/wrk/$lua" "$url" >"$out" 2>&1
  local rc=$?
  after=$(load)
  loadavg[$name]="$before -> $after"
  grep -v '^RESULT ' "$out" | sed 's/^/   /'
  local requests
  requests=$(awk '$1 == "RESULT" && $2 == "requests" {print $3}' "$out")
  if [ $rc -ne 0 ] || [ -z "$requests" ] || [ "$requests" = 0 ]; then
    echo "!!! $what: wrk FAILED (exit $rc, ${requests:-no} requests); raw output above" >&2
    failed[$name]=1
    rps[$name]=0; p50[$name]=""; p99[$name]=""; non2xx[$name]=""; sockerr[$name]=""; detail[$name]=""
    return
  fi
  rps[$name]=$(awk '$1 == "RESULT" && $2 == "rps" {print $3}' "$out")
  p50[$name]=$(awk '$1 == "RESULT" && $2 == "p50_us" {print $3}' "$out")
  p99[$name]=$(awk '$1 == "RESULT" && $2 == "p99_us" {print $3}' "$out")
  # Socket errors: connect/read/write/timeout; http_4xx_5xx is wrk's own count of statuses > 399.
  local errs
  errs=$(awk '$1 == "RESULT" && $2 == "errors" {print $3, $4, $5, $6, $7}' "$out")
  sockerr[$name]=$(echo "$errs" | tr ' =' '\n\n' | awk 'NR%2==0 && NR<=8 {s += $1} END {print s+0}')
  local wrk_status
  wrk_status=$(echo "$errs" | sed -n 's/.*http_4xx_5xx=\([0-9]*\).*/\1/p')
  local tally="" status count bad=0 n_non2xx=0
  while read -r _ _ status count; do
    tally+="${tally:+ }$status:$count"
    if [[ $status != 2* ]]; then n_non2xx=$((n_non2xx + count)); fi
    if [[ " $expected " != *" $status "* ]]; then bad=$((bad + count)); fi
  done < <(awk '$1 == "RESULT" && $2 == "status"' "$out")
  if [ -z "$tally" ]; then
    # get.lua tallies nothing: wrk's own count (statuses > 399) is the non-2xx count.
    n_non2xx=${wrk_status:-0}
    bad=$n_non2xx
    tally="non-2xx:$n_non2xx"
  fi
  non2xx[$name]=$n_non2xx
  local counters
  counters=$(awk '$1 == "RESULT" && $2 == "counter" {printf "%s%s=%s", sep, $3, $4; sep=" "}' "$out")
  detail[$name]="statuses $tally${counters:+; $counters}"
  echo "   -> ${detail[$name]}"
  if [ "$bad" -gt 0 ] || [ "${sockerr[$name]}" -gt 0 ]; then
    unexpected[$name]="$bad unexpected answers, ${sockerr[$name]} socket errors ($errs)"
    echo "!!! $what: UNEXPECTED: ${unexpected[$name]}; statuses $tally" >&2
  fi
}

ms() {  # microseconds -> "1.23 ms"
  [ -n "$1" ] || { echo "-"; return; }
  awk -v u="$1" 'BEGIN { if (u < 10000) printf "%.2f ms", u / 1000; else printf "%.1f ms", u / 1000 }'
}

# --- the run -------------------------------------------------------------------------------------

echo "rigshift server load benchmark: wrk -t$threads -c$connections -d${duration}s on loopback"
echo "machine: $(nproc) cores; the server (${server_threads:-its default 2} HTTP threads, its tick loop and simulated"
echo "agents), nginx (worker_processes 2) and wrk ($threads threads) all share them, one target at a time."
echo "The server's store is on ${TMPDIR:-/tmp} ($(df -P "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $1}')): every POST/DELETE commits to it."
echo "load average at start: $(load)    binary: $binary"

setup_failed=0
if ! start_server offers; then exit 1; fi
mkdir -p "$tmp/www"
cp "$tmp/offers.json" "$tmp/www/offers.json"
chmod 644 "$tmp/www/offers.json"
body_bytes=$(wc -c <"$tmp/www/offers.json")
echo "GET /v1/offers body: $body_bytes bytes (nginx serves a copy of it)"

if start_nginx; then
  run_target nginx "nginx static file ($body_bytes B, the ceiling)" "http://127.0.0.1:$nginx_port/offers.json" get.lua "200"
  stop_pid "$nginx_pid" nginx
  nginx_pid=""
  ceiling_rps=${rps[nginx]}
  [ "${failed[nginx]}" = 1 ] && ceiling_rps=""
else
  setup_failed=1
  names+=(nginx); label[nginx]="nginx static file (did not start)"; failed[nginx]=1; rps[nginx]=0
fi

run_target offers "rigshift GET /v1/offers" "$server_url/v1/offers" get.lua "200"
run_target pairs "rigshift POST+DELETE /v1/leases pairs" "$server_url/v1/leases" lease_pairs.lua "200 201"
stop_pid "$server_pid" "rigshift server"
server_pid=""

if start_server post --max-pending 100000000 --max-pending-per-tenant 100000000; then
  run_target post "rigshift POST /v1/leases only" "$server_url/v1/leases" lease_post.lua "201"
  stop_pid "$server_pid" "rigshift server"
  server_pid=""
else
  setup_failed=1
  names+=(post); label[post]="rigshift POST /v1/leases only (server did not start)"; failed[post]=1; rps[post]=0
fi

# --- the table -----------------------------------------------------------------------------------

ratio() {  # ratio NAME
  if [ -z "$ceiling_rps" ] || [ "${failed[$1]}" = 1 ]; then echo "-"; return; fi
  awk -v a="${rps[$1]}" -v b="$ceiling_rps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

echo
echo "Results (wrk -t$threads -c$connections -d${duration}s, loopback, $(nproc) cores shared by server, nginx and wrk):"
echo
echo "| target | requests/s | p50 | p99 | non-2xx | ratio to nginx |"
echo "|---|---:|---:|---:|---:|---:|"
for n in "${names[@]}"; do
  if [ "${failed[$n]}" = 1 ]; then
    echo "| ${label[$n]} | FAILED | - | - | - | - |"
    continue
  fi
  printf '| %s | %.0f | %s | %s | %s | %s |\n' "${label[$n]}" "${rps[$n]}" "$(ms "${p50[$n]}")" \
    "$(ms "${p99[$n]}")" "${non2xx[$n]}" "$(ratio "$n")"
done
echo
if [ "${failed[pairs]:-1}" = 0 ]; then
  awk -v r="${rps[pairs]}" 'BEGIN { printf "pairs: %.0f create+cancel pairs/s (each pair is 2 requests; p50/p99 mix both)\n", r / 2 }'
fi
for n in "${names[@]}"; do
  echo "${n}: load average ${loadavg[$n]:--}; ${detail[$n]:-}"
done
any_unexpected=0
for n in "${names[@]}"; do
  if [ -n "${unexpected[$n]}" ]; then
    any_unexpected=1
    echo "!!! UNEXPECTED ANSWERS in ${label[$n]}: ${unexpected[$n]}" >&2
  fi
done

if [ -n "$json_out" ]; then
  {
    printf '{"wrk": {"threads": %d, "connections": %d, "duration_s": %d},\n' "$threads" "$connections" "$duration"
    printf ' "cores": %d, "nginx_worker_processes": 2, "server_threads": %s, "offers_body_bytes": %d,\n' \
      "$(nproc)" "${server_threads:-null}" "$body_bytes"
    printf ' "note": "server, nginx and wrk share the cores; loopback",\n'
    printf ' "targets": ['
    sep=""
    for n in "${names[@]}"; do
      printf '%s\n  {"name": "%s", "label": "%s", "ok": %s' "$sep" "$n" "${label[$n]//\"/\\\"}" \
        "$([ "${failed[$n]}" = 1 ] && echo false || echo true)"
      if [ "${failed[$n]}" != 1 ]; then
        r=$(ratio "$n"); [ "$r" = - ] && r=null
        printf ', "requests_per_s": %s, "p50_us": %s, "p99_us": %s, "non_2xx": %s, "socket_errors": %s' \
          "${rps[$n]}" "${p50[$n]}" "${p99[$n]}" "${non2xx[$n]}" "${sockerr[$n]}"
        printf ', "ratio_to_nginx": %s, "unexpected": %s, "detail": "%s"' "$r" \
          "$([ -n "${unexpected[$n]}" ] && echo true || echo false)" "${detail[$n]}"
      fi
      printf ', "load_average": "%s"}' "${loadavg[$n]:-}"
      sep=","
    done
    printf '\n]}\n'
  } >"$json_out"
  echo "wrote $json_out"
fi

for n in "${names[@]}"; do
  if [ "${failed[$n]}" = 1 ]; then setup_failed=1; fi
done
if [ "$setup_failed" = 1 ]; then exit 1; fi
if [ "$any_unexpected" = 1 ]; then exit 2; fi
exit 0
