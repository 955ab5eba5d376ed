//! Pages: spans of slices holding blocks of one size, with three free lists.
//!
//! * `free`: what malloc pops from (the fast path);
//! * `local_free`: blocks freed by the owning thread; moved to `free` only when `free`
//!   runs dry, so the slow path runs at a regular rate and can do deferred work;
//! * `xthread_free`: an atomic LIFO that other threads push to with one CAS; its low two
//!   bits hold the page's delayed-free state (`Delayed`).
//!
//! The page descriptor lives in its segment's header, not in the page memory.

use crate::state::{tf_block, tf_delayed, tf_make, Block, Delayed, Heap, Page, DELAYED_MASK};
use crate::sync::{AtomicWord, Ordering};
use crate::types::*;
use core::mem::MaybeUninit;
use core::ptr;

/// Set the owning heap of a page.
///
/// # Safety
/// `page` must be owned by the calling thread.
#[inline]
pub unsafe fn set_heap(page: *mut Page, heap: *mut Heap) {
    // Release: a remote free that loads the heap with Acquire sees the heap initialised.
    (*page).xheap.store(heap, Ordering::Release);
    if !heap.is_null() {
        (*page).heap_tag = (*heap).tag;
    }
}

// --- free-list encoding -------------------------------------------------------------------

/// Encode a free-list link. With `ENCODE_FREELIST` the stored word is
/// `rotl(p ^ k1, k0) + k0`, and null is represented by `null_marker` (the page address)
/// so that a list terminator is not a constant an attacker can forge.
#[inline(always)]
pub fn ptr_encode(null_marker: usize, p: *mut Block, keys: &[usize; 2]) -> usize {
    if ENCODE_FREELIST {
        let x = if p.is_null() { null_marker } else { p as usize };
        (x ^ keys[1])
            .rotate_left((keys[0] & 63) as u32)
            .wrapping_add(keys[0])
    } else {
        p as usize
    }
}

#[inline(always)]
pub fn ptr_decode(null_marker: usize, x: usize, keys: &[usize; 2]) -> *mut Block {
    if ENCODE_FREELIST {
        let p = x.wrapping_sub(keys[0]).rotate_right((keys[0] & 63) as u32) ^ keys[1];
        if p == null_marker {
            ptr::null_mut()
        } else {
            p as *mut Block
        }
    } else {
        x as *mut Block
    }
}

/// The next block of a page's free list.
///
/// # Safety
/// `block` must be a free block of `page`.
#[inline(always)]
pub unsafe fn block_next(page: *const Page, block: *const Block) -> *mut Block {
    let next = block_next_unchecked(page, block);
    if !link_is_valid(page, next) {
        block_next_corrupted(page, block, next);
        return ptr::null_mut();
    }
    next
}

/// The decoded link of a free block, not yet validated (see `link_is_valid`).
///
/// # Safety
/// `block` must be a free block of `page`.
#[inline(always)]
pub unsafe fn block_next_unchecked(page: *const Page, block: *const Block) -> *mut Block {
    crate::track::link_open(block as *const u8);
    let next = ptr_decode(page as usize, (*block).next, &(*page).keys);
    crate::track::link_close(block as *const u8);
    next
}

/// Whether a decoded link can be followed: null, or (with encoded lists, where a
/// corrupted link decodes to garbage) a block of the page's initialised area.
///
/// # Safety
/// `page` must be a live page.
#[inline(always)]
pub unsafe fn link_is_valid(page: *const Page, next: *const Block) -> bool {
    !ENCODE_FREELIST || next.is_null() || is_block_area_of(page, next as *const u8)
}

/// Report a free-list link that does not decode to a block of its page.
///
/// # Safety
/// `page` must be a live page.
#[cold]
#[inline(never)]
pub unsafe fn block_next_corrupted(page: *const Page, block: *const Block, next: *mut Block) {
    // SAFETY: `page` is a live page (the contract).
    let bs = unsafe { (*page).block_size };
    crate::mi_error!(
        EFAULT,
        "corrupted free list entry of size {}b at {:p}: value 0x{:x}",
        bs,
        block,
        next as usize
    );
}

