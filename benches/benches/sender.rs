//! One full sender cycle per notification: submit, poll_transmit (and
//! writing the request bytes), handle_response, poll_event.
//!
//! - the fixed sender with 64 channels (target ≤ 800 ns per notification);
//! - the growable sender with 64, 10,000, 100,000 and 1,000,000 notifications
//!   pending over as many channels (target: at most 2× from 64 to a million);
//! - the growable sender recording (the records of each cycle polled and
//!   encoded, as for a journal), with 64 and 1,000,000 pending.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mpns_benches::{GrowableCycle, SenderCycle};

fn sender(c: &mut Criterion) {
    let mut cycle = SenderCycle::default();
    c.bench_function("sender_cycle_64_channels", |b| b.iter(|| cycle.run()));
    let mut group = c.benchmark_group("growable_cycle");
    for pending in [64, 10_000, 100_000, 1_000_000] {
        let mut cycle = GrowableCycle::new(pending);
        group.bench_function(BenchmarkId::from_parameter(pending), |b| {
            b.iter(|| cycle.run())
        });
        assert_eq!(cycle.pending(), pending);
    }
    group.finish();
    // The same with the records a journal keeps polled and encoded each cycle.
    let mut group = c.benchmark_group("growable_cycle_recording");
    for pending in [64, 1_000_000] {
        let mut cycle = GrowableCycle::recording(pending);
        group.bench_function(BenchmarkId::from_parameter(pending), |b| {
            b.iter(|| cycle.run())
        });
        assert_eq!(cycle.pending(), pending);
    }
    group.finish();
}

criterion_group!(benches, sender);
criterion_main!(benches);
