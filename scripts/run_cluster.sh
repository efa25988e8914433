#!/usr/bin/env bash
# `make run-cluster`: the desk in queue mode on one machine, against local PostgreSQL and
# Redis (docs/scaling.md): the API (with the fetcher, the periodic work and the inbox
# sweep), two analysis workers, the ordered consumer and a notification worker. Ctrl+C
# stops them all.
set -euo pipefail
BIN="${BIN:-.venv/bin}"
export YUQING_DATABASE_URL="${YUQING_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/yuqing}"
export YUQING_REDIS_URL="${YUQING_REDIS_URL:-redis://127.0.0.1:6379/0}"
export YUQING_QUEUE=true
ANALYSIS_WORKERS="${ANALYSIS_WORKERS:-2}"

case "$YUQING_DATABASE_URL" in
  postgresql*) ;;
  *) echo "队列模式需要 PostgreSQL：请设置 YUQING_DATABASE_URL=postgresql://…" >&2; exit 2 ;;
esac
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "== starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
db="${YUQING_DATABASE_URL##*/}"
createdb -h 127.0.0.1 -U postgres "$db" 2>/dev/null || true

"$BIN/yuqing" init
pids=()
stop() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait || true; }
trap stop EXIT INT TERM
for n in $(seq 1 "$ANALYSIS_WORKERS"); do
  "$BIN/yuqing" worker --queues analysis --name "analysis$n@%h" & pids+=($!)
done
"$BIN/yuqing" worker --queues ordered --name "ordered@%h" & pids+=($!)
"$BIN/yuqing" worker --queues notify --name "notify@%h" & pids+=($!)
"$BIN/yuqing" serve --queue
