//! A min-priority queue for keys that mostly arrive in order (tickets,
//! deadlines a fixed time after submission): an in-order run in a ring
//! buffer, and a binary heap for the keys that arrive out of order. Pushing
//! and popping in order costs O(1) and touches memory sequentially, which
//! matters with a million entries; the rest costs O(log n) as in a heap.

use alloc::collections::{BinaryHeap, VecDeque};
use core::cmp::Reverse;

pub(super) struct MinQueue<T> {
    run: VecDeque<T>,
    heap: BinaryHeap<Reverse<T>>,
}

impl<T: Ord + Copy> MinQueue<T> {
    pub(super) fn new() -> Self {
        MinQueue {
            run: VecDeque::new(),
            heap: BinaryHeap::new(),
        }
    }

    pub(super) fn push(&mut self, item: T) {
        match self.run.back() {
            Some(last) if item < *last => self.heap.push(Reverse(item)),
            _ => self.run.push_back(item),
        }
    }

    pub(super) fn peek(&self) -> Option<&T> {
        match (self.run.front(), self.heap.peek()) {
            (Some(a), Some(Reverse(b))) => Some(if b < a { b } else { a }),
            (a, b) => a.or(b.map(|Reverse(b)| b)),
        }
    }

    pub(super) fn pop(&mut self) -> Option<T> {
        let from_heap = match (self.run.front(), self.heap.peek()) {
            (Some(a), Some(Reverse(b))) => b < a,
            (None, _) => true,
            (Some(_), None) => false,
        };
        if from_heap {
            self.heap.pop().map(|Reverse(t)| t)
        } else {
            self.run.pop_front()
        }
    }

    pub(super) fn len(&self) -> usize {
        self.run.len() + self.heap.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.run.is_empty() && self.heap.is_empty()
    }

    /// Keeps the entries for which `keep` holds (the run stays in order).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.run.retain(|t| keep(t));
        self.heap.retain(|Reverse(t)| keep(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_order_whatever_the_order_of_pushes() {
        let mut q = MinQueue::new();
        let keys = [5u32, 6, 9, 3, 7, 7, 1, 12, 10, 2, 11];
        for k in keys {
            q.push(k);
        }
        q.retain(|&k| k != 6);
        assert_eq!(q.len(), keys.len() - 1);
        let mut sorted: alloc::vec::Vec<u32> = keys.into_iter().filter(|&k| k != 6).collect();
        sorted.sort();
        let popped: alloc::vec::Vec<u32> = core::iter::from_fn(|| q.pop()).collect();
        assert_eq!(popped, sorted);
        assert!(q.is_empty() && q.peek().is_none());
    }
}
