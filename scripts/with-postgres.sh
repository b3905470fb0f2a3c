#!/usr/bin/env bash
# Run a command with DATABASE_URL pointing at PostgreSQL, if the server answers.
# Absent server: a loud skip on a developer machine, a failure when CI=true.
set -euo pipefail
url="$1"; shift
hostport="${url#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"
if ! timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
  echo "!!! PostgreSQL is not answering on $host:$port: the PostgreSQL run of the suite is SKIPPED !!!" >&2
  if [ "${CI:-}" = "true" ]; then
    echo "CI=true: a missing PostgreSQL is a failure." >&2
    exit 1
  fi
  exit 0
fi
export DATABASE_URL="$url"
exec "$@"
