//! Fault injection into the OS layer, for tests only (cargo feature `fault_injection`,
//! which no shipped build enables: the C library's crate and CMake never turn it on,
//! and without it this module and every call into it do not exist).
//!
//! Each injection point is one kind of system call in `prim`: mapping memory (`mmap`),
//! committing it (`mprotect` read-write), protecting it (`mprotect` no-access: guard
//! pages and secure decommit) and purging it (`madvise` DONTNEED/FREE). A point can be
//! made to fail at its Nth call from now, at every call, or at random with a given
//! probability; a failed call does nothing and reports `ENOMEM`, as the kernel does when
//! it runs out of memory or mappings. Calls and injected failures are counted.

use crate::sync::{AtomicU64, AtomicUsize, Ordering};

/// An injection point: one kind of OS call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Point {
    /// `mmap` of fresh memory (segments outside arenas, arenas, thread data).
    Mmap = 0,
    /// Making reserved memory read-write (`mprotect`).
    Commit = 1,
    /// Making memory inaccessible (`mprotect`: guard pages, secure decommit).
    Protect = 2,
    /// Returning physical memory (`madvise`).
    Purge = 3,
}

impl Point {
    /// The point of a `prim::protect` call: making memory accessible commits it.
    pub fn of_protect(accessible: bool) -> Point {
        if accessible {
            Point::Commit
        } else {
            Point::Protect
        }
    }
}

/// All points, for tests that go through each.
pub const POINTS: [Point; 4] = [Point::Mmap, Point::Commit, Point::Protect, Point::Purge];

/// When a point fails.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Never (the default).
    Off,
    /// At the Nth call from now (1 = the next call), once.
    Nth(usize),
    /// At every call.
    Always,
    /// Each call with probability `per_65536` / 65536, from a generator seeded with
    /// `seed` (the same seed gives the same sequence for the same calls).
    Random { per_65536: u32, seed: u64 },
}

const OFF: usize = 0;
const NTH: usize = 1;
const ALWAYS: usize = 2;
const RANDOM: usize = 3;

struct State {
    mode: AtomicUsize,
    /// Nth: calls left before the failing one; Random: the probability.
    arg: AtomicUsize,
    rng: AtomicU64,
    calls: AtomicUsize,
    injected: AtomicUsize,
    injected_bytes: AtomicUsize,
}

impl State {
    const fn new() -> State {
        State {
            mode: AtomicUsize::new(OFF),
            arg: AtomicUsize::new(0),
            rng: AtomicU64::new(0),
            calls: AtomicUsize::new(0),
            injected: AtomicUsize::new(0),
            injected_bytes: AtomicUsize::new(0),
        }
    }
}

static STATE: [State; 4] = [State::new(), State::new(), State::new(), State::new()];

// Orderings: all Relaxed. The test that sets a mode and the allocator calls it then
// makes are on one thread, or are ordered by the test's own synchronisation (thread
// spawn/join); the counters are statistics. A racing call may see the old or the new
// mode, which is fine for fault injection.

/// Set when `point` fails from now on.
pub fn set(point: Point, mode: Mode) {
    let s = &STATE[point as usize];
    // Relaxed: see the note above.
    match mode {
        Mode::Off => s.mode.store(OFF, Ordering::Relaxed),
        Mode::Nth(n) => {
            s.arg.store(n.max(1), Ordering::Relaxed);
            s.mode.store(NTH, Ordering::Relaxed);
        }
        Mode::Always => s.mode.store(ALWAYS, Ordering::Relaxed),
        Mode::Random { per_65536, seed } => {
            s.arg.store(per_65536 as usize, Ordering::Relaxed);
            // (xorshift needs a non-zero state)
            s.rng.store(seed | 1, Ordering::Relaxed);
            s.mode.store(RANDOM, Ordering::Relaxed);
        }
    }
}

/// Turn every point off.
pub fn clear() {
    for p in POINTS {
        set(p, Mode::Off);
    }
}

/// Calls made at `point` since the start (whether they failed or not).
pub fn calls(point: Point) -> usize {
    // Relaxed: a statistic.
    STATE[point as usize].calls.load(Ordering::Relaxed)
}

/// Failures injected at `point` since the start.
pub fn injected(point: Point) -> usize {
    // Relaxed: a statistic.
    STATE[point as usize].injected.load(Ordering::Relaxed)
}

/// Bytes the failures injected at `point` were about (e.g. how much memory a failed
/// purge left resident).
pub fn injected_bytes(point: Point) -> usize {
    // Relaxed: a statistic.
    STATE[point as usize].injected_bytes.load(Ordering::Relaxed)
}

/// Called by `prim` before each call at `point` on `size` bytes: true if this one must
/// fail.
#[inline]
pub(crate) fn should_fail(point: Point, size: usize) -> bool {
    let s = &STATE[point as usize];
    // Relaxed (all of them): see the note above.
    s.calls.fetch_add(1, Ordering::Relaxed);
    let fail = match s.mode.load(Ordering::Relaxed) {
        NTH => {
            // The call that takes the count from 1 to 0 fails; then the point is off.
            let left = s.arg.fetch_sub(1, Ordering::Relaxed);
            if left == 1 {
                s.mode.store(OFF, Ordering::Relaxed);
            }
            left == 1
        }
        ALWAYS => true,
        RANDOM => {
            let mut x = s.rng.load(Ordering::Relaxed);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.rng.store(x, Ordering::Relaxed);
            (x >> 48) < s.arg.load(Ordering::Relaxed) as u64
        }
        _ => false,
    };
    if fail {
        s.injected.fetch_add(1, Ordering::Relaxed);
        s.injected_bytes.fetch_add(size, Ordering::Relaxed);
    }
    fail
}
