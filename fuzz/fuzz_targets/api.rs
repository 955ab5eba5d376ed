//! The API fuzzer: each input is a program of allocator calls (malloc, calloc, zalloc,
//! realloc, aligned allocation, posix_memalign, heap_new/heap_destroy/heap_delete,
//! allocation in a heap, usable_size, free, free_size, collect) on the default heap and
//! up to three heaps, run against a shadow model of what must hold:
//!
//! * a request of at most 48 MiB never fails;
//! * the block is aligned as asked (at least 8), and `usable_size >= request`;
//! * calloc/zalloc blocks read as zeros;
//! * no two live blocks overlap;
//! * a block keeps the bytes written into it until it is freed, and realloc keeps the
//!   common prefix;
//! * heap_destroy frees exactly the blocks of that heap; heap_delete leaves them to the
//!   default heap, alive.
//!
//! Any violation panics, which libFuzzer reports as a crash with the input that caused
//! it; the allocator's own checks (debug and secure builds) abort likewise.
#![no_main]

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::ptr::null_mut;

use libfuzzer_sys::fuzz_target;
use mimalloc::capi::*;

/// A live block of the shadow model.
struct Block {
    size: usize,
    /// The heap it lives in: 0 the default heap, else 1 + an index into `heaps`.
    heap: usize,
    /// The byte pattern written into it.
    tag: u8,
}

/// The bytes of the program, read one by one (zeros once they run out).
struct Program<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Program<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }
    /// A request size: mostly small, sometimes medium or large, rarely huge.
    fn size(&mut self) -> usize {
        let class = self.byte();
        let x = u16::from_le_bytes([self.byte(), self.byte()]) as usize;
        match class % 16 {
            0..=5 => x % 129,               // tiny, including 0
            6..=9 => x % 1025,              // small
            10..=12 => x * 2 % (128 << 10), // medium, up to 128 KiB
            13..=14 => x * 64 % (8 << 20),  // large, up to 8 MiB
            _ => (16 << 20) + x * 512,      // huge, 16 to 48 MiB
        }
    }
    /// An alignment: a power of two up to 4 MiB, rarely 32 or 64 MiB.
    fn alignment(&mut self) -> usize {
        let b = self.byte();
        if b == 255 {
            32 << 20 << (self.byte() % 2)
        } else {
            1 << (b % 23)
        }
    }
}

/// Where the sampled checks of a big block look: everything up to 64 KiB, else the first
/// and last 4 KiB and one word every 64 KiB.
fn sample(size: usize, mut f: impl FnMut(usize, usize)) {
    const ALL: usize = 64 << 10;
    if size <= ALL {
        f(0, size);
        return;
    }
    f(0, 4096);
    f(size - 4096, size);
    let mut at = 4096;
    while at + 8 <= size - 4096 {
        f(at, at + 8);
        at += ALL;
    }
}

/// Check that the block at `p` holds what was written into `b` (at `b`'s sampled
/// places) in its first `upto` bytes.
unsafe fn verify_at(p: usize, b: &Block, upto: usize) {
    let bytes = p as *const u8;
    sample(b.size, |from, to| {
        for i in from..to.min(upto) {
            assert_eq!(
                *bytes.add(i),
                b.tag,
                "byte {i} of the block at {p:#x} changed"
            );
        }
    });
}

struct Shadow {
    live: BTreeMap<usize, Block>,
    heaps: Vec<*mut mi_heap_t>,
    next_tag: u8,
}

impl Shadow {
    fn heap_ptr(&self, heap: usize) -> *mut mi_heap_t {
        if heap == 0 {
            mi_heap_get_default()
        } else {
            self.heaps[heap - 1]
        }
    }

    /// Check and record a new block `p` of `size` bytes, `align`-aligned, in `heap`;
    /// `zero` if it must read as zeros. Fills it with a fresh tag.
    unsafe fn add(&mut self, p: *mut c_void, size: usize, align: usize, heap: usize, zero: bool) {
        assert!(
            !p.is_null(),
            "allocation of {size} bytes (alignment {align}) failed"
        );
        let a = p as usize;
        assert_eq!(a % align.max(8), 0, "{a:#x} not aligned to {align}");
        assert!(mi_usable_size(p) >= size, "usable size below {size}");
        // no overlap with the live blocks before and after it
        if let Some((&q, b)) = self.live.range(..=a).next_back() {
            assert!(
                q + b.size.max(1) <= a,
                "{a:#x} overlaps the block at {q:#x}"
            );
        }
        if let Some((&q, _)) = self.live.range(a + 1..).next() {
            assert!(
                a + size.max(1) <= q,
                "{a:#x}+{size} overlaps the block at {q:#x}"
            );
        }
        let bytes = p as *mut u8;
        if zero {
            sample(size, |from, to| {
                for i in from..to {
                    assert_eq!(*bytes.add(i), 0, "byte {i} of a zeroed block of {size}");
                }
            });
        }
        self.next_tag = self.next_tag.wrapping_add(1).max(1);
        let tag = self.next_tag;
        sample(size, |from, to| {
            std::ptr::write_bytes(bytes.add(from), tag, to - from)
        });
        self.live.insert(a, Block { size, heap, tag });
    }

    /// Check that live block `p` still holds its tag.
    unsafe fn verify(&self, p: usize) {
        verify_at(p, &self.live[&p], usize::MAX);
    }

