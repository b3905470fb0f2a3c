#!/usr/bin/env bash
# The production topology on one machine, on loopback: nginx in front of two
# `commonroom serve --no-worker` processes, two `commonroom worker` processes, PostgreSQL, Redis
# and an S3-compatible object store (moto's server, for trying and testing only).
#
#   scripts/topology.sh up       start what is not running, wait until each part answers
#   scripts/topology.sh status   what runs, where
#   scripts/topology.sh down     stop what `up` started (the machine's PostgreSQL and Redis stay)
#
# Each part has its own folder under TOPOLOGY_DIR (var/topology): data, log, pid file. The
# machine's PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are used when they answer;
# otherwise `up` starts its own (Debian's initdb and pg_ctl, as the postgres account when run as
# root; redis-server) in that folder.
# nginx's configuration is written from deploy/nginx/commonroom-locations.conf, the file the
# production site includes (docs/deploy.md). Settings (environment variables, defaults):
#   TOPOLOGY_DIR=var/topology  TOPOLOGY_PYTHON=.venv/bin/python  TOPOLOGY_HTTP_PORT=8480
#   TOPOLOGY_APP_PORTS="8481 8482"  TOPOLOGY_S3_PORT=8483  TOPOLOGY_WORKERS=2
#   TOPOLOGY_DATABASE=commonroom_topology  TOPOLOGY_PG=127.0.0.1:5432  TOPOLOGY_PG_PORT=8484 (own)
#   TOPOLOGY_REDIS=127.0.0.1:6379  TOPOLOGY_REDIS_DB=0  TOPOLOGY_REDIS_PORT=8485 (own)
#   TOPOLOGY_PREFIX=commonroom-topology (Redis key prefix)  TOPOLOGY_DEMO=1 (seed the demo)
#   COMMONROOM_DEMO_PASSWORD (the demo's password; random and printed once otherwise)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$(mkdir -p "${TOPOLOGY_DIR:-$ROOT/var/topology}" && cd "${TOPOLOGY_DIR:-$ROOT/var/topology}" && pwd)"
PY="${TOPOLOGY_PYTHON:-$ROOT/.venv/bin/python}"
HTTP_PORT="${TOPOLOGY_HTTP_PORT:-8480}"
read -r -a APP_PORTS <<<"${TOPOLOGY_APP_PORTS:-8481 8482}"
S3_PORT="${TOPOLOGY_S3_PORT:-8483}"
WORKERS="${TOPOLOGY_WORKERS:-2}"
DATABASE="${TOPOLOGY_DATABASE:-commonroom_topology}"
PG="${TOPOLOGY_PG:-127.0.0.1:5432}"
PG_OWN_PORT="${TOPOLOGY_PG_PORT:-8484}"
REDIS="${TOPOLOGY_REDIS:-127.0.0.1:6379}"
REDIS_DB="${TOPOLOGY_REDIS_DB:-0}"
REDIS_OWN_PORT="${TOPOLOGY_REDIS_PORT:-8485}"
PREFIX="${TOPOLOGY_PREFIX:-commonroom-topology}"
BUCKET="commonroom"
NGINX="${TOPOLOGY_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
RUN="$DIR/run"
LOG="$DIR/log"
ENV_FILE="$DIR/commonroom.env"

say() { printf '%s\n' "$*"; }
fail() { printf 'topology: %s\n' "$*" >&2; exit 1; }

answers() { # host:port -> whether something accepts connections there
  timeout 2 bash -c "exec 3<>/dev/tcp/${1%%:*}/${1##*:}" 2>/dev/null
}

running() { # pid -> whether it runs (a process that ended but is not yet reaped does not)
  local state
  state="$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null || true)"
  [ -n "$state" ] && [ "$state" != Z ]
}

started_at() { # pid -> when it started (field 22 of /proc/<pid>/stat, after its name)
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  printf '%s\n' "${20}"
}

alive() { # name -> whether the process its pid file names runs and is the one `up` started
  local pid since
  [ -f "$RUN/$1.pid" ] || return 1
  read -r pid since <"$RUN/$1.pid" || true
  [ -n "$pid" ] && running "$pid" || return 1
  # A pid file left by a machine that has since restarted may name someone else's process:
  # ours only if it started when the pid file says.
  [ -z "${since:-}" ] || [ "$(started_at "$pid")" = "$since" ]
}

start() { # name command... -> started in a session of its own, output to log/<name>.log
  local name="$1"; shift
  if alive "$name"; then return 0; fi
  (
    set -a
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    set +a
    export COMMONROOM_DATA_DIR="$DIR/$name"
    mkdir -p "$COMMONROOM_DATA_DIR"
    cd "$DIR"
    exec setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null
  ) &
  echo "$! $(started_at $!)" >"$RUN/$name.pid"
}

