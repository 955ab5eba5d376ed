//! Global bitmaps with one bit per 32 MiB of address space:
//!
//! * the segment map records where segments are, so `mi_is_in_heap_region` and checked
//!   frees can tell our pointers from others without touching memory that may not be
//!   mapped;
//! * the abandoned map records which segments are abandoned (their thread exited while
//!   blocks in them were live) and not yet claimed. Clearing a segment's bit *is* the
//!   claim: whoever clears it owns the segment, so threads find and take abandoned
//!   segments with one atomic instruction and no lock, wherever the segment came from
//!   (an arena or its own OS mapping). Two summary levels above it let a search skip
//!   empty address space.

use crate::state::Segment;
use crate::sync::{AtomicUsize, AtomicWord, Ordering};
use crate::types::*;

/// Address space covered: 128 TiB (the x86-64 user half).
const MAX_ADDRESS: usize = 128usize << 40;
const CHUNKS: usize = MAX_ADDRESS / SEGMENT_SIZE;
const WORDS: usize = CHUNKS / usize::BITS as usize;

static MAP: [AtomicUsize; WORDS] = [const { AtomicUsize::new(0) }; WORDS];

fn index(addr: usize) -> Option<(usize, usize)> {
    let chunk = addr / SEGMENT_SIZE;
    if chunk >= CHUNKS {
        None
    } else {
        Some((chunk / usize::BITS as usize, chunk % usize::BITS as usize))
    }
}

fn set_range(start: usize, size: usize, on: bool) {
    let mut a = start;
    while a < start + size {
        if let Some((w, b)) = index(a) {
            // Release/Acquire: a reader that sees the bit also sees the segment header
            // written before registration.
            if on {
                MAP[w].fetch_or(1 << b, Ordering::Release);
            } else {
                MAP[w].fetch_and(!(1 << b), Ordering::Release);
            }
        }
        a += SEGMENT_SIZE;
    }
}

/// Record a segment's address range.
///
/// # Safety
/// `seg` must be an initialised segment header.
pub unsafe fn register(seg: *const Segment) {
    set_range(seg as usize, (*seg).segment_size, true);
}

/// Forget a segment's address range (just before its memory goes away).
///
/// # Safety
/// `seg` must be a registered segment header.
pub unsafe fn unregister(seg: *const Segment) {
    set_range(seg as usize, (*seg).segment_size, false);
}

/// Whether the 32 MiB chunk of `addr` belongs to a live segment.
#[inline(always)]
fn is_registered(addr: usize) -> bool {
    match index(addr) {
        // Acquire: pairs with the release in `set_range`.
        Some((w, b)) => MAP[w].load(Ordering::Acquire) & (1 << b) != 0,
        None => false,
    }
}

/// Whether `p` lies in memory of one of our segments.
pub fn is_in_heap_region(p: *const u8) -> bool {
    !p.is_null() && is_registered(p as usize)
}

/// Whether `seg` (a 32 MiB-aligned address) is the header of one of our live segments:
/// its chunk is in the map (so its first bytes are mapped) and its cookie matches.
/// Checked frees ask this of the segment they are about to read, which is the segment
/// of `p - 1` (see `crate::state::ptr_segment`): for a pointer at the very start of a chunk
/// that is the chunk below, so asking the map about `p` itself is not enough.
#[inline(always)]
pub fn is_live_segment(seg: *const Segment) -> bool {
    // (an address, so any value is fine: null maps to chunk 0, where no segment can be)
    let addr = seg as usize;
    // SAFETY: the map says `seg` starts a chunk of a live segment, so its first bytes
    // are mapped (a header, or block memory of a huge segment, whose cookie fails).
    is_registered(addr) && unsafe { (*(addr as *const Segment)).cookie } == addr ^ segment_key()
}

/// The process's key for segment cookies (a segment's cookie is its address XOR the
/// key): the main heap's cookie, set when the main heap is initialised, before any
/// segment exists.
static SEGMENT_KEY: AtomicUsize = AtomicUsize::new(0);