/// # Safety
/// `block` must be a block of `page` that is not in use.
#[inline(always)]
pub unsafe fn block_set_next(page: *const Page, block: *mut Block, next: *mut Block) {
    crate::track::link_open(block as *const u8);
    (*block).next = ptr_encode(page as usize, next, &(*page).keys);
    crate::track::link_close(block as *const u8);
}

/// Whether `p` lies in the initialised block area of `page` (validates decoded links:
/// cheaper and stricter than looking up the page of `p`).
///
/// # Safety
/// `page` must be a live page.
#[inline(always)]
pub unsafe fn is_block_area_of(page: *const Page, p: *const u8) -> bool {
    // (wrapping: an address below the start becomes a huge offset)
    (p as usize).wrapping_sub((*page).page_start as usize)
        < (*page).capacity as usize * (*page).block_size
}

// --- page setup ------------------------------------------------------------------------------

/// Initialise a fresh page (just taken from a segment) for blocks of `block_size` and
/// give it its first free blocks.
///
/// # Safety
/// `page` must be a page just allocated by `segment::page_alloc` for `heap`'s thread.
pub unsafe fn init(heap: *mut Heap, page: *mut Page, block_size: usize) {
    let seg = crate::state::page_segment(page);
    set_heap(page, heap);
    (*page).block_size = block_size;
    let (start, page_size) = crate::state::page_start(seg, page, block_size);
    (*page).page_start = start;
    (*page).reserved = (page_size / block_size).min(u32::MAX as usize) as u32;
    debug_assert!((*page).reserved > 0);
    (*page).free_is_zero = (*page).is_zero_init;
    (*page).block_size_shift = if is_power_of_two(block_size) && block_size > 0 {
        block_size.trailing_zeros() as u8
    } else {
        0
    };
    if ENCODE_FREELIST {
        (*page).keys[0] = crate::state::random_next(heap) as usize;
        (*page).keys[1] = crate::state::random_next(heap) as usize;
    }
    (*page).capacity = 0;
    (*page).used = 0;
    (*page).free = ptr::null_mut();
    (*page).local_free = ptr::null_mut();
    (*page).flags.store(0, Ordering::Relaxed); // (owner only)
    (*page).retire_expire = 0;
    // Relaxed: nobody else can see this page yet.
    (*page)
        .xthread_free
        .store(owned_state(block_size) as usize, Ordering::Relaxed);
    (*page).next = ptr::null_mut();
    (*page).prev = ptr::null_mut();
    extend_free(heap, page);
    debug_assert!(immediate_or_extendable(page));
}

/// # Safety
/// `page` must point to a live page descriptor.
unsafe fn immediate_or_extendable(page: *const Page) -> bool {
    !(*page).free.is_null() || (*page).capacity < (*page).reserved
}

/// Add more never-used blocks to the (empty) free list: at most about 4 KiB worth at a
/// time, so a page's memory is touched gradually.
///
/// # Safety
/// `page` must be owned by the calling thread and have an empty `free` list.
pub unsafe fn extend_free(heap: *mut Heap, page: *mut Page) {
    if !(*page).free.is_null() || (*page).capacity >= (*page).reserved {
        return;
    }
    let bsize = (*page).block_size;
    let max_extend = if bsize >= MAX_EXTEND_SIZE {
        MIN_EXTEND
    } else {
        (MAX_EXTEND_SIZE / bsize).max(MIN_EXTEND)
    };
    let extend = (((*page).reserved - (*page).capacity) as usize).min(max_extend);
    debug_assert!(extend > 0);
    let start = (*page).page_start.add((*page).capacity as usize * bsize) as *mut Block;
    // Never-allocated blocks are off limits to the program.
    crate::track::mem_noaccess(start as *const u8, extend * bsize);
    if SECURE > 0 && extend >= 2 {
        extend_free_secure(&mut (*heap).random, page, start, extend);
    } else {
        // Link the blocks in address order.
        let mut block = start;
        for _ in 1..extend {
            let next = (block as *mut u8).add(bsize) as *mut Block;
            block_set_next(page, block, next);
            block = next;
        }
        block_set_next(page, block, ptr::null_mut());
        (*page).free = start;
    }
    (*page).capacity += extend as u32;
    crate::state::tld_stats(heap).pages_extended.increase(1);
}

