// Calibration: node mpns 2.1.3 building only the body of the toast_basic
// toast (createToast, then getXmlPayload), in ns per body. The encoder's
// targets were set when this took about 1,150 ns on an idle machine; the
// ratio to it scales the encoder benchmarks of a busy run.
// usage: node body.js [N]
'use strict';
const mpns = require('mpns');

const n = parseInt(process.argv[2] || '2000000', 10);
const toast = mpns.createToast({
  text1: 'Bold Text',
  text2: 'Normal text',
  param: '/Page2.xaml?NavigatedFrom=Toast',
});
let length = 0;
for (let i = 0; i < n / 10; i++) length += toast.getXmlPayload().length; // warm-up
const rounds = [];
for (let r = 0; r < 5; r++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) length += toast.getXmlPayload().length;
  rounds.push(Number(process.hrtime.bigint() - start) / n);
}
rounds.sort((a, b) => a - b);
console.log(JSON.stringify({ ns_per_body_median: rounds[2], ns_per_body_min: rounds[0], check: length > 0 }));