/// The key segment cookies are made with (see `SEGMENT_KEY`).
#[inline(always)]
pub fn segment_key() -> usize {
    // Relaxed: written once, at the main heap's initialisation, before the first
    // segment is made; every segment (and so every pointer that is checked against it)
    // comes after, on the initialising thread or through a synchronising hand-over.
    SEGMENT_KEY.load(Ordering::Relaxed)
}

/// Set the key for segment cookies (the main heap's initialisation only).
pub fn set_segment_key(key: usize) {
    // Relaxed: see `segment_key`.
    SEGMENT_KEY.store(key, Ordering::Relaxed);
}

// --- the abandoned map ------------------------------------------------------------------
//
// Level 0 has one bit per chunk (set: the segment starting in that chunk is abandoned and
// unclaimed); level 1 one bit per level-0 word, level 2 one bit per level-1 word. A
// summary bit is set whenever a bit below it may be set: a marker sets the bits bottom
// up, so a search that finds a summary bit clear may skip what is below it. Summary bits
// are cleared lazily, by a search that finds the word below empty (see `tidy`).
//
// Orderings. The level-0 bit carries the segment: the abandoning thread's writes to the
// segment (its pages, spans, counts) come before its `fetch_or` (AcqRel, releasing them),
// and a claimer's successful `fetch_and` (AcqRel, acquiring) reads from it, so the
// claimer sees the segment as the abandoning thread left it. A later marker (the claimer
// putting a segment back after looking at it) releases its own writes the same way.
// Summary bits carry nothing but the promise above; their RMWs are AcqRel so that the
// lazy clear in `tidy` cannot lose a concurrent marker's bit (argued there).

const L1_WORDS: usize = WORDS / usize::BITS as usize;
const L2_WORDS: usize = L1_WORDS / usize::BITS as usize;
const BITS: usize = usize::BITS as usize;

static ABANDONED: [AtomicUsize; WORDS] = [const { AtomicUsize::new(0) }; WORDS];
static ABANDONED_L1: [AtomicUsize; L1_WORDS] = [const { AtomicUsize::new(0) }; L1_WORDS];
static ABANDONED_L2: [AtomicUsize; L2_WORDS] = [const { AtomicUsize::new(0) }; L2_WORDS];
/// Number of set level-0 bits, or a little more: it is incremented before a bit is set
/// and decremented after one is cleared, so it never underflows.
static ABANDONED_COUNT: AtomicUsize = AtomicUsize::new(0);

/// The levels and the counter of an abandoned map. The allocator has one, the statics
/// above (`levels()`); the loom model (`crate::models`) runs the same code on small maps
/// of loom atomics. `l1` has a bit per word of `l0`, `l2` a bit per word of `l1`.
pub(crate) struct Levels<'a, A> {
    pub l0: &'a [A],
    pub l1: &'a [A],
    pub l2: &'a [A],
    pub count: &'a A,
}

/// The allocator's abandoned map.
#[inline(always)]
fn levels() -> Levels<'static, AtomicUsize> {
    Levels {
        l0: &ABANDONED,
        l1: &ABANDONED_L1,
        l2: &ABANDONED_L2,
        count: &ABANDONED_COUNT,
    }
}

/// Number of abandoned segments not claimed right now (a hint: it can be a moment ahead
/// of the map).
#[inline]
pub fn abandoned_count() -> usize {
    levels().count()
}

/// Mark `seg` abandoned: from now on any thread may claim it. Returns false if `seg`
/// lies outside the address space the map covers (then nobody can ever claim it: never
/// the case for addresses the kernel hands out on x86-64 and arm64 Linux).
///
/// # Safety
/// `seg` must be a segment owned by the caller, in the state its claimer should find it,
/// with `thread_id` 0 already; the caller gives it up.
pub unsafe fn mark_abandoned(seg: *const Segment) -> bool {
    let Some((w, b)) = index(seg as usize) else {
        return false;
    };
    levels().mark(w * BITS + b);
    true
}