/// Secure builds: link the new blocks in a random order. The extension is cut into up to
/// 64 slices of consecutive blocks; each next block is the next unused one of a slice
/// picked at random (by 8 fresh random bits per block), so consecutive allocations are
/// rarely adjacent and the next address cannot be told from the previous ones. When the
/// picked slice is used up, the next slice (cyclically) with blocks left is taken, as in
/// mimalloc; a bit mask of those slices finds it in constant time, where a scan over the
/// counts costs dozens of steps per block once most slices are empty.
///
/// # Safety
/// `page` must be owned by the calling thread, with an empty `free` list, and `start`
/// the first of `extend >= 2` unused blocks of it.
unsafe fn extend_free_secure(
    random: &mut crate::random::Random,
    page: *mut Page,
    start: *mut Block,
    extend: usize,
) {
    debug_assert!(extend >= 2 && (*page).free.is_null());
    debug_assert!(extend <= u32::MAX as usize);
    let bsize = (*page).block_size;
    // 2^shift slices, the largest power of two up to 64 that gives each a block
    let shift = (usize::BITS - 1 - extend.leading_zeros()).min(6);
    let slice_count = 1usize << shift;
    let slice_extend = extend >> shift;
    // Per slice: `blocks`, its next unused block (for the current slice: the block just
    // taken, the tail of the list); `left`, how many are still unused. Only the first
    // `slice_count` entries are initialised and read (the indices below are masked to
    // `slice_count - 1`, or bits of `nonempty`, which has no higher bits).
    let mut blocks = [MaybeUninit::<*mut Block>::uninit(); 64];
    let mut left = [MaybeUninit::<u32>::uninit(); 64];
    let mut at = start as *mut u8;
    for i in 0..slice_count {
        blocks[i].write(at as *mut Block);
        left[i].write(slice_extend as u32);
        at = at.add(slice_extend * bsize);
    }
    left[slice_count - 1].write((slice_extend + extend % slice_count) as u32);
    // Bit s: slice s has unused blocks.
    let mut nonempty: u64 = if slice_count == 64 {
        !0
    } else {
        (1u64 << slice_count) - 1
    };
    // Take one unused block of slice `s`; a slice's last one clears its bit.
    // SAFETY (this and every `assume_init` below): `s` is below `slice_count`.
    let take = |left: &mut [MaybeUninit<u32>; 64], nonempty: &mut u64, s: usize| {
        let n = unsafe { left[s].assume_init() } - 1;
        left[s].write(n);
        if n == 0 {
            *nonempty &= !(1u64 << s);
        }
    };
    let r = random.next();
    let mut current = (r as usize) & (slice_count - 1);
    take(&mut left, &mut nonempty, current);
    let free_start = blocks[current].assume_init();
    // One (cheap) shuffle per 8 blocks; each block uses its own byte of it, so no two
    // picks share random bits (nor with the first pick, which used `r`).
    let mut rnd = crate::random::shuffle(r | 1);
    for i in 1..extend {
        let round = i % 8;
        if round == 0 {
            rnd = crate::random::shuffle(rnd);
        }
        let want = ((rnd >> (8 * round)) as usize) & (slice_count - 1);
        // the first slice with blocks left at or after `want`, wrapping around (there is
        // one: `extend - i` blocks are unused)
        debug_assert!(nonempty != 0);
        let above = nonempty & (!0u64 << want);
        let next = if above != 0 { above } else { nonempty }.trailing_zeros() as usize;
        take(&mut left, &mut nonempty, next);
        let block = blocks[current].assume_init();
        blocks[current].write((block as *mut u8).add(bsize) as *mut Block);
        block_set_next(page, block, blocks[next].assume_init());
        current = next;
    }
    debug_assert!(nonempty == 0);
    block_set_next(page, blocks[current].assume_init(), ptr::null_mut());
    (*page).free = free_start;
}

