// node mpns 2.1.3 at concurrency C against a channel URI: the same load and
// the same JSON shape as `mpns bench --json`.
// usage: node bench.js URL N C [--pfx-dir DIR]   (DIR holds client.pem, client.key, ca.pem)
'use strict';
const fs = require('fs');
const path = require('path');
const mpns = require('mpns');

const [url, nText, cText, flag, dir] = process.argv.slice(2);
const n = parseInt(nText || '20000', 10);
const c = parseInt(cText || '64', 10);
const tls = flag === '--tls-dir' && dir
  ? {
      cert: fs.readFileSync(path.join(dir, 'client.pem')),
      key: fs.readFileSync(path.join(dir, 'client.key')),
      ca: fs.readFileSync(path.join(dir, 'ca.pem')),
    }
  : {};

function sendOne() {
  return new Promise((resolve) => {
    const options = Object.assign({
      text1: 'Benchmark',
      text2: 'Normal text',
      param: '/Page2.xaml?NavigatedFrom=Toast',
    }, tls);
    mpns.sendToast(url, options, (err, result) => {
      resolve(!err && result && result.notificationStatus === 'Received');
    });
  });
}

async function run(count) {
  let next = 0;
  let ok = 0;
  const latencies = [];
  async function worker() {
    while (next < count) {
      next += 1;
      const start = process.hrtime.bigint();
      if (await sendOne()) ok += 1;
      latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  await Promise.all(Array.from({ length: Math.min(c, count) }, worker));
  return { latencies, ok };
}

(async () => {
  await run(Math.min(1000, n));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const { latencies, ok } = await run(n);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.round((latencies.length - 1) * p)];
  console.log(JSON.stringify({
    rate_per_s: n / seconds,
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    cpu_us_per_notification: (cpu.user + cpu.system) / n,
    ok,
    failed: n - ok,
  }));
})();
