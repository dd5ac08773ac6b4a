//! The rolling quota of unauthenticated channels: at most N sends in any
//! window (500 per 24 h by default; `docs/protocol.md`, "Quota").
//!
//! Sends are counted in 24 buckets of window/24 each, plus the bucket being
//! filled. Before a send, every bucket that overlaps the last window is
//! counted, the oldest in full: the count can only over-estimate, so no
//! window of the configured length ever holds more than the quota. The price
//! is that a send may wait up to one bucket (1 h by default) longer than a
//! timestamp-per-send log would make it, in 52 bytes per channel instead of 4 KB.

use crate::time::{Duration, Instant, div_rem};

/// Buckets per window; one more is kept for the window's partial oldest edge.
const BUCKETS_PER_WINDOW: u64 = 24;
const RING: usize = BUCKETS_PER_WINDOW as usize + 1;

/// Send counts of one channel over the last window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct QuotaWindow {
    /// Index of the newest bucket written (time / bucket length).
    newest: u64,
    /// Counts by bucket index modulo the ring size.
    counts: [u16; RING],
}

fn bucket_len(window: Duration) -> u64 {
    div_rem(window.as_millis(), BUCKETS_PER_WINDOW).0.max(1)
}

/// The place of bucket `b` in the ring.
fn ring_index(b: u64) -> usize {
    div_rem(b, RING as u64).1 as usize
}

impl QuotaWindow {
    fn bucket(now: Instant, window: Duration) -> u64 {
        div_rem(now.as_millis(), bucket_len(window)).0
    }

    /// Visits the buckets counted in the window that ends in bucket
    /// `current`, oldest first, with each bucket's index and count, until
    /// `f` returns `Some`. They are the ring's buckets from the window's start
    /// (and not older than the ring) to the newest written: the ring is read
    /// in order from one place, without a 64-bit division per bucket.
    fn find_live<T>(&self, current: u64, mut f: impl FnMut(u64, u32) -> Option<T>) -> Option<T> {
        let first = current
            .saturating_sub(BUCKETS_PER_WINDOW)
            .max(self.newest.saturating_sub(BUCKETS_PER_WINDOW));
        let mut i = ring_index(first);
        for b in first..=current.min(self.newest) {
            if let Some(found) = f(b, u32::from(self.counts[i])) {
                return Some(found);
            }
            i = if i + 1 == RING { 0 } else { i + 1 };
        }
        None
    }

    /// Sends counted in the window that ends in bucket `current`.
    fn count_at(&self, current: u64) -> u32 {
        let mut sum = 0;
        self.find_live(current, |_, n| {
            sum += n;
            None::<()>
        });
        sum
    }

    /// Buckets kept, for records.
    pub(crate) const RING: usize = RING;

    /// The newest bucket written and the counts, for records.
    pub(crate) fn parts(&self) -> (u64, &[u16; RING]) {
        (self.newest, &self.counts)
    }

    /// A window from [`Self::parts`]; `None` for a bucket index no clock
    /// reaches (half the range: the arithmetic on it stays far from overflow).
    pub(crate) fn from_parts(newest: u64, counts: [u16; RING]) -> Option<Self> {
        (newest <= u64::MAX / 2).then_some(QuotaWindow { newest, counts })
    }

    /// Sends counted in the window that ends at `now`.
    pub(crate) fn count(&self, now: Instant, window: Duration) -> u32 {
        self.count_at(Self::bucket(now, window))
    }

    /// Counts one send at `now`.
    pub(crate) fn record(&mut self, now: Instant, window: Duration) {
        let current = Self::bucket(now, window);
        if current > self.newest {
            // Clear the buckets that the ring reuses between the newest and now.
            let stale = current - self.newest;
            if stale >= RING as u64 {
                self.counts = [0; RING];
            } else {
                let mut i = ring_index(self.newest);
                for _ in 0..stale {
                    i = if i + 1 == RING { 0 } else { i + 1 };
                    self.counts[i] = 0;
                }
            }
            self.newest = current;
        }
        // `current` is not past the newest bucket now (it is older when the
        // clock went back, and then counts in its own bucket).
        let slot = &mut self.counts[ring_index(current)];
        *slot = slot.saturating_add(1);
    }

    /// When the next send is allowed, if `limit` sends are already counted at `now`.
    pub(crate) fn next_free(&self, now: Instant, window: Duration, limit: u32) -> Option<Instant> {
        let current = Self::bucket(now, window);
        let mut remaining = self.count_at(current);
        if remaining < limit {
            return None;
        }
        // Drop buckets from the oldest until the count falls under the limit:
        // bucket b leaves the window when bucket b + 25 begins.
        let leaves = self
            .find_live(current, |b, n| {
                remaining -= n;
                (remaining < limit).then_some(b)
            })
            .unwrap_or(current);
        Some(Self::left_at(leaves, window))
    }

    /// When bucket `b` has left the window: as bucket `b + 25` begins.
    /// Saturating: near the end of time with a window under 48 ms (one
    /// bucket per millisecond) the bucket index is the time itself.
    fn left_at(b: u64, window: Duration) -> Instant {
        Instant::from_millis(
            b.saturating_add(RING as u64)
                .saturating_mul(bucket_len(window)),
        )
    }