stop() { # seconds name... -> SIGTERM to each one's session at once, SIGKILL after the wait
  local wait="$1" name pid left
  shift
  local pids=()
  for name in "$@"; do
    if alive "$name"; then
      read -r pid _ <"$RUN/$name.pid"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      pids+=("$name:$pid")
    fi
  done
  for _ in $(seq $((wait * 10))); do
    left=0
    for entry in "${pids[@]}"; do running "${entry#*:}" && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for entry in "${pids[@]}"; do
    pid="${entry#*:}"
    if running "$pid"; then
      say "  ${entry%%:*} did not stop in ${wait} s: killed"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for name in "$@"; do rm -f "$RUN/$name.pid"; done
}

wait_http() { # url what [seconds] -> until it answers 2xx
  local url="$1" what="$2" wait="${3:-60}"
  for _ in $(seq $((wait * 10))); do
    if "$PY" - "$url" <<'EOF' 2>/dev/null; then return 0; fi
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1).read()
EOF
    sleep 0.1
  done
  fail "$what did not answer on $url within $wait s (logs: $LOG)"
}

commonroom() { # runs a one-off `commonroom` command with the shared environment
  (
    set -a
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    set +a
    export COMMONROOM_DATA_DIR="$DIR/setup"
    mkdir -p "$COMMONROOM_DATA_DIR"
    "$PY" -m commonroom "$@"
  )
}

as_postgres() { # command... -> run as this account, or as postgres when this one is root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_url() {
  if [ -f "$DIR/postgres/PG_VERSION" ] || ! answers "$PG"; then
    echo "postgres://postgres@127.0.0.1:$PG_OWN_PORT/$DATABASE"
  else
    echo "postgres://postgres@$PG/$DATABASE"
  fi
}

redis_url() {
  if [ -d "$DIR/redis" ] || ! answers "$REDIS"; then
    echo "redis://127.0.0.1:$REDIS_OWN_PORT/$REDIS_DB"
  else
    echo "redis://$REDIS/$REDIS_DB"
  fi
}

up_postgres() {
  if [ -f "$DIR/postgres/PG_VERSION" ] || ! answers "$PG"; then
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [ -x "$bin/pg_ctl" ] || fail "PostgreSQL does not answer on $PG and Debian's server (postgresql) is not installed"
    mkdir -p "$DIR/postgres"
    if [ "$(id -u)" = 0 ]; then
      # PostgreSQL refuses to run as root: its own runs as Debian's postgres account.
      id postgres >/dev/null 2>&1 || fail "PostgreSQL does not answer on $PG, and as root its own needs the postgres account"
      chown postgres "$DIR/postgres"
      runuser -u postgres -- test -w "$DIR/postgres" \
        || fail "PostgreSQL does not answer on $PG, and the postgres account cannot reach $DIR/postgres (a folder above it is closed to others): set TOPOLOGY_DIR elsewhere"
    fi
    if [ ! -f "$DIR/postgres/PG_VERSION" ]; then
      as_postgres "$bin/initdb" -D "$DIR/postgres" -U postgres --auth=trust >"$LOG/postgres-initdb.log"
    fi
    if ! answers "127.0.0.1:$PG_OWN_PORT"; then
      # Its log inside its folder: the postgres account may not write to log/.
      as_postgres "$bin/pg_ctl" -D "$DIR/postgres" -l "$DIR/postgres/server.log" -w \
        -o "-p $PG_OWN_PORT -c listen_addresses=127.0.0.1 -k $DIR/postgres" start >/dev/null
    fi
    say "PostgreSQL: its own, 127.0.0.1:$PG_OWN_PORT (data $DIR/postgres)"
  else
    say "PostgreSQL: the machine's, $PG"
  fi
  "$PY" - "$(postgres_url)" <<'EOF'
import sys
from urllib.parse import urlsplit

import psycopg

url = urlsplit(sys.argv[1])
name = url.path.lstrip("/")
admin = url._replace(path="/postgres").geturl()
with psycopg.connect(admin, autocommit=True) as connection:
    if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
        connection.execute(f'CREATE DATABASE "{name}"')
EOF
}

up_redis() {
  if [ -d "$DIR/redis" ] || ! answers "$REDIS"; then
    command -v redis-server >/dev/null || fail "Redis does not answer on $REDIS and redis-server is not installed"
    mkdir -p "$DIR/redis"
    if ! alive redis; then
      (cd "$DIR/redis" && exec setsid redis-server --bind 127.0.0.1 --port "$REDIS_OWN_PORT" \
        --dir "$DIR/redis" --save "" --appendonly no >>"$LOG/redis.log" 2>&1 </dev/null) &
      echo "$! $(started_at $!)" >"$RUN/redis.pid"
    fi
    for _ in $(seq 100); do answers "127.0.0.1:$REDIS_OWN_PORT" && break; sleep 0.1; done
    say "Redis: its own, 127.0.0.1:$REDIS_OWN_PORT"
  else
    say "Redis: the machine's, $REDIS (database $REDIS_DB, keys under $PREFIX)"
  fi
}

