//! Atomic bitmaps over arrays of words, used by arenas to claim runs of blocks without a
//! lock. A run claimed by `try_find_claim` always lies within one word (at most 64
//! blocks = 2 GiB of arena); the other operations accept runs that cross words.

use crate::sync::{AtomicWord, Ordering};

pub const BITS: usize = usize::BITS as usize;

/// Mask of `count` bits starting at `bit` within one word.
#[inline]
fn mask(count: usize, bit: usize) -> usize {
    debug_assert!(count > 0 && bit + count <= BITS);
    if count == BITS {
        usize::MAX
    } else {
        ((1usize << count) - 1) << bit
    }
}

/// Find `count` consecutive zero bits in one word and set them atomically, trying the
/// words round-robin from `start_word`. Returns the bit index of the run.
pub fn try_find_claim<A: AtomicWord>(
    words: &[A],
    start_word: usize,
    count: usize,
) -> Option<usize> {
    try_find_claim_within(words, None, start_word, count)
}

/// As `try_find_claim`, but only runs whose bits are all set in `allowed` (a snapshot
/// of it: a hint for which runs to prefer) qualify; with `None`, every run.
pub fn try_find_claim_within<A: AtomicWord>(
    words: &[A],
    allowed: Option<&[A]>,
    start_word: usize,
    count: usize,
) -> Option<usize> {
    if count == 0 || count > BITS || words.is_empty() {
        return None;
    }
    let n = words.len();
    for i in 0..n {
        let w = (start_word + i) % n;
        // Relaxed: a hint; the claim validates only `words`.
        let excluded = allowed.map_or(0, |a| !a[w].load(Ordering::Relaxed));
        if let Some(bit) = try_claim_in_word(&words[w], count, excluded) {
            return Some(w * BITS + bit);
        }
    }
    None
}

/// Claim a run of `count` zero bits of `word` that are also zero in `excluded`.
fn try_claim_in_word<A: AtomicWord>(word: &A, count: usize, excluded: usize) -> Option<usize> {
    // Relaxed: only a snapshot to search in; the CAS below validates it.
    let mut current = word.load(Ordering::Relaxed);
    loop {
        let map = current | excluded;
        if map == usize::MAX {
            return None;
        }
        // Find the lowest run of `count` zeros in `map`.
        let mut bit = (!map).trailing_zeros() as usize;
        let mut found = None;
        while bit + count <= BITS {
            let m = mask(count, bit);
            if map & m == 0 {
                found = Some(bit);
                break;
            }
            // Skip past the highest set bit in the window.
            let busy = map & m;
            bit = BITS - busy.leading_zeros() as usize;
            if bit >= BITS {
                break;
            }
            let rest = !map >> bit;
            if rest == 0 {
                break;
            }
            bit += rest.trailing_zeros() as usize;
        }
        let bit = found?;
        let m = mask(count, bit);
        // AcqRel: acquiring makes the previous owner's writes (and its release of these
        // blocks) visible; releasing orders our claim before later use of the blocks.
        match word.compare_exchange_weak(current, current | m, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => return Some(bit),
            Err(cur) => current = cur,
        }
    }
}

/// Apply `f(word, mask)` to every word a run of bits covers.
fn for_each_word<A: AtomicWord>(
    words: &[A],
    idx: usize,
    count: usize,
    mut f: impl FnMut(&A, usize),
) {
    let mut idx = idx;
    let mut left = count;
    while left > 0 {
        let w = idx / BITS;
        let bit = idx % BITS;
        let n = left.min(BITS - bit);
        f(&words[w], mask(n, bit));
        idx += n;
        left -= n;
    }
}

/// Clear a run. Returns true if all its bits were set before.
pub fn unclaim<A: AtomicWord>(words: &[A], idx: usize, count: usize) -> bool {
    let mut all = true;
    for_each_word(words, idx, count, |w, m| {
        // AcqRel: release publishes our use of the blocks to the next claimer.
        let prev = w.fetch_and(!m, Ordering::AcqRel);
        all &= prev & m == m;
    });
    all
}