impl<A: AtomicWord> Levels<'_, A> {
    /// See `abandoned_count`.
    #[inline]
    pub fn count(&self) -> usize {
        // Relaxed: a heuristic (how hard to look) and an early exit; the map is the truth.
        self.count.load(Ordering::Relaxed)
    }

    /// Set a chunk's bit and the summary bits above it (see `mark_abandoned`).
    pub fn mark(&self, chunk: usize) {
        let (w, b) = (chunk / BITS, chunk % BITS);
        // Relaxed: a counter (see `ABANDONED_COUNT`).
        self.count.fetch_add(1, Ordering::Relaxed);
        // AcqRel: releases the segment to its claimer (see the module note).
        let prev = self.l0[w].fetch_or(1 << b, Ordering::AcqRel);
        debug_assert!(prev & (1 << b) == 0, "segment abandoned twice");
        // AcqRel: see `tidy`.
        self.l1[w / BITS].fetch_or(1 << (w % BITS), Ordering::AcqRel);
        self.l2[w / (BITS * BITS)].fetch_or(1 << ((w / BITS) % BITS), Ordering::AcqRel);
    }

    /// Claim a chunk's bit; true if this call cleared it (the caller owns the segment).
    pub fn claim_chunk(&self, chunk: usize) -> bool {
        let (w, b) = (chunk / BITS, chunk % BITS);
        // Relaxed pre-check: a segment that is not abandoned costs no RMW.
        if self.l0[w].load(Ordering::Relaxed) & (1 << b) == 0 {
            return false;
        }
        // AcqRel: acquires the abandoning thread's writes to the segment (module note).
        let prev = self.l0[w].fetch_and(!(1 << b), Ordering::AcqRel);
        if prev & (1 << b) == 0 {
            return false;
        }
        // Relaxed: a counter.
        self.count.fetch_sub(1, Ordering::Relaxed);
        true
    }
}

/// Claim a chunk's bit of the allocator's map.
fn claim_chunk(chunk: usize) -> bool {
    levels().claim_chunk(chunk)
}

/// Claim a specific abandoned segment (a free into it): true if the caller now owns it,
/// false if it is not abandoned or another thread claimed it first.
///
/// # Safety
/// `seg` must be a live segment (the caller holds a block in it).
pub unsafe fn claim_abandoned(seg: *const Segment) -> bool {
    match index(seg as usize) {
        Some(_) => claim_chunk(seg as usize / SEGMENT_SIZE),
        None => false,
    }
}

/// Whether the segment at `seg` is marked abandoned right now (diagnostics).
pub fn is_marked_abandoned(seg: usize) -> bool {
    match index(seg) {
        // Relaxed: a snapshot for display.
        Some((w, b)) => ABANDONED[w].load(Ordering::Relaxed) & (1 << b) != 0,
        None => false,
    }
}

/// A search through the abandoned map: it starts at a chosen chunk, goes up to the end
/// of the address space and wraps around once.
pub struct AbandonedCursor {
    start: usize,
    next: usize,
    wrapped: bool,
}

impl AbandonedCursor {
    /// A search starting at a chunk chosen by `seed` (a random number, so that threads
    /// searching at the same time spread over different segments).
    pub fn new(seed: usize) -> AbandonedCursor {
        Self::new_in(seed, CHUNKS)
    }

    /// A search of a map of `chunks` chunks (see `claim_next_in`).
    pub(crate) fn new_in(seed: usize, chunks: usize) -> AbandonedCursor {
        let start = seed % chunks;
        AbandonedCursor {
            start,
            next: start,
            wrapped: false,
        }
    }

    /// Claim the next abandoned segment; null when the whole map has been searched.
    /// The claimed segment keeps `thread_id` 0 until the caller sets it.
    pub fn claim_next(&mut self) -> *mut Segment {
        match self.claim_next_in(&levels(), CHUNKS) {
            Some(chunk) => (chunk * SEGMENT_SIZE) as *mut Segment,
            None => core::ptr::null_mut(),
        }
    }

    /// `claim_next` on a map of `chunks` chunks: the chunk claimed.
    pub(crate) fn claim_next_in<A: AtomicWord>(
        &mut self,
        map: &Levels<'_, A>,
        chunks: usize,
    ) -> Option<usize> {
        if map.count() == 0 {
            return None;
        }
        loop {
            let end = if self.wrapped { self.start } else { chunks };
            match map.find_set(self.next, end) {
                Some(chunk) => {
                    self.next = chunk + 1;
                    if map.claim_chunk(chunk) {
                        return Some(chunk);
                    }
                }
                None => {
                    if self.wrapped {
                        self.next = self.start;
                        return None;
                    }
                    self.wrapped = true;
                    self.next = 0;
                }
            }
        }
    }
}