write_environment() {
  # The secrets every process must share (the session signatures, the audit trail's HMACs),
  # made once and kept beside the data.
  if [ ! -f "$DIR/secrets.env" ]; then
    (umask 077 && "$PY" -c 'import secrets
print("SECRET_KEY=" + secrets.token_urlsafe(50))
print("COMMONROOM_AUDIT_KEY=" + secrets.token_urlsafe(48))' >"$DIR/secrets.env")
  fi
  umask 077
  {
    echo "# Written by scripts/topology.sh: the environment of every Commonroom process here."
    cat "$DIR/secrets.env"
    echo "DATABASE_URL=$(postgres_url)"
    echo "REDIS_URL=$(redis_url)"
    echo "COMMONROOM_CHANNEL_PREFIX=$PREFIX"
    echo "COMMONROOM_STORAGE=s3"
    echo "AWS_STORAGE_BUCKET_NAME=$BUCKET"
    echo "AWS_S3_ENDPOINT_URL=http://127.0.0.1:$S3_PORT"
    echo "AWS_S3_REGION_NAME=eu-west-2"
    echo "AWS_ACCESS_KEY_ID=commonroom-topology"
    echo "AWS_SECRET_ACCESS_KEY=commonroom-topology-secret"
    echo "ALLOWED_HOSTS=127.0.0.1,localhost"
    echo "CSRF_TRUSTED_ORIGINS=http://127.0.0.1:$HTTP_PORT,http://localhost:$HTTP_PORT"
    echo "COMMONROOM_SITE_URL=http://127.0.0.1:$HTTP_PORT"
    echo "COMMONROOM_TRUSTED_PROXIES=127.0.0.1"
    echo "COMMONROOM_STATIC_ROOT=$DIR/public/static"
    echo "COMMONROOM_AUDIT_CHECKPOINTS=$DIR/audit-checkpoints.jsonl"
  } >"$ENV_FILE"
}

up_s3() {
  # moto keeps what it holds in memory: stopped, the files are gone (for trying and tests only).
  start s3 "$PY" -m moto.server -H 127.0.0.1 -p "$S3_PORT"
  wait_http "http://127.0.0.1:$S3_PORT/moto-api/" "moto's S3 server" 30
  "$PY" - "http://127.0.0.1:$S3_PORT" "$BUCKET" <<'EOF'
import sys

import boto3

client = boto3.client(
    "s3",
    endpoint_url=sys.argv[1],
    region_name="eu-west-2",
    aws_access_key_id="commonroom-topology",
    aws_secret_access_key="commonroom-topology-secret",
)
if sys.argv[2] not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
    client.create_bucket(
        Bucket=sys.argv[2], CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
EOF
  say "S3 (moto): http://127.0.0.1:$S3_PORT, bucket $BUCKET"
}

write_nginx() {
  local user="" port
  mkdir -p "$DIR/nginx/temp" "$DIR/nginx/logs"
  # As root, nginx's workers would switch to another account, which cannot read the static
  # files (the owner's alone): they stay this account.
  if [ "$(id -u)" = 0 ]; then user="user $(id -un) $(id -gn);"; fi
  {
    echo "# Written by scripts/topology.sh; the locations come from deploy/nginx."
    echo "$user"
    echo "daemon off;"
    echo "worker_processes 2;"
    echo "pid $DIR/nginx/nginx.pid;"
    echo "error_log $DIR/nginx/logs/error.log warn;"
    # Each proxied connection is two (the client's and the app's); 500 people with a page and
    # a live socket each are 2,000, more than nginx's 1,024 a worker allows (docs/deploy.md).
    echo "worker_rlimit_nofile 16384;"
    echo "events { worker_connections 8192; }"
    echo "http {"
    echo "    include /etc/nginx/mime.types;"
    echo "    default_type application/octet-stream;"
    echo "    sendfile on;"
    echo "    log_format commonroom '\$remote_addr [\$time_local] \"\$request\" \$status \$body_bytes_sent request_id=\$request_id';"
    echo "    access_log $DIR/nginx/logs/access.log commonroom;"
    for what in client_body proxy fastcgi uwsgi scgi; do
      echo "    ${what}_temp_path $DIR/nginx/temp/$what;"
    done
    echo "    upstream commonroom {"
    for port in "${APP_PORTS[@]}"; do echo "        server 127.0.0.1:$port;"; done
    echo "        keepalive 16;"
    echo "    }"
    echo "    server {"
    echo "        listen 127.0.0.1:$HTTP_PORT;"
    echo "        server_name 127.0.0.1 localhost;"
    echo "        root $DIR/public;"
    echo "        include $ROOT/deploy/nginx/commonroom-locations.conf;"
    echo "    }"
    echo "}"
  } >"$DIR/nginx/nginx.conf"
  "$NGINX" -t -q -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -e "$DIR/nginx/logs/error.log" \
    || fail "nginx refused the configuration $DIR/nginx/nginx.conf"
}

up() {
  [ -x "$PY" ] || fail "no Python at $PY: run make install (or set TOPOLOGY_PYTHON)"
  [ -x "$NGINX" ] || fail "nginx is not installed: make nginx"
  mkdir -p "$RUN" "$LOG" "$DIR/public/static"
  up_postgres
  up_redis
  write_environment
  up_s3
  say "Migrating the database and collecting the static files..."
  commonroom migrate --noinput -v 0 >>"$LOG/setup.log" 2>&1 || fail "migrate failed: $LOG/setup.log"
  commonroom collectstatic --noinput -v 0 >>"$LOG/setup.log" 2>&1 || fail "collectstatic failed: $LOG/setup.log"
  if [ "${TOPOLOGY_DEMO:-1}" = 1 ]; then
    commonroom demo 2>>"$LOG/setup.log" | tee -a "$LOG/demo.log"
  fi
  local i=1 port
  for port in "${APP_PORTS[@]}"; do
    start "web$i" "$PY" -m commonroom serve --host 127.0.0.1 --port "$port" --no-worker
    i=$((i + 1))
  done
  for i in $(seq "$WORKERS"); do
    start "worker$i" "$PY" -m commonroom worker
  done
  i=1
  for port in "${APP_PORTS[@]}"; do
    wait_http "http://127.0.0.1:$port/healthz" "app process web$i" 60
    i=$((i + 1))
  done
  write_nginx
  # Already running (a second `up`): it reads the configuration written now.
  if alive nginx; then read -r pid _ <"$RUN/nginx.pid"; kill -HUP "$pid"; fi
  start nginx "$NGINX" -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -e "$DIR/nginx/logs/error.log"
  wait_http "http://127.0.0.1:$HTTP_PORT/healthz" "nginx (in front of the app)" 30
  for i in $(seq "$WORKERS"); do
    alive "worker$i" || fail "worker$i stopped: $LOG/worker$i.log"
  done
  say ""
  say "Commonroom: http://127.0.0.1:$HTTP_PORT/ (nginx; app processes on ${APP_PORTS[*]})"
  say "Sign in with a demo account (listed above when first seeded; README.md, 'Trying it')."
  say "Logs: $LOG/ and $DIR/nginx/logs/; environment: $ENV_FILE"
  say "Stop: scripts/topology.sh down (make topology-down)"
}

down() {
  local names
  stop 10 nginx
  names="$(cd "$RUN" 2>/dev/null && ls web*.pid 2>/dev/null | sed 's/\.pid$//' || true)"
  # shellcheck disable=SC2086
  stop 20 $names
  # A worker finishes the task in hand first (a preview may take COMMONROOM_PREVIEW_TIMEOUT).
  names="$(cd "$RUN" 2>/dev/null && ls worker*.pid 2>/dev/null | sed 's/\.pid$//' || true)"
  # shellcheck disable=SC2086
  stop 75 $names
  stop 10 s3 redis
  if [ -f "$DIR/postgres/postmaster.pid" ]; then
    as_postgres "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pg_ctl" -D "$DIR/postgres" -m fast -w stop >/dev/null || true
  fi
  say "Topology stopped (data kept in $DIR; the machine's own PostgreSQL and Redis are left running)."
}

status() {
  local f name
  [ -d "$RUN" ] || { say "Nothing started in $DIR."; return 0; }
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    name="$(basename "$f" .pid)"
    if alive "$name"; then say "$name: running (pid $(cut -d' ' -f1 "$f"), log $LOG/$name.log)"; else say "$name: stopped"; fi
  done
  [ -f "$DIR/postgres/postmaster.pid" ] && say "postgres: own, $DIR/postgres"
  [ -f "$ENV_FILE" ] && grep -E '^(DATABASE_URL|REDIS_URL|AWS_S3_ENDPOINT_URL)=' "$ENV_FILE"
  say "URL: http://127.0.0.1:$HTTP_PORT/"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) fail "usage: scripts/topology.sh up|down|status" ;;
esac
