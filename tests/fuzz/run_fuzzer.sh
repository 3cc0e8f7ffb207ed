#!/usr/bin/env bash
# run_fuzzer.sh FUZZER SEED_DIR SECONDS: runs a libFuzzer target for a bounded time, starting
# from the committed seeds. New corpus entries go to a scratch dir, so the tree stays clean.
# Exits non-zero when the fuzzer finds a crash, leak or timeout.
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
args=("$work/corpus")
[ -d "$seeds" ] && args+=("$seeds")
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "${args[@]}" 2>"$work/log" || {
  tail -n 60 "$work/log"
  for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
    [ -e "$a" ] && { echo "artifact: $a"; xxd "$a" | head -20; }
  done
  exit 1
}
grep -E '^stat::number_of_executed_units|^Done' "$work/log" || true
