#!/usr/bin/env bash
# Side by side: node mpns 2.1.3 and `mpns bench` against one `mpns emulator`
# process, over http and over https with a client certificate.
# usage: benches/peers/compare.sh [N] [C]     (needs node and npm)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-20000}
c=${2:-64}
cargo build --release -p mpns-hyper --bin mpns >/dev/null
(cd benches/peers/node-mpns && npm install --no-audit --no-fund --silent >/dev/null)
dir=$(mktemp -d)
./target/release/mpns emulator --listen 127.0.0.1:47201 --https-listen 127.0.0.1:47202 \
  --tls-dir "$dir" --daily-quota 4000000000 >"$dir/emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true; rm -rf "$dir"' EXIT
sleep 1
http=http://127.0.0.1:47201/throttledthirdparty/01.00/bench
https=https://127.0.0.1:47202/unthrottledthirdparty/01.00/bench
tls=(--ca "$dir/ca.pem" --cert "$dir/client.pem" --key "$dir/client.key")
echo "N=$n C=$c"
printf 'node mpns http:   %s\n' "$(node benches/peers/node-mpns/bench.js "$http" "$n" "$c")"
printf 'mpns      http:   %s\n' "$(./target/release/mpns bench --url "$http" -n "$n" -c "$c" --json)"
printf 'node mpns https:  %s\n' "$(node benches/peers/node-mpns/bench.js "$https" "$((n / 10))" "$c" --tls-dir "$dir")"
printf 'mpns      https:  %s\n' "$(./target/release/mpns bench --url "$https" -n "$n" -c "$c" --json "${tls[@]}")"
