#!/usr/bin/env bash
# `mpns batch --state` killed with SIGKILL at random moments and resumed:
# every line must end accepted, counted once, with at most `-c` requests sent
# again per kill. Also times the same batch without --state, and with it.
#
#   cargo build --release -p mpns-hyper
#   benches/journal-kills.sh [LINES] [KILLS] [CONCURRENCY]
#
# Uses a temporary directory and an emulator on 127.0.0.1:47301.
set -euo pipefail

lines=${1:-200000}
kills=${2:-10}
conc=${3:-64}
here=$(cd "$(dirname "$0")/.." && pwd)
mpns="$here/target/release/mpns"
work=$(mktemp -d)
port=47301
trap 'kill $emu 2>/dev/null || true; rm -rf "$work"' EXIT

"$mpns" emulator --listen 127.0.0.1:$port --no-tls --workers 1 --record 0 >"$work/emu.log" 2>&1 &
emu=$!
sleep 0.5
python3 - "$lines" "$port" >"$work/batch.jsonl" <<'EOF'
import json, sys
n, port = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    print(json.dumps({"channel": f"http://127.0.0.1:{port}/throttledthirdparty/01.00/d{i}",
                      "notification": {"toast": {"text1": f"alert {i}"}}}))
EOF
accepted() { curl -s "http://127.0.0.1:$port/inspect" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["accepted"])'; }

echo "== $lines lines, $kills kills at random moments, -c $conc"
for k in $(seq 1 "$kills"); do
  before=$(accepted)
  "$mpns" batch "$work/batch.jsonl" -c "$conc" --state "$work/state" >/dev/null 2>"$work/run-$k.err" &
  pid=$!
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.15, 0.6), 2))')"
  if kill -9 $pid 2>/dev/null; then
    wait $pid 2>/dev/null || true
    echo "kill $k: accepted by the emulator so far $(accepted) (+$(( $(accepted) - before )))"
  else
    wait $pid || true
    echo "run $k finished before its kill"
  fi
done
start=$(date +%s.%N)
"$mpns" batch "$work/batch.jsonl" -c "$conc" --state "$work/state" >"$work/final.out" 2>"$work/final.err"
end=$(date +%s.%N)
cat "$work/final.err" "$work/final.out"
total=$(accepted)
echo "final run: $(python3 -c "print(round($end - $start, 2))") s; emulator accepted $total requests for $lines lines: $(( total - lines )) sent again (at most $(( kills * conc )) allowed)"
grep -q "accepted  *$lines\$" "$work/final.out" || { echo "FAIL: the summary does not count every line as accepted"; exit 1; }
[ $(( total - lines )) -le $(( kills * conc )) ] || { echo "FAIL: too many sent again"; exit 1; }
echo "PASS"

echo "== cost of the journal: the same batch, 4 runs each, alternating, without and with --state"
for run in 1 2 3 4; do
  for mode in plain state; do
    rm -rf "$work/state2"
    args=()
    [ $mode = state ] && args=(--state "$work/state2")
    /usr/bin/time -f "$mode: %e s wall, %U s user, %S s sys" \
      "$mpns" batch "$work/batch.jsonl" -c "$conc" "${args[@]}" >/dev/null
  done
done