    /// The `n`-th live block (in address order), if any.
    fn pick(&self, n: u8) -> Option<usize> {
        if self.live.is_empty() {
            return None;
        }
        self.live.keys().nth(n as usize % self.live.len()).copied()
    }

    unsafe fn free(&mut self, p: usize, sized: bool) {
        self.verify(p);
        let b = self.live.remove(&p).unwrap();
        if sized {
            mi_free_size(p as *mut c_void, b.size);
        } else {
            mi_free(p as *mut c_void);
        }
    }

    /// Realloc block `p` to `size` in `heap` (0: with mi_realloc).
    unsafe fn realloc(&mut self, p: usize, size: usize, heap: usize) {
        self.verify(p);
        let old = self.live.remove(&p).unwrap();
        let q = if heap == 0 {
            mi_realloc(p as *mut c_void, size)
        } else {
            mi_heap_realloc(self.heap_ptr(heap), p as *mut c_void, size)
        };
        assert!(!q.is_null(), "realloc to {size} failed");
        // the common prefix survived
        verify_at(q as usize, &old, old.size.min(size));
        let moved_to = if q as usize == p { old.heap } else { heap };
        self.add(q, size, 8, moved_to, false);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut prog = Program { bytes: data, at: 0 };
    let mut s = Shadow {
        live: BTreeMap::new(),
        heaps: Vec::new(),
        next_tag: 0,
    };
    // SAFETY: every pointer passed to the allocator is a live block of the shadow model
    // (or a heap it created and has not destroyed or deleted).
    unsafe {
        let mut steps = 0;
        while !prog.done() && steps < 256 {
            steps += 1;
            let op = prog.byte();
            // the heap an operation uses: the default one or a live heap
            let hsel = prog.byte() as usize % (s.heaps.len() + 1);
            match op % 16 {
                0 | 1 => {
                    let n = prog.size();
                    let p = mi_heap_malloc(s.heap_ptr(hsel), n);
                    s.add(p, n, 8, hsel, false);
                }
                2 => {
                    let n = prog.size();
                    let p = mi_malloc(n);
                    s.add(p, n, 8, 0, false);
                }
                3 => {
                    let n = prog.size();
                    let p = mi_heap_zalloc(s.heap_ptr(hsel), n);
                    s.add(p, n, 8, hsel, true);
                }
                4 => {
                    let count = prog.byte() as usize % 17;
                    let n = prog.size() / 16;
                    let p = mi_heap_calloc(s.heap_ptr(hsel), count, n);
                    s.add(p, count * n, 8, hsel, true);
                }
                5 => {
                    let n = prog.size();
                    let align = prog.alignment();
                    let p = mi_heap_malloc_aligned(s.heap_ptr(hsel), n, align);
                    s.add(p, n, align, hsel, false);
                }
                6 => {
                    let n = prog.size();
                    let align = prog.alignment().min(1 << 20);
                    let offset = prog.byte() as usize * 8 % align.max(8);
                    let p = mi_zalloc_aligned_at(n, align, offset);
                    assert!(!p.is_null(), "zalloc_aligned_at failed");
                    assert_eq!((p as usize + offset) % align, 0, "offset alignment");
                    s.add(p, n, 8, 0, true);
                }
                7 => {
                    let n = prog.size();
                    let align = 8 << (prog.byte() % 12);
                    let mut p: *mut c_void = null_mut();
                    assert_eq!(mi_posix_memalign(&mut p, align, n), 0, "posix_memalign");
                    s.add(p, n, align, 0, false);
                }
                8 | 9 => {
                    if let Some(p) = s.pick(prog.byte()) {
                        let sized = op & 1 == 1;
                        s.free(p, sized);
                    }
                }
                10 => {
                    if let Some(p) = s.pick(prog.byte()) {
                        let n = prog.size();
                        s.realloc(p, n, hsel);
                    }
                }
                11 => {
                    if let Some(p) = s.pick(prog.byte()) {
                        let b = &s.live[&p];
                        assert!(mi_usable_size(p as *const c_void) >= b.size);
                    }
                }
                12 if s.heaps.len() < 3 => {
                    let h = mi_heap_new();
                    assert!(!h.is_null(), "heap_new failed");
                    s.heaps.push(h);
                }
                13 | 14 if hsel > 0 => {
                    let h = s.heaps.remove(hsel - 1);
                    let destroy = op % 16 == 13;
                    // renumber: blocks of later heaps move down one; this heap's blocks
                    // are freed (destroy) or go to the default heap (delete)
                    let mut gone = Vec::new();
                    for (&p, b) in s.live.iter_mut() {
                        if b.heap == hsel {
                            if destroy {
                                gone.push(p);
                            } else {
                                b.heap = 0;
                            }
                        } else if b.heap > hsel {
                            b.heap -= 1;
                        }
                    }
                    for p in gone {
                        s.verify(p);
                        s.live.remove(&p);
                    }
                    if destroy {
                        mi_heap_destroy(h);
                    } else {
                        mi_heap_delete(h);
                    }
                }
                15 => {
                    let force = prog.byte() & 1 == 1;
                    if hsel == 0 {
                        mi_collect(force);
                    } else {
                        mi_heap_collect(s.heap_ptr(hsel), force);
                    }
                }
                _ => {}
            }
        }
        // leave nothing behind for the next input
        let all: Vec<usize> = s.live.keys().copied().collect();
        for p in all {
            s.free(p, false);
        }
        for h in s.heaps.drain(..) {
            mi_heap_delete(h);
        }
    }
});