    /// When every send counted now has left the window (from then on
    /// [`Self::is_empty`] holds until the next send).
    pub(crate) fn empty_at(&self, window: Duration) -> Instant {
        Self::left_at(self.newest, window)
    }

    /// The window as its one bucket with sends and their count, when all its
    /// sends are in its newest bucket (the common case of a channel that got
    /// a notification or a few at once): what a server keeps of a channel
    /// that is otherwise forgotten.
    #[cfg(feature = "alloc")]
    pub(crate) fn single(&self) -> Option<(u64, u16)> {
        let newest = ring_index(self.newest);
        let others = self
            .counts
            .iter()
            .enumerate()
            .any(|(i, &n)| i != newest && n != 0);
        (!others).then_some((self.newest, self.counts[newest]))
    }

    /// The window of [`Self::single`].
    #[cfg(feature = "alloc")]
    pub(crate) fn from_single(bucket: u64, count: u16) -> Self {
        let mut window = QuotaWindow {
            newest: bucket,
            counts: [0; RING],
        };
        window.counts[ring_index(bucket)] = count;
        window
    }

    /// When a window of [`Self::single`] holds nothing any more.
    #[cfg(feature = "alloc")]
    pub(crate) fn single_empty_at(bucket: u64, window: Duration) -> Instant {
        Self::from_single(bucket, 0).empty_at(window)
    }

    /// Whether nothing is counted any more at `now` (the channel can be forgotten).
    pub(crate) fn is_empty(&self, now: Instant, window: Duration) -> bool {
        self.count(now, window) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_hours(24);
    const HOUR: u64 = 3_600_000;

    #[test]
    fn counts_over_the_last_window_and_forgets_after_it() {
        let mut q = QuotaWindow::default();
        for i in 0..10 {
            q.record(Instant::from_millis(i * HOUR), DAY);
        }
        assert_eq!(q.count(Instant::from_millis(10 * HOUR), DAY), 10);
        // 24 h after the first send, its bucket still overlaps the window.
        assert_eq!(q.count(Instant::from_millis(24 * HOUR), DAY), 10);
        // 25 h after, it is gone; the others follow one per hour.
        assert_eq!(q.count(Instant::from_millis(25 * HOUR), DAY), 9);
        assert_eq!(q.count(Instant::from_millis(34 * HOUR), DAY), 0);
        assert!(q.is_empty(Instant::from_millis(34 * HOUR), DAY));
    }

    #[test]
    fn next_free_is_when_enough_old_buckets_leave() {
        let mut q = QuotaWindow::default();
        for _ in 0..3 {
            q.record(Instant::from_millis(HOUR / 2), DAY);
        }
        q.record(Instant::from_millis(5 * HOUR), DAY);
        let now = Instant::from_millis(6 * HOUR);
        assert_eq!(q.next_free(now, DAY, 5), None);
        assert_eq!(
            q.next_free(now, DAY, 4),
            Some(Instant::from_millis(25 * HOUR))
        );
        assert_eq!(
            q.next_free(now, DAY, 1),
            Some(Instant::from_millis(30 * HOUR))
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn a_window_with_one_bucket_is_kept_as_that_bucket() {
        let mut q = QuotaWindow::default();
        q.record(Instant::from_millis(5 * HOUR + 10), DAY);
        q.record(Instant::from_millis(5 * HOUR + 20), DAY);
        let (bucket, count) = q.single().unwrap();
        assert_eq!((bucket, count), (5, 2));
        let back = QuotaWindow::from_single(bucket, count);
        for h in [5, 20, 29, 30, 31] {
            let now = Instant::from_millis(h * HOUR);
            assert_eq!(back.count(now, DAY), q.count(now, DAY), "at {h} h");
        }
        assert_eq!(q.empty_at(DAY), Instant::from_millis(30 * HOUR));
        assert!(q.is_empty(q.empty_at(DAY), DAY));
        assert!(!q.is_empty(Instant::from_millis(30 * HOUR - 1), DAY));
        q.record(Instant::from_millis(6 * HOUR), DAY);
        assert_eq!(q.single(), None);
    }

    #[test]
    fn a_long_gap_clears_the_ring() {
        let mut q = QuotaWindow::default();
        q.record(Instant::from_millis(0), DAY);
        q.record(Instant::from_millis(1000 * HOUR), DAY);
        assert_eq!(q.count(Instant::from_millis(1000 * HOUR), DAY), 1);
    }

    #[test]
    fn a_window_of_milliseconds_at_the_end_of_time_saturates() {
        // Under 48 ms a bucket is one millisecond: its index is the time.
        let window = Duration::from_millis(0);
        let end = Instant::from_millis(u64::MAX - 3);
        let mut q = QuotaWindow::default();
        q.record(end, window);
        assert_eq!(q.count(end, window), 1);
        assert_eq!(
            q.next_free(end, window, 1),
            Some(Instant::from_millis(u64::MAX))
        );
        assert_eq!(q.empty_at(window), Instant::from_millis(u64::MAX));
        assert!(!q.is_empty(end, window));
    }
}
