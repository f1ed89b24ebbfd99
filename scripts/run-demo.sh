#!/usr/bin/env bash
# `make run`'s last step: the simulated dust monitors and the server side by side.
# Ctrl-C (or SIGTERM) stops both cleanly, and so does either one ending on its own.
# Why not `trap 'kill 0' ...`: kill 0 signals this shell too, which runs the trap again,
# recursing until bash crashes (exit 139).
set -u
bin=$1 host=$2 port=$3 devices=$4

"$bin/dustgrid" simulate --from-db --devices "$devices" --interval 5 --speedup 12 --dusty 0.1 &
sim=$!
"$bin/dustgrid" serve --host "$host" --port "$port" &
srv=$!

stopping=0
stop() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap '' INT TERM
  kill -TERM "$sim" "$srv" 2>/dev/null
  wait "$sim" "$srv" 2>/dev/null
  echo "DustGrid stopped."
}
trap 'stop; exit 0' INT TERM
wait -n "$sim" "$srv"
status=$?
stop
exit "$status"