impl<A: AtomicWord> Levels<'_, A> {
    /// The first chunk in `from..end` whose abandoned bit is set (a snapshot).
    pub fn find_set(&self, from: usize, end: usize) -> Option<usize> {
        let mut chunk = from;
        while chunk < end {
            let w = chunk / BITS;
            // Relaxed: a snapshot; the claim validates it.
            let bits = self.l0[w].load(Ordering::Relaxed) & (!0usize << (chunk % BITS));
            if bits != 0 {
                let found = w * BITS + bits.trailing_zeros() as usize;
                return (found < end).then_some(found);
            }
            // The next level-0 word that may have bits.
            chunk = self.find_summary(1, w + 1, end.div_ceil(BITS))? * BITS;
        }
        None
    }

    /// The first word index `i` in `from..end` of the level below summary level `level`
    /// (1 or 2) whose summary bit is set and whose word is not empty (clearing stale
    /// summary bits on the way).
    fn find_summary(&self, level: u32, from: usize, end: usize) -> Option<usize> {
        let (summary, below) = if level == 1 {
            (self.l1, self.l0)
        } else {
            (self.l2, self.l1)
        };
        let mut i = from;
        while i < end {
            let sw = i / BITS;
            // Relaxed: a snapshot (see `tidy` for why a stale bit is harmless).
            let bits = summary[sw].load(Ordering::Relaxed) & (!0usize << (i % BITS));
            if bits == 0 {
                // The next summary word that may have bits.
                i = if level == 1 {
                    self.find_summary(2, sw + 1, end.div_ceil(BITS))? * BITS
                } else {
                    (sw + 1) * BITS
                };
                continue;
            }
            let j = sw * BITS + bits.trailing_zeros() as usize;
            if j >= end {
                return None;
            }
            // Relaxed: as above.
            if below[j].load(Ordering::Relaxed) != 0 || tidy(&summary[sw], &below[j], j % BITS) {
                return Some(j);
            }
            i = j + 1;
        }
        None
    }
}

