//! [`ChunkedVec`]: a vector that grows by whole chunks, for the memory
//! store's ever-growing logs (transactions, audit records).
//!
//! A `Vec` that doubles copies everything it holds into fresh memory each
//! time; for a log of millions of records that copy, and the page faults of
//! the new block, took a fifth of the memory store's write time. A full
//! chunk never moves, so appending costs the same at any length. The first
//! chunk grows as a `Vec` does, so a short list (one account's postings)
//! costs no more than a `Vec`.

/// Elements per chunk: a power of two, so an index splits with a shift.
const CHUNK_LEN: usize = 4096;

/// An indexable, append-mostly sequence stored in fixed-size chunks. Every
/// chunk but the last is full, so element `i` is in chunk `i / CHUNK_LEN`.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedVec<T> {
    chunks: Vec<Vec<T>>,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec { chunks: Vec::new() }
    }
}

impl<T> ChunkedVec<T> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.chunks.last().map_or(0, |last| (self.chunks.len() - 1) * CHUNK_LEN + last.len())
    }

    /// Appends `value` at the end.
    pub fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK_LEN => chunk.push(value),
            last => {
                // The first chunk grows by doubling (to exactly CHUNK_LEN);
                // later ones are allocated whole.
                let capacity = if last.is_some() { CHUNK_LEN } else { 0 };
                let mut chunk = Vec::with_capacity(capacity);
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
    }

    /// The element at `index`.
    pub fn get(&self, index: usize) -> Option<&T> {
        self.chunks.get(index / CHUNK_LEN)?.get(index % CHUNK_LEN)
    }

    /// The element at `index`, to change in place.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.chunks.get_mut(index / CHUNK_LEN)?.get_mut(index % CHUNK_LEN)
    }

    /// The last element.
    pub fn last(&self) -> Option<&T> {
        self.chunks.last()?.last()
    }

    /// The index of the first element for which `pred` is false, given that
    /// it is true for a prefix and false after (as `slice::partition_point`).
    pub fn partition_point(&self, pred: impl Fn(&T) -> bool) -> usize {
        let full = self.chunks.partition_point(|chunk| chunk.last().is_some_and(&pred));
        match self.chunks.get(full) {
            Some(chunk) => full * CHUNK_LEN + chunk.partition_point(&pred),
            None => self.len(),
        }
    }

    /// The elements at `start..end` (clamped to the length), in order; it
    /// runs backwards too.
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &T> {
        let len = self.len();
        (start.min(len)..end.min(len)).filter_map(|i| self.get(i))
    }

    /// Inserts `value` at `index`, shifting the rest up. Linear in the
    /// length: the memory store appends in order and calls this only to
    /// repair an order it never breaks.
    pub fn insert(&mut self, index: usize, value: T) {
        let mut all: Vec<T> = std::mem::take(&mut self.chunks).into_iter().flatten().collect();
        all.insert(index.min(all.len()), value);
        for item in all {
            self.push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: usize) -> ChunkedVec<usize> {
        let mut v = ChunkedVec::default();
        for i in 0..n {
            v.push(i);
        }
        v
    }

    #[test]
    fn indexes_across_chunk_boundaries_like_a_vec() {
        let n = 3 * CHUNK_LEN + 17;
        let v = filled(n);
        assert_eq!(v.len(), n);
        for i in [0, 1, CHUNK_LEN - 1, CHUNK_LEN, 2 * CHUNK_LEN + 5, n - 1] {
            assert_eq!(v.get(i), Some(&i));
        }
        assert_eq!(v.get(n), None);
        assert_eq!(v.last(), Some(&(n - 1)));
        assert_eq!(ChunkedVec::<usize>::default().last(), None);
    }

    #[test]
    fn a_short_list_costs_a_vec_and_later_chunks_are_allocated_whole() {
        let short = filled(3);
        assert!(short.chunks.iter().map(Vec::capacity).sum::<usize>() < 16, "no chunk reserved up front");
        let long = filled(CHUNK_LEN + 1);
        let capacities: Vec<usize> = long.chunks.iter().map(Vec::capacity).collect();
        assert_eq!(capacities, vec![CHUNK_LEN, CHUNK_LEN]);
    }

    #[test]
    fn partition_point_matches_the_slice_one_at_every_cut() {
        let n = 2 * CHUNK_LEN + 3;
        let v = filled(n);
        let plain: Vec<usize> = (0..n).collect();
        for cut in [0, 1, CHUNK_LEN - 1, CHUNK_LEN, CHUNK_LEN + 1, 2 * CHUNK_LEN, n - 1, n, n + 5] {
            assert_eq!(v.partition_point(|x| *x < cut), plain.partition_point(|x| *x < cut), "cut {cut}");
        }
        assert_eq!(ChunkedVec::<usize>::default().partition_point(|_| true), 0);
    }

    #[test]
    fn ranges_run_both_ways_and_clamp_to_the_length() {
        let v = filled(CHUNK_LEN + 10);
        let forward: Vec<usize> = v.range(CHUNK_LEN - 2, CHUNK_LEN + 2).copied().collect();
        assert_eq!(forward, vec![CHUNK_LEN - 2, CHUNK_LEN - 1, CHUNK_LEN, CHUNK_LEN + 1]);
        let backward: Vec<usize> = v.range(0, 3).rev().copied().collect();
        assert_eq!(backward, vec![2, 1, 0]);
        assert_eq!(v.range(CHUNK_LEN + 8, usize::MAX).count(), 2);
        assert_eq!(v.range(usize::MAX, usize::MAX).count(), 0);
    }

    #[test]
    fn insert_and_get_mut_keep_every_other_element_in_place() {
        let mut v = filled(CHUNK_LEN + 1);
        v.insert(CHUNK_LEN - 1, 99_999);
        assert_eq!(v.len(), CHUNK_LEN + 2);
        assert_eq!(v.get(CHUNK_LEN - 2), Some(&(CHUNK_LEN - 2)));
        assert_eq!(v.get(CHUNK_LEN - 1), Some(&99_999));
        assert_eq!(v.get(CHUNK_LEN), Some(&(CHUNK_LEN - 1)));
        assert_eq!(v.last(), Some(&CHUNK_LEN));
        if let Some(x) = v.get_mut(0) {
            *x = 7;
        }
        assert_eq!(v.get(0), Some(&7));
        v.push(1);
        assert_eq!(v.last(), Some(&1));
    }
}
