//! A global bitmap with one bit per 32 MiB of address space recording where segments
//! are, so `mi_is_in_heap_region` and checked frees can tell our pointers from others
//! without touching memory that may not be mapped.

use crate::segment::Segment;
use crate::sync::{AtomicUsize, Ordering};
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
/// of `p - 1` (see `segment::ptr_segment`): for a pointer at the very start of a chunk
/// that is the chunk below, so asking the map about `p` itself is not enough.
#[inline(always)]
pub fn is_live_segment(seg: *const Segment) -> bool {
    // (an address, so any value is fine: null maps to chunk 0, where no segment can be)
    let addr = seg as usize;
    // SAFETY: the map says `seg` starts a chunk of a live segment, so its first bytes
    // are mapped (a header, or block memory of a huge segment, whose cookie fails).
    is_registered(addr)
        && unsafe { (*(addr as *const Segment)).cookie } == addr ^ crate::heap::main_cookie()
}
