#!/usr/bin/env bash
# Side by side: node mpns 2.1.3, a bare hyper-util pooled client (the hyper
# transport's yardstick, benches/examples/bare_hyper.rs) and `mpns bench` over
# each transport (`--transport hyper`, `--transport direct`) against one
# `mpns emulator --workers 1` process (the other core is the client's), over http and over https with a client certificate,
# R rounds interleaved (the machine is shared: compare medians, not single
# runs; the three Rust clients rotate their order every round). Each run also reports the
# emulator's CPU time per request it served (its threads' schedstat, warm-up
# requests included). The summary scales the hyper transport's targets by the bare
# client measured here, and the direct transport's targets as ratios to node.
# usage: benches/peers/compare.sh [N] [C] [R]     (needs node and npm)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-20000}
c=${2:-64}
rounds=${3:-5}
cargo build --release -p mpns-hyper --bin mpns >/dev/null
cargo build --release -p mpns-benches --example bare_hyper >/dev/null
(cd benches/peers/node-mpns && npm install --no-audit --no-fund --silent >/dev/null)
dir=$(mktemp -d)
./target/release/mpns emulator --workers 1 --listen 127.0.0.1:47201 --https-listen 127.0.0.1:47202 \
  --tls-dir "$dir" --daily-quota 4000000000 >"$dir/emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true; rm -rf "$dir"' EXIT
sleep 1
http=http://127.0.0.1:47201/throttledthirdparty/01.00/bench
https=https://127.0.0.1:47202/unthrottledthirdparty/01.00/bench
tls=(--ca "$dir/ca.pem" --cert "$dir/client.pem" --key "$dir/client.key")
emulator_ns() { cat /proc/"$emulator"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }
# run LABEL COUNT COMMAND...: prints LABEL, the bench JSON and the emulator's µs per request.
run() {
  local label=$1 count=$2 before after json
  shift 2
  before=$(emulator_ns)
  json=$("$@")
  after=$(emulator_ns)
  # All benches warm up with min(1000, COUNT) requests first.
  local served=$((count + (count < 1000 ? count : 1000)))
  printf '%-17s %s %s\n' "$label" "$json" \
    "$(awk -v a="$after" -v b="$before" -v r=$served 'BEGIN { printf "{\"emulator_us_per_request\":%.1f}", (a - b) / 1e3 / r }')"
}
echo "N=$n C=$c rounds=$rounds (node https: N/10)"
# rust PROTO URL TLS...: the bare client and mpns over each transport, in an order that rotates by round.
rust() {
  local p=$1 url=$2
  shift 2
  local bare=(run "bare hyper $p:" "$n" ./target/release/examples/bare_hyper --url "$url" -n "$n" -c "$c" --json "$@")
  local hyper=(run "mpns      $p:" "$n" ./target/release/mpns bench --transport hyper --url "$url" -n "$n" -c "$c" --json "$@")
  local direct=(run "mpns direct $p:" "$n" ./target/release/mpns bench --transport direct --url "$url" -n "$n" -c "$c" --json "$@")
  case $((round % 3)) in
    0) "${bare[@]}"; "${hyper[@]}"; "${direct[@]}" ;;
    1) "${hyper[@]}"; "${direct[@]}"; "${bare[@]}" ;;
    2) "${direct[@]}"; "${bare[@]}"; "${hyper[@]}" ;;
  esac
}
for round in $(seq "$rounds"); do
  run "node mpns http:" "$n" node benches/peers/node-mpns/bench.js "$http" "$n" "$c"
  rust http "$http"
  run "node mpns https:" "$((n / 10))" node benches/peers/node-mpns/bench.js "$https" "$((n / 10))" "$c" --tls-dir "$dir"
  rust https "$https" "${tls[@]}"
