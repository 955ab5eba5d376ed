//! The padding of padded builds (debug, secure level 3 and up, Valgrind/ASAN, `padding`):
//! an 8-byte trailer after each block's usable bytes (a canary derived from the page
//! keys, and the distance from the request to the end of the block) and fill bytes
//! after the request. `alloc` writes them, `free` checks them; they live here, below
//! both, so that neither imports the other for them.

use crate::page;
use crate::state::{Block, Page};
use crate::types::*;
use core::ptr;

/// The padding trailer: a canary derived from the page keys and the distance from the
/// requested size to the end of the block, plus fill bytes after the request.
#[repr(C)]
pub struct Padding {
    pub canary: u32,
    pub delta: u32,
}

/// The trailer of a block whose usable size is `bsize`.
///
/// # Safety
/// `block` must be a block of a padding build with usable size `bsize`.
#[inline(always)]
pub unsafe fn read_padding(block: *const Block, bsize: usize) -> Padding {
    ptr::read_unaligned((block as *const u8).add(bsize) as *const Padding)
}

#[inline]
/// # Safety
/// `page` must be a live page.
pub unsafe fn padding_canary(page: *const Page, block: *const Block) -> u32 {
    page::ptr_encode(page as usize, block as *mut Block, &(*page).keys) as u32
}

/// The fill pattern as a word.
pub(crate) const PADDING_WORD: u64 = u64::from_ne_bytes([DEBUG_PADDING; 8]);

/// The bytes `0..n` of a little-endian word (`n <= 8`), without a shift by 64.
const fn low_bytes(n: usize) -> u64 {
    ((1u64 << (4 * n)) << (4 * n)).wrapping_sub(1)
}

/// `FILL_MASKS[d]`: which bytes of the 16-byte fill window (see `fill_window`) are fill
/// when `min(delta, 16) == d`, as masks of its two little-endian words.
static FILL_MASKS: [(u64, u64); MAX_ALIGN_SIZE + 1] = {
    let mut t = [(0u64, 0u64); MAX_ALIGN_SIZE + 1];
    let mut d = 0;
    while d <= MAX_ALIGN_SIZE {
        t[d] = if d < 8 {
            (!low_bytes(8 - d), 0) // the window starts 8 - d bytes before the fill
        } else {
            (!0, low_bytes(d - 8)) // the window starts at the fill
        };
        d += 1;
    }
    t
};

/// Where the fill bytes of a padded block are: the bytes `req..req + min(delta, 16)`
/// (`req = bsize - delta`), as a 16-byte window inside the block and a byte mask for
/// each of its two words. The window starts at `req` when `delta >= 8` (then it ends at
/// most at the block's end, the trailer included) and 8 bytes before the trailer
/// otherwise, so writing and checking the fill are branch-free word operations: with
/// random request sizes, loops over the fill bytes mispredict on almost every call.
///
/// # Safety
/// `block` must be a block whose usable size `bsize >= 8` precedes an 8-byte trailer,
/// and `delta <= bsize`.
#[inline(always)]
unsafe fn fill_window(block: *const Block, bsize: usize, delta: usize) -> (*mut u8, u64, u64) {
    debug_assert!(bsize >= INTPTR_SIZE && delta <= bsize);
    let (lo, hi) = FILL_MASKS[delta.min(MAX_ALIGN_SIZE)];
    ((block as *mut u8).add(bsize - delta.max(8)), lo, hi)
}

/// The two words of the fill window, each XORed with the pattern and masked: the bits
/// of fill bytes that changed.
///
/// # Safety
/// As `fill_window`.
#[inline(always)]
unsafe fn fill_changes(block: *const Block, bsize: usize, delta: usize) -> (*mut u8, u64, u64) {
    let (at, lo, hi) = fill_window(block, bsize, delta);
    let w0 = u64::from_le(ptr::read_unaligned(at as *const u64));
    let w1 = u64::from_le(ptr::read_unaligned(at.add(8) as *const u64));
    (at, (w0 ^ PADDING_WORD) & lo, (w1 ^ PADDING_WORD) & hi)
}

/// Write the fill after a request of `bsize - delta` bytes. Bytes of the window outside
/// the fill (the end of the request, the trailer) keep their value, so a zeroed request
/// stays zero.
///
/// # Safety
/// As `fill_window`; the window must be writable.
#[inline(always)]
pub(crate) unsafe fn write_fill(block: *mut Block, bsize: usize, delta: usize) {
    let (at, lo, hi) = fill_window(block, bsize, delta);
    let w0 = u64::from_le(ptr::read_unaligned(at as *const u64));
    let w1 = u64::from_le(ptr::read_unaligned(at.add(8) as *const u64));
    ptr::write_unaligned(at as *mut u64, ((w0 & !lo) | (PADDING_WORD & lo)).to_le());
    ptr::write_unaligned(
        at.add(8) as *mut u64,
        ((w1 & !hi) | (PADDING_WORD & hi)).to_le(),
    );
}

/// `write_fill` for a request whose bytes are undefined: the whole window is set to the
/// pattern (the request's tail in it too), with no read and no masks.
///
/// # Safety
/// As `fill_window`; the window must be writable and its bytes outside the fill need
/// not be kept (the trailer is written afterwards).
#[inline(always)]
unsafe fn overwrite_fill(block: *mut Block, bsize: usize, delta: usize) {
    let (at, _, _) = fill_window(block, bsize, delta); // (the unused mask load folds away)
    ptr::write_unaligned(at as *mut [u64; 2], [PADDING_WORD; 2]);
}

