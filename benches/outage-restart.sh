#!/usr/bin/env bash
# A one-second outage under `mpns batch -c 64`, with the default retry policy:
# the emulator is killed mid-batch and started again at once. Prints when
# requests stopped and when they came again (the first backoff step, one
# minute with up to 20 % jitter, not the 60-minute cap that counting every
# in-flight failure reached), then how the batch ended.
#
#   cargo build --release -p mpns-hyper
#   benches/outage-restart.sh [LINES] [CONCURRENCY]
#
# Uses a temporary directory and an emulator on 127.0.0.1:47311.
set -euo pipefail

lines=${1:-60000}
conc=${2:-64}
here=$(cd "$(dirname "$0")/.." && pwd)
mpns="$here/target/release/mpns"
work=$(mktemp -d)
port=47311
emulator() {
  # Slow answers keep every request of the batch on the wire.
  "$mpns" emulator --listen 127.0.0.1:$port --no-tls --workers 1 --record 0 \
    --behaviour '*=slow:20ms' >>"$work/emu.log" 2>&1 &
  emu=$!
  until curl -s "http://127.0.0.1:$port/inspect?limit=0" >/dev/null; do sleep 0.05; done
}
trap 'kill $emu $batch 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$lines" "$port" >"$work/batch.jsonl" <<'PY'
import json, sys
n, port = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    print(json.dumps({"channel": f"http://127.0.0.1:{port}/throttledthirdparty/01.00/o{i}",
                      "notification": {"toast": {"text1": f"alert {i}"}}}))
PY
requests() { curl -s "http://127.0.0.1:$port/inspect?limit=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["requests"])'; }

emulator
start=$(date +%s.%N)
"$mpns" batch "$work/batch.jsonl" -c "$conc" >"$work/summary" 2>"$work/batch.err" &
batch=$!
sleep 3
echo "before the outage: $(requests) requests in 3 s"
kill -9 $emu; wait $emu 2>/dev/null || true
down=$(date +%s.%N)
sleep 1
emulator
up=$(date +%s.%N)
echo "emulator down for $(python3 -c "print(round($up - $down, 2))") s"
while [[ $(requests) == 0 ]]; do sleep 0.2; done
again=$(date +%s.%N)
echo "first request after the restart: $(python3 -c "print(round($again - $down, 1))") s after the outage began"
wait $batch || true
echo "batch finished $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s after it started:"
cat "$work/summary"