// --- the thread-free protocol ------------------------------------------------------------
//
// `xthread_free` holds the head of a LIFO of blocks freed by other threads, with the
// page's delayed-free state in its two low bits. Remote freers push with a CAS; the
// owner takes the whole list with a CAS that keeps the state. While the state is
// `UseDelayedFree` (the page is in the full queue, or holds a large or huge block: see
// `owned_state`), one remote freer instead moves it to `DelayedFreeing`, pushes its
// block on the owning heap's delayed list, and moves it to `NoDelayedFree`; the owner
// never changes the state, or lets the heap go, while it is `DelayedFreeing`. These functions are the whole protocol on the word (generic, so
// the loom models in `crate::models` check this very code).

/// The delayed-free state of a page its owner has just taken (fresh or reclaimed) and
/// that is not in the full queue. Small and medium pages: `NoDelayedFree`, so remote
/// frees go straight to the page's list; the owner sees them when it looks for free
/// blocks in the page's queue, and `to_full` asks for a notification once the page is
/// full, when nobody looks at it any more. Large and huge pages (one block each):
/// `UseDelayedFree`, so the owner hears at once of the remote free that empties the page
/// and gives its memory back, instead of waiting until it next allocates that size.
#[inline]
pub fn owned_state(block_size: usize) -> Delayed {
    if block_size <= MEDIUM_OBJ_SIZE_MAX {
        Delayed::NoDelayedFree
    } else {
        Delayed::UseDelayedFree
    }
}

/// A remote free's push of `block` (whose link word `set_next` writes) on a page's
/// thread-free word. Returns true if, instead, the page asked for a delayed free: the
/// state is now `DelayedFreeing` and the block is not on the page's list; the caller
/// must push it on the owning heap's delayed list and then call `tf_delayed_done`.
#[inline(always)]
pub(crate) fn tf_push<A: AtomicWord>(
    xtf: &A,
    block: usize,
    mut set_next: impl FnMut(usize),
) -> bool {
    // Relaxed: the CAS validates the snapshot.
    let mut tf = xtf.load(Ordering::Relaxed);
    loop {
        let delayed = tf & DELAYED_MASK;
        let (tfx, use_delayed) = if delayed == Delayed::UseDelayedFree as usize {
            (
                (tf & !DELAYED_MASK) | Delayed::DelayedFreeing as usize,
                true,
            )
        } else {
            set_next(tf & !DELAYED_MASK);
            (block | delayed, false)
        };
        // Release: the owner's acquiring take must see the link word we wrote. Acquire:
        // a freer that finds `UseDelayedFree` then sees the owner's writes before it
        // set that state (the heap pointer it is about to use).
        match xtf.compare_exchange_weak(tf, tfx, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return use_delayed,
            Err(cur) => tf = cur,
        }
    }
}

/// The end of a delayed free (after `tf_push` returned true and the block is on the
/// heap's list): back to `NoDelayedFree`, so later remote frees go to the page's list.
#[inline]
pub(crate) fn tf_delayed_done<A: AtomicWord>(xtf: &A) {
    // Relaxed: the CAS validates.
    let mut tf = xtf.load(Ordering::Relaxed);
    loop {
        let tfx = (tf & !DELAYED_MASK) | Delayed::NoDelayedFree as usize;
        // Release: the owner waiting in `use_delayed_free` (acquiring load) sees our push
        // on the heap's list completed before it lets the heap go.
        match xtf.compare_exchange_weak(tf, tfx, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return,
            Err(cur) => tf = cur,
        }
    }
}

/// The owner's take of the whole thread-free list, keeping the delayed state: the head
/// (its links are readable now), or 0 if the list was empty.
#[inline]
pub(crate) fn tf_take<A: AtomicWord>(xtf: &A) -> usize {
    // Relaxed: the CAS below validates the snapshot.
    let mut tf = xtf.load(Ordering::Relaxed);
    loop {
        let head = tf & !DELAYED_MASK;
        if head == 0 {
            return 0;
        }
        // Acquire: we must see the link words the remote freers wrote before pushing.
        match xtf.compare_exchange_weak(tf, tf & DELAYED_MASK, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => return head,
            Err(cur) => tf = cur,
        }
    }
}