done | tee "$dir/runs"
node - "$dir/runs" <<'JS'
const fs = require('fs');
const runs = {};
for (const line of fs.readFileSync(process.argv[2], 'utf8').trim().split('\n')) {
  const [, label, bench, emu] = line.match(/^(.*?:)\s+(\{.*?\}) (\{.*\})$/);
  (runs[label] = runs[label] || []).push(Object.assign(JSON.parse(bench), JSON.parse(emu)));
}
const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const med = {};
console.log('medians:');
for (const [label, rs] of Object.entries(runs)) {
  med[label] = {
    rate: median(rs.map((r) => r.rate_per_s)),
    cpu: median(rs.map((r) => r.cpu_us_per_notification)),
    emu: median(rs.map((r) => r.emulator_us_per_request)),
  };
  const m = med[label];
  console.log(`${label.padEnd(18)} ${m.rate.toFixed(0).padStart(6)}/s  client CPU ${m.cpu.toFixed(1).padStart(6)} µs/notification  emulator ${m.emu.toFixed(1).padStart(5)} µs/request`);
}
for (const p of ['http:', 'https:']) {
  const a = med[`mpns      ${p}`], b = med[`node mpns ${p}`], h = med[`bare hyper ${p}`];
  if (a && b) console.log(`mpns / node ${p.padEnd(6)} rate ${(a.rate / b.rate).toFixed(1)}x, client CPU per notification ${(b.cpu / a.cpu).toFixed(1)}x less`);
  if (a && h) console.log(`mpns / bare ${p.padEnd(6)} rate ${(a.rate / h.rate).toFixed(2)}x, client CPU per notification ${(a.cpu / h.cpu).toFixed(2)}x`);
  if (b && h) console.log(`node / bare ${p.padEnd(6)} rate ${(b.rate / h.rate).toFixed(3)}x, client CPU per notification ${(b.cpu / h.cpu).toFixed(1)}x`);
  const d = med[`mpns direct ${p}`];
  if (d && b) console.log(`direct / node ${p.padEnd(6)} rate ${(d.rate / b.rate).toFixed(1)}x, client CPU per notification 1/${(b.cpu / d.cpu).toFixed(0)} of node's`);
  if (d && a) console.log(`direct / hyper ${p.padEnd(6)} rate ${(d.rate / a.rate).toFixed(2)}x, client CPU per notification ${(d.cpu / a.cpu).toFixed(2)}x`);
}
// The hyper transport's throughput targets, and the scale they were set on: bare hyper-util 100,000/s at 10 µs (http),
// 94,000/s at 11 µs (https); node mpns 15,500/s at 70 µs (http).
const verdict = (ok) => (ok ? 'met' : 'MISSED');
const mh = med['mpns      http:'], ms = med['mpns      https:'];
const bh = med['bare hyper http:'], bs = med['bare hyper https:'], nh = med['node mpns http:'];
console.log('hyper transport targets (scaled by the bare client of this run):');
if (mh && nh) {
  console.log(`  http rate >= 4x node:             ${mh.rate.toFixed(0)}/s vs ${(4 * nh.rate).toFixed(0)}/s: ${verdict(mh.rate >= 4 * nh.rate)}` +
    (bh ? ` (node / bare here ${(nh.rate / bh.rate).toFixed(3)}, 0.155 when the targets were set)` : ''));
}
if (mh && bh) {
  const t = (12 / 10) * bh.cpu;
  console.log(`  http CPU <= 12/10 x bare:         ${mh.cpu.toFixed(1)} µs vs ${t.toFixed(1)} µs: ${verdict(mh.cpu <= t)}`);
}
if (ms && bs) {
  const t = (30000 / 94000) * bs.rate;
  console.log(`  https rate >= 30,000/94,000 x bare: ${ms.rate.toFixed(0)}/s vs ${t.toFixed(0)}/s: ${verdict(ms.rate >= t)}`);
}
const dh = med['mpns direct http:'], ds = med['mpns direct https:'], ns = med['node mpns https:'];
console.log('direct transport targets (ratios to node in this run):');
if (dh && nh) {
  console.log(`  http rate >= 6x node:             ${dh.rate.toFixed(0)}/s vs ${(6 * nh.rate).toFixed(0)}/s: ${verdict(dh.rate >= 6 * nh.rate)}`);
  console.log(`  http CPU <= 1/10 of node's:       ${dh.cpu.toFixed(1)} µs vs ${(nh.cpu / 10).toFixed(1)} µs: ${verdict(dh.cpu <= nh.cpu / 10)}`);
}
if (ds && ns) {
  console.log(`  https CPU <= 1/200 of node's:     ${ds.cpu.toFixed(1)} µs vs ${(ns.cpu / 200).toFixed(1)} µs: ${verdict(ds.cpu <= ns.cpu / 200)}`);
}
JS