/// A summary bit was found set over an empty word: clear it. Returns true if the word
/// turned out non-empty after all (the bit is then set again).
///
/// A marker sets the word's bit, then the summary bit; we clear the summary bit, then
/// read the word again. If the marker's summary RMW comes first in the summary word's
/// modification order, our AcqRel clear reads from it, so the marker's word bit
/// happens-before our re-read and we see it and set the summary bit again; otherwise its
/// RMW comes after our clear and sets the summary bit itself. Either way a set word bit
/// keeps its summary bit.
fn tidy<A: AtomicWord>(summary: &A, word: &A, bit: usize) -> bool {
    // AcqRel: see above.
    summary.fetch_and(!(1 << bit), Ordering::AcqRel);
    // Acquire: see above.
    if word.load(Ordering::Acquire) != 0 {
        // AcqRel: as in `mark_abandoned`.
        summary.fetch_or(1 << bit, Ordering::AcqRel);
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Mutex;

    /// The map is global: tests that use it take turns, and each uses addresses of its
    /// own (no real segment lives there: nothing here dereferences them).
    static SERIAL: Mutex<()> = Mutex::new(());

    fn seg(chunk: usize) -> *const Segment {
        (chunk * SEGMENT_SIZE) as *const Segment
    }

    /// Claim everything the map holds from `start` (so tests leave it empty).
    fn drain(start: usize) -> HashSet<usize> {
        let mut cursor = AbandonedCursor::new(start);
        let mut got = HashSet::new();
        loop {
            let s = cursor.claim_next();
            if s.is_null() {
                return got;
            }
            assert!(got.insert(s as usize / SEGMENT_SIZE), "claimed twice");
        }
    }

    #[test]
    #[cfg_attr(
        feature = "override",
        ignore = "with malloc overridden the test process's own abandoned segments are in the map"
    )]
    fn mark_claim_and_search() {
        let _g = SERIAL.lock().unwrap();
        // Chunks in different level-0, level-1 and level-2 words, and at the edges.
        let chunks = [
            1usize,
            63,
            64,
            4095,
            4096,
            262_143,
            262_144,
            1 << 21,
            CHUNKS - 1,
        ];
        for &c in &chunks {
            // SAFETY: an address nobody uses; the map only records it.
            assert!(unsafe { mark_abandoned(seg(c)) });
            assert!(is_marked_abandoned(c * SEGMENT_SIZE));
        }
        assert!(abandoned_count() >= chunks.len());
        // A specific claim succeeds once.
        // SAFETY: as above.
        unsafe {
            assert!(claim_abandoned(seg(4096)));
            assert!(!claim_abandoned(seg(4096)));
        }
        assert!(!is_marked_abandoned(4096 * SEGMENT_SIZE));
        // A search from the middle finds the rest, each once, wrapping around.
        let got = drain(300_000);
        let want: HashSet<usize> = chunks.iter().copied().filter(|&c| c != 4096).collect();
        assert_eq!(got, want);
        assert!(drain(0).is_empty());
        // Outside the covered address space nothing is recorded.
        // SAFETY: as above.
        assert!(!unsafe { mark_abandoned((MAX_ADDRESS + SEGMENT_SIZE) as *const Segment) });
    }

    #[test]
    #[cfg_attr(
        feature = "override",
        ignore = "with malloc overridden the test process's own abandoned segments are in the map"
    )]
    fn stale_summaries_are_tidied() {
        let _g = SERIAL.lock().unwrap();
        let (c, later) = (3 * 4096 + 7, 9 * 4096);
        // SAFETY: addresses nobody uses.
        unsafe {
            assert!(mark_abandoned(seg(c)));
            assert!(mark_abandoned(seg(later)));
            assert!(claim_abandoned(seg(c)));
        }
        // The summary bits are still set over an empty word: a search that passes
        // there (one runs while anything is abandoned) clears them.
        let w = c / BITS;
        assert_ne!(
            ABANDONED_L1[w / BITS].load(Ordering::Relaxed) & (1 << (w % BITS)),
            0
        );
        assert_eq!(drain(0), HashSet::from([later]));
        assert_eq!(
            ABANDONED_L1[w / BITS].load(Ordering::Relaxed) & (1 << (w % BITS)),
            0
        );
    }

    /// Threads mark and claim the same chunks at once: every mark is claimed exactly
    /// once (the bit is the only claim token), whoever claims it.
    #[test]
    #[cfg_attr(
        feature = "override",
        ignore = "with malloc overridden the test process's own abandoned segments are in the map"
    )]
    fn concurrent_marks_and_claims_hand_out_each_segment_once() {
        use std::sync::atomic::AtomicUsize as StdAtomic;
        let _g = SERIAL.lock().unwrap();
        const THREADS: usize = 4;
        const ROUNDS: usize = 2000;
        let claimed = std::sync::Arc::new(StdAtomic::new(0));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let claimed = claimed.clone();
                std::thread::spawn(move || {
                    // Each thread owns chunks base..base+8 when it starts, spread over
                    // words of different summaries; ownership then moves around.
                    let mut mine: Vec<usize> =
                        (0..8).map(|i| 5000 + t * 70_000 + i * 4099).collect();
                    for r in 0..ROUNDS {
                        // Give one up, then claim whatever is there.
                        if let Some(c) = mine.pop() {
                            // SAFETY: we own the (fictional) segment and give it up.
                            assert!(unsafe { mark_abandoned(seg(c)) });
                        }
                        let mut cursor = AbandonedCursor::new(r * 7919 + t);
                        let s = cursor.claim_next();
                        if !s.is_null() {
                            claimed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            mine.push(s as usize / SEGMENT_SIZE);
                        }
                    }
                    mine
                })
            })
            .collect();
        let mut owned: Vec<usize> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        owned.extend(drain(0));
        owned.sort();
        let mut want: Vec<usize> = (0..THREADS)
            .flat_map(|t| (0..8).map(move |i| 5000 + t * 70_000 + i * 4099))
            .collect();
        want.sort();
        // No chunk lost, none owned twice.
        assert_eq!(owned, want);
        assert!(claimed.load(std::sync::atomic::Ordering::Relaxed) > 0);
    }
}