/// Change the delayed-free state on a thread-free word (see `use_delayed_free`).
pub(crate) fn tf_use_delayed<A: AtomicWord>(xtf: &A, delay: Delayed, override_never: bool) -> bool {
    let mut yields = 0;
    loop {
        // Acquire: pairs with the release of a remote freer finishing its delayed push.
        let tf = xtf.load(Ordering::Acquire);
        let old = tf_delayed(tf);
        if old == Delayed::DelayedFreeing {
            if yields >= 4 && delay == Delayed::UseDelayedFree {
                return false;
            }
            yields += 1;
            A::yield_now();
            continue;
        }
        if old == delay || (!override_never && old == Delayed::NeverDelayedFree) {
            return true;
        }
        let tfx = tf_make(tf_block(tf), delay);
        // Release: publish our page state changes with the new delayed state.
        if xtf
            .compare_exchange_weak(tf, tfx, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            return true;
        }
    }
}

// --- collecting the free lists ----------------------------------------------------------

/// Take the whole thread-free list (keeping the delayed state) and move it to
/// `local_free`, adjusting `used`.
///
/// # Safety
/// `page` must be owned by the calling thread.
unsafe fn thread_free_collect(page: *mut Page) {
    let head = tf_take(&(*page).xthread_free) as *mut Block;
    if head.is_null() {
        return;
    }
    // Find the tail and count, bounded by the capacity (a longer list is corrupt).
    let max_count = (*page).capacity;
    let mut count = 1u32;
    let mut tail = head;
    loop {
        let next = block_next(page, tail);
        if next.is_null() || count > max_count {
            break;
        }
        count += 1;
        tail = next;
    }
    if count > max_count {
        crate::mi_error!(EFAULT, "corrupted thread-free list");
        return; // leak the list rather than corrupt the page
    }
    block_set_next(page, tail, (*page).local_free);
    (*page).local_free = head;
    (*page).used -= count;
}

/// Collect the thread-free and local lists into `free`. With `force`, `local_free` is
/// appended even when `free` is not empty.
///
/// # Safety
/// `page` must be owned by the calling thread.
pub unsafe fn free_collect(page: *mut Page, force: bool) {
    // Relaxed: a cheap check; `thread_free_collect` does the real work with a CAS.
    if force || !tf_block((*page).xthread_free.load(Ordering::Relaxed)).is_null() {
        thread_free_collect(page);
    }
    if !(*page).local_free.is_null() {
        if (*page).free.is_null() {
            (*page).free = (*page).local_free;
            (*page).local_free = ptr::null_mut();
            (*page).free_is_zero = false;
        } else if force {
            let mut tail = (*page).local_free;
            loop {
                let next = block_next(page, tail);
                if next.is_null() {
                    break;
                }
                tail = next;
            }
            block_set_next(page, tail, (*page).free);
            (*page).free = (*page).local_free;
            (*page).local_free = ptr::null_mut();
            (*page).free_is_zero = false;
        }
    }
}

