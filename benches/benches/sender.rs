//! One full sender cycle per notification with 64 channels: submit,
//! poll_transmit (and writing the request bytes), handle_response,
//! poll_event (target ≤ 800 ns per notification).

use criterion::{Criterion, criterion_group, criterion_main};
use mpns_benches::SenderCycle;

fn sender(c: &mut Criterion) {
    let mut cycle = SenderCycle::default();
    c.bench_function("sender_cycle_64_channels", |b| b.iter(|| cycle.run()));
}

criterion_group!(benches, sender);
criterion_main!(benches);
