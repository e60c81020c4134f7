#!/usr/bin/env bash
# progress.sh LABEL CMD...: runs CMD, printing a progress line every 15 s so
# long builds (the collector, later kube-apiserver) never look hung.
set -u
label=$1; shift
start=$(date +%s)
echo ">> ${label}"
"$@" &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
    sleep 1
    kill -0 "$pid" 2>/dev/null || break 2
  done
  echo "   ${label}: still working ($(( $(date +%s) - start ))s)"
done
wait "$pid"
rc=$?
echo "   ${label}: done in $(( $(date +%s) - start ))s (exit ${rc})"
exit "$rc"