/// Change the delayed-free state of a page. Waits (yielding) while a remote free is in
/// the middle of pushing on the heap's delayed list; returns false if it gave up after
/// a few yields (only when `delay` is `UseDelayedFree`). `NeverDelayedFree` is sticky
/// unless `override_never`.
///
/// # Safety
/// `page` must be a live page.
pub unsafe fn use_delayed_free(page: *mut Page, delay: Delayed, override_never: bool) -> bool {
    tf_use_delayed(&(*page).xthread_free, delay, override_never)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The secure extension links each block once, and a block's successor cannot be
    /// told from the block: with one block per slice, the low five bits of the next slice
    /// index do not repeat the high five of the current one (as they would if the picks
    /// shared random bits) and memory neighbours rarely follow each other.
    #[test]
    fn secure_extension_is_a_permutation_with_independent_picks() {
        const N: usize = 64;
        let mut buf = vec![0u64; N * 8]; // 64 blocks of 64 bytes
        let mut page = Page::empty();
        page.page_start = buf.as_mut_ptr() as *mut u8;
        page.block_size = 64;
        page.reserved = N as u32;
        let mut random = crate::random::Random::empty();
        random.init();
        let (mut shared_bits, mut adjacent, mut early_pairs, mut pairs) = (0, 0, 0, 0);
        for _ in 0..500 {
            page.free = ptr::null_mut();
            page.capacity = 0;
            let start = page.page_start as *mut Block;
            // SAFETY: `page` describes `buf`, which holds N blocks of 64 bytes.
            unsafe { extend_free_secure(&mut random, &mut page, start, N) };
            page.capacity = N as u32;
            let mut order = Vec::new();
            let mut b = page.free;
            while !b.is_null() && order.len() <= N {
                order.push((b as usize - page.page_start as usize) / 64);
                // SAFETY: `b` is a block of the list just built.
                b = unsafe { block_next(&page, b) };
            }
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..N).collect::<Vec<_>>());
            for (i, w) in order.windows(2).enumerate() {
                pairs += 1;
                adjacent += (w[1] == w[0] + 1) as usize;
                if i < 16 {
                    early_pairs += 1;
                    shared_bits += ((w[1] & 31) == (w[0] >> 1)) as usize;
                }
            }
        }
        // independent picks: about 1/32 of the early pairs; a few percent adjacent overall
        // (1/64 by chance, more near the end, where picks skip past emptied slices)
        assert!(
            shared_bits * 10 < early_pairs,
            "{shared_bits} of {early_pairs}"
        );
        assert!(adjacent * 10 < pairs, "{adjacent} of {pairs}");
    }

    /// Every extension size (one slice up to 64, with remainders) links each block once.
    #[test]
    fn secure_extension_links_every_block_for_any_count() {
        let mut random = crate::random::Random::empty();
        random.init();
        for n in [2usize, 3, 5, 8, 31, 63, 64, 65, 127, 200, 512] {
            let mut buf = vec![0u64; n * 2]; // n blocks of 16 bytes
            let mut page = Page::empty();
            page.page_start = buf.as_mut_ptr() as *mut u8;
            page.block_size = 16;
            page.reserved = n as u32;
            for _ in 0..20 {
                page.free = ptr::null_mut();
                let start = page.page_start as *mut Block;
                // SAFETY: `page` describes `buf`, which holds n blocks of 16 bytes.
                unsafe { extend_free_secure(&mut random, &mut page, start, n) };
                page.capacity = n as u32;
                let mut seen = vec![false; n];
                let mut b = page.free;
                let mut count = 0;
                while !b.is_null() && count <= n {
                    let i = (b as usize - page.page_start as usize) / 16;
                    assert!(!seen[i], "block {i} linked twice (n = {n})");
                    seen[i] = true;
                    count += 1;
                    // SAFETY: `b` is a block of the list just built.
                    b = unsafe { block_next(&page, b) };
                }
                assert_eq!(count, n, "n = {n}");
            }
        }
    }

    #[test]
    fn encoded_links_round_trip() {
        let keys = [0x1234_5678_9abc_def1usize, 0x0fed_cba9_8765_4321];
        let marker = 0x7000_0000_1000usize;
        for p in [0usize, 8, 0x7f00_0000_0040, usize::MAX & !7] {
            let e = ptr_encode(marker, p as *mut Block, &keys);
            assert_eq!(ptr_decode(marker, e, &keys) as usize, p);
        }
    }

    #[test]
    fn null_is_not_stored_as_zero_when_encoding() {
        let keys = [0x5555usize, 0xaaaa];
        let e = ptr_encode(0x1000, ptr::null_mut(), &keys);
        if ENCODE_FREELIST {
            assert_ne!(e, 0);
        } else {
            assert_eq!(e, 0);
        }
    }

    #[test]
    fn thread_free_word_packs_state_and_pointer() {
        let b = 0x7f00_0000_0040usize as *mut Block;
        for d in [
            Delayed::UseDelayedFree,
            Delayed::DelayedFreeing,
            Delayed::NoDelayedFree,
            Delayed::NeverDelayedFree,
        ] {
            let tf = tf_make(b, d);
            assert_eq!(tf_block(tf), b);
            assert_eq!(tf_delayed(tf), d);
        }
    }

    #[test]
    fn empty_page_has_no_free_blocks() {
        // SAFETY: reading the static empty page.
        let p = unsafe { &*crate::state::PAGE_EMPTY.get() };
        assert!(p.free.is_null() && !p.immediate_available() && p.block_size == 0);
    }
}