/// Set a run. Returns true if all its bits were clear before.
pub fn claim<A: AtomicWord>(words: &[A], idx: usize, count: usize) -> bool {
    let mut all_clear = true;
    for_each_word(words, idx, count, |w, m| {
        // AcqRel: as in `try_claim_in_word`.
        let prev = w.fetch_or(m, Ordering::AcqRel);
        all_clear &= prev & m == 0;
    });
    all_clear
}

/// Whether every bit of a run is set.
pub fn is_claimed<A: AtomicWord>(words: &[A], idx: usize, count: usize) -> bool {
    let mut all = true;
    for_each_word(words, idx, count, |w, m| {
        // Acquire: a true answer lets the caller rely on what the setter wrote.
        all &= w.load(Ordering::Acquire) & m == m;
    });
    all
}

/// Whether any bit of a run is set.
pub fn is_any_claimed<A: AtomicWord>(words: &[A], idx: usize, count: usize) -> bool {
    let mut any = false;
    for_each_word(words, idx, count, |w, m| {
        // Relaxed: a hint (callers re-validate with a claim).
        any |= w.load(Ordering::Relaxed) & m != 0;
    });
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::AtomicUsize;

    fn words(n: usize) -> Vec<AtomicUsize> {
        (0..n).map(|_| AtomicUsize::new(0)).collect()
    }

    #[test]
    fn claims_runs_within_a_word() {
        let w = words(2);
        assert_eq!(try_find_claim(&w, 0, 3), Some(0));
        assert_eq!(try_find_claim(&w, 0, 1), Some(3));
        assert_eq!(try_find_claim(&w, 0, 60), Some(4));
        // Word 0 has 0 bits left: the next run goes to word 1.
        assert_eq!(try_find_claim(&w, 0, 2), Some(64));
        assert!(unclaim(&w, 3, 1));
        assert_eq!(try_find_claim(&w, 0, 1), Some(3));
        assert_eq!(try_find_claim(&w, 0, 64), None);
    }

    #[test]
    fn finds_gap_after_busy_bits() {
        let w = words(1);
        assert!(claim(&w, 0, 5));
        assert!(claim(&w, 7, 2));
        assert_eq!(try_find_claim(&w, 0, 3), Some(9));
        assert_eq!(try_find_claim(&w, 0, 2), Some(5));
    }

    #[test]
    fn claims_within_allowed_runs_first() {
        let w = words(2);
        let allowed = words(2);
        // Allowed: bits 10..13 of word 0 and 3..5 of word 1.
        assert!(claim(&allowed, 10, 3));
        assert!(claim(&allowed, 67, 2));
        assert_eq!(try_find_claim_within(&w, Some(&allowed), 0, 2), Some(10));
        assert_eq!(try_find_claim_within(&w, Some(&allowed), 0, 2), Some(67));
        // Only one allowed bit is left (12): no run of 2 within; 1 fits.
        assert_eq!(try_find_claim_within(&w, Some(&allowed), 0, 2), None);
        assert_eq!(try_find_claim_within(&w, Some(&allowed), 0, 1), Some(12));
        // Without a restriction the lowest free run anywhere.
        assert_eq!(try_find_claim_within(&w, None, 0, 2), Some(0));
    }

    #[test]
    fn cross_word_runs() {
        let w = words(3);
        assert!(claim(&w, 60, 10));
        assert!(is_claimed(&w, 60, 10));
        assert!(!is_claimed(&w, 59, 2));
        assert!(is_any_claimed(&w, 50, 11));
        assert!(!claim(&w, 69, 2));
        assert!(!unclaim(&w, 60, 12));
        assert!(!is_any_claimed(&w, 0, 192));
    }

    #[test]
    fn concurrent_claims_are_exclusive() {
        use std::sync::Arc;
        let w: Arc<Vec<AtomicUsize>> = Arc::new(words(4));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let w = w.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some(i) = try_find_claim(&w, t, 1) {
                        got.push(i);
                    }
                    got
                })
            })
            .collect();
        let mut all: Vec<usize> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort();
        assert_eq!(all, (0..256).collect::<Vec<_>>());
    }
}
