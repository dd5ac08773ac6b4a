//! Kept-alive connections, one per host, for the stream clients of
//! [`crate::blocking`] and [`crate::asynch`]. The exchange on each
//! connection is the core's [`mpns_proto::HttpExchange`].

use mpns_proto::ChannelUri;

/// Identifies a connection endpoint: scheme, host (case-insensitively) and
/// port, hashed (FNV-1a, 64 bits) so the pool stores 8 bytes per entry.
pub(crate) fn host_key(channel: &ChannelUri<'_>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for b in channel.uri().scheme().as_str().bytes() {
        eat(b);
    }
    eat(0xff);
    for b in channel.host().bytes() {
        eat(b.to_ascii_lowercase());
    }
    eat(0xff);
    for b in channel.port().to_le_bytes() {
        eat(b);
    }
    h
}

/// Kept-alive connections, at most one per host and `N` in all; the least
/// recently used goes first when a new host needs room.
///
/// A plain array with use stamps rather than an ordered `heapless::Vec`:
/// removing from the middle of a vector pulls `memmove` (1.5 KiB on Cortex-M)
/// into the firmware.
pub(crate) struct Pool<T, const N: usize> {
    entries: [Place<T>; N],
    clock: u32,
}

/// A place in the pool. An explicit tag, 0 for free, rather than
/// `Option<Entry>`, whose `None` may live in a niche of the connection type:
/// filling the pool with that takes a `memset` on microcontrollers.
#[repr(u8)]
enum Place<T> {
    Free = 0,
    Kept(Entry<T>),
}

impl<T> Place<T> {
    fn take(&mut self) -> Option<Entry<T>> {
        match core::mem::replace(self, Place::Free) {
            Place::Free => None,
            Place::Kept(e) => Some(e),
        }
    }

    fn key(&self) -> Option<u64> {
        match self {
            Place::Free => None,
            Place::Kept(e) => Some(e.key),
        }
    }
}

struct Entry<T> {
    key: u64,
    conn: T,
    used: u32,
}

impl<T, const N: usize> Pool<T, N> {
    pub(crate) const fn new() -> Self {
        Pool {
            entries: [const { Place::Free }; N],
            clock: 0,
        }
    }

    /// Takes the open connection to `key`, if any.
    pub(crate) fn take(&mut self, key: u64) -> Option<T> {
        self.entries
            .iter_mut()
            .find(|e| e.key() == Some(key))
            .and_then(Place::take)
            .map(|e| e.conn)
    }

    /// Keeps `conn` for `key`; returns the connection that no longer fits
    /// (the least recently used, or `conn` itself when `N` is 0).
    pub(crate) fn put(&mut self, key: u64, conn: T) -> Option<T> {
        self.clock = self.clock.wrapping_add(1);
        let entry = Entry {
            key,
            conn,
            used: self.clock,
        };
        let clock = self.clock;
        // A free place, else the least recently used (the oldest stamp).
        let place = self.entries.iter_mut().min_by_key(|e| match e {
            Place::Free => (0, 0),
            Place::Kept(e) => (1, u32::MAX - clock.wrapping_sub(e.used)),
        });
        match place {
            Some(place) => core::mem::replace(place, Place::Kept(entry))
                .take()
                .map(|old| old.conn),
            None => Some(entry.conn),
        }
    }

    /// Takes any connection (to close them all).
    pub(crate) fn pop(&mut self) -> Option<T> {
        self.entries
            .iter_mut()
            .find_map(Place::take)
            .map(|e| e.conn)
    }

    /// Open connections.
    pub(crate) fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.key().is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_keeps_one_per_key_and_evicts_the_least_recently_used() {
        let mut pool: Pool<&str, 2> = Pool::new();
        assert_eq!(pool.put(1, "a"), None);
        assert_eq!(pool.put(2, "b"), None);
        assert_eq!(pool.take(1), Some("a"));
        assert_eq!(pool.put(1, "a"), None);
        assert_eq!(pool.put(3, "c"), Some("b"), "2 was used least recently");
        assert_eq!(pool.take(2), None);
        assert_eq!(pool.len(), 2);
        let mut none: Pool<&str, 0> = Pool::new();
        assert_eq!(none.put(1, "a"), Some("a"));
    }

    #[test]
    fn host_keys_ignore_case_and_path_but_not_scheme_or_port() {
        let key = |u| host_key(&ChannelUri::parse(u).unwrap());
        let base = key("http://db3.notify.live.net/a/1");
        assert_eq!(base, key("http://DB3.Notify.Live.Net/b/2?q"));
        assert_eq!(base, key("http://db3.notify.live.net:80/a"));
        assert_ne!(base, key("https://db3.notify.live.net/a/1"));
        assert_ne!(base, key("http://db3.notify.live.net:8080/a/1"));
        assert_ne!(base, key("http://sn1.notify.live.net/a/1"));
    }
}
