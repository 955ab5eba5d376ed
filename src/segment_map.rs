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

/// Whether `p` lies in memory of one of our segments.
pub fn is_in_heap_region(p: *const u8) -> bool {
    if p.is_null() {
        return false;
    }
    match index(p as usize) {
        // Acquire: pairs with the release in `set_range`.
        Some((w, b)) => MAP[w].load(Ordering::Acquire) & (1 << b) != 0,
        None => false,
    }
}

/// The segment of `p` if `p` is in one of our segments (validated by the map and the
/// segment's cookie), else null. Used by checked frees.
pub fn checked_segment(p: *const u8) -> *mut Segment {
    if !is_in_heap_region(p) {
        return core::ptr::null_mut();
    }
    let seg = crate::segment::ptr_segment(p);
    // A huge segment longer than 32 MiB: the header is at the first registered chunk
    // below. Walk down while the map says "segment" and the cookie does not match.
    let mut s = seg as usize;
    loop {
        if !is_in_heap_region(s as *const u8) {
            return core::ptr::null_mut();
        }
        // SAFETY: the map says `s` is the start of a 32 MiB chunk of a live segment, so
        // its first bytes are mapped (either a header or block memory).
        let cookie = unsafe { (*(s as *const Segment)).cookie };
        if cookie == s ^ crate::heap::main_cookie() {
            return s as *mut Segment;
        }
        if s < SEGMENT_SIZE {
            return core::ptr::null_mut();
        }
        s -= SEGMENT_SIZE;
    }
}