/// Whether the fill written by `write_fill` is unchanged (one branch-free test).
///
/// # Safety
/// As `fill_window`.
#[inline(always)]
pub(crate) unsafe fn fill_is_intact(block: *const Block, bsize: usize, delta: usize) -> bool {
    let (_, x0, x1) = fill_changes(block, bsize, delta);
    x0 | x1 == 0
}

/// The offset from `block` of the first changed fill byte, if any (for reports).
///
/// # Safety
/// As `fill_window`.
pub(crate) unsafe fn first_changed_fill(
    block: *const Block,
    bsize: usize,
    delta: usize,
) -> Option<usize> {
    let (at, x0, x1) = fill_changes(block, bsize, delta);
    let in_window = if x0 != 0 {
        x0.trailing_zeros() as usize / 8
    } else if x1 != 0 {
        8 + x1.trailing_zeros() as usize / 8
    } else {
        return None;
    };
    Some(at as usize - block as usize + in_window)
}

/// Write the trailer and the fill after a request of `req` bytes.
///
/// # Safety
/// `block` must be a block of `page` in use, `req <= page.usable_block_size()`, and
/// `page` a page of a padding build. Unless `keep`, the request's bytes are undefined
/// and may be overwritten.
#[inline]
pub(crate) unsafe fn write_padding(page: *mut Page, block: *mut Block, req: usize, keep: bool) {
    let bsize = (*page).usable_block_size();
    let delta = bsize - req;
    // Fill first: its window may overlap the trailer.
    if keep {
        write_fill(block, bsize, delta);
    } else {
        overwrite_fill(block, bsize, delta);
    }
    let pad = (block as *mut u8).add(bsize) as *mut Padding;
    ptr::write_unaligned(
        pad,
        Padding {
            canary: padding_canary(page, block),
            delta: delta as u32,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const OTHER: u8 = 0x11;

    /// Room for a fake block of up to 112 usable bytes and its 8-byte trailer, 8-aligned,
    /// after 8 guard bytes; every byte outside the fill must keep its value.
    struct Fake {
        buf: [u64; 16],
    }

    impl Fake {
        fn new() -> Fake {
            let mut f = Fake { buf: [0; 16] };
            for b in f.bytes_mut() {
                *b = OTHER;
            }
            f
        }
        fn bytes_mut(&mut self) -> &mut [u8] {
            // SAFETY: a plain array of words viewed as bytes.
            unsafe { core::slice::from_raw_parts_mut(self.buf.as_mut_ptr() as *mut u8, 128) }
        }
        fn block(&mut self) -> *mut Block {
            // 8 guard bytes before the block
            // SAFETY: within `buf`.
            unsafe { (self.buf.as_mut_ptr() as *mut u8).add(8) as *mut Block }
        }
    }

    /// Both fill writers set exactly the fill bytes; `write_fill` keeps every other byte,
    /// `overwrite_fill` every byte outside the block and its trailer.
    #[test]
    fn fill_covers_exactly_the_bytes_after_the_request() {
        type Writer = unsafe fn(*mut Block, usize, usize);
        for (write, keeps_block) in [(write_fill as Writer, true), (overwrite_fill, false)] {
            for bsize in [8usize, 16, 24, 40, 64, 104] {
                for delta in 0..=bsize {
                    let mut f = Fake::new();
                    let block = f.block();
                    // SAFETY: the fake block has bsize + 8 bytes inside `buf`.
                    unsafe { write(block, bsize, delta) };
                    let req = bsize - delta;
                    let fill = delta.min(MAX_ALIGN_SIZE);
                    for (i, &b) in f.bytes_mut().iter().enumerate() {
                        let off = i as isize - 8;
                        let what =
                            format!("keeps {keeps_block} bsize {bsize} delta {delta} byte {off}");
                        if off >= req as isize && off < (req + fill) as isize {
                            assert_eq!(b, DEBUG_PADDING, "{what}");
                        } else if keeps_block || off < 0 || off >= bsize as isize + 8 {
                            assert_eq!(b, OTHER, "{what}");
                        }
                    }
                    // SAFETY: as above.
                    unsafe {
                        assert!(fill_is_intact(block, bsize, delta));
                        assert_eq!(first_changed_fill(block, bsize, delta), None);
                    }
                }
            }
        }
    }

    #[test]
    fn every_changed_fill_byte_is_found_at_its_offset() {
        for bsize in [8usize, 16, 24, 40, 104] {
            for delta in 0..=bsize {
                let req = bsize - delta;
                let fill = delta.min(MAX_ALIGN_SIZE);
                for k in 0..fill {
                    let mut f = Fake::new();
                    let block = f.block();
                    // SAFETY: the fake block has bsize + 8 bytes inside `buf`.
                    unsafe { write_fill(block, bsize, delta) };
                    f.bytes_mut()[8 + req + k] = 0;
                    // a second change further on must not hide the first
                    if k + 1 < fill {
                        f.bytes_mut()[8 + req + fill - 1] = 1;
                    }
                    // SAFETY: as above.
                    unsafe {
                        assert!(
                            !fill_is_intact(block, bsize, delta),
                            "bsize {bsize} delta {delta} k {k}"
                        );
                        assert_eq!(first_changed_fill(block, bsize, delta), Some(req + k));
                    }
                }
                // Writes inside the request or to the trailer are not fill changes.
                let mut f = Fake::new();
                let block = f.block();
                // SAFETY: as above.
                unsafe { write_fill(block, bsize, delta) };
                if req > 0 {
                    f.bytes_mut()[8 + req - 1] = 0;
                }
                f.bytes_mut()[8 + bsize] = 0;
                // SAFETY: as above.
                unsafe { assert!(fill_is_intact(block, bsize, delta)) };
            }
        }
    }
}
