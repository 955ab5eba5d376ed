//! Telling memory checkers about our blocks (mimalloc's `track.h`).
//!
//! * feature `track_valgrind` (`MI_TRACK_VALGRIND`): Valgrind client requests mark blocks
//!   as allocated (`MALLOCLIKE`) and freed (`FREELIKE`), so memcheck reports leaks and
//!   invalid accesses in our blocks; free blocks are kept inaccessible, and the
//!   allocator's own accesses to free-list links are bracketed with `defined`/`noaccess`.
//! * feature `track_asan` (`MI_TRACK_ASAN`): AddressSanitizer's poisoning interface, so a
//!   program compiled with `-fsanitize=address` gets use-after-free and overflow reports
//!   on our blocks. Our own (uninstrumented) code needs no brackets.
//!
//! Without either feature every function here is an empty inline function.

pub const VALGRIND: bool = cfg!(feature = "track_valgrind");
pub const ASAN: bool = cfg!(feature = "track_asan") && !VALGRIND;
pub const ENABLED: bool = VALGRIND || ASAN;

#[cfg(all(feature = "track_valgrind", target_arch = "x86_64"))]
mod valgrind {
    pub const MALLOCLIKE_BLOCK: usize = 0x1301;
    pub const FREELIKE_BLOCK: usize = 0x1302;
    pub const RESIZEINPLACE_BLOCK: usize = 0x130b;
    const MC_BASE: usize = ((b'M' as usize) << 24) | ((b'C' as usize) << 16);
    pub const MAKE_MEM_NOACCESS: usize = MC_BASE;
    pub const MAKE_MEM_UNDEFINED: usize = MC_BASE + 1;
    pub const MAKE_MEM_DEFINED: usize = MC_BASE + 2;

    /// Issue a client request: a no-op sequence natively, a call into the tool under
    /// Valgrind.
    #[inline(always)]
    pub fn request(req: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> usize {
        let args: [usize; 6] = [req, a1, a2, a3, a4, 0];
        let mut result: usize = 0;
        // SAFETY: the magic preamble rotates rdi by 128 bits in total (a no-op) and
        // `xchg rbx, rbx` is a no-op; Valgrind recognises the sequence and reads `args`.
        unsafe {
            core::arch::asm!(
                "rol rdi, 3", "rol rdi, 13", "rol rdi, 61", "rol rdi, 51",
                "xchg rbx, rbx",
                inout("rdx") result,
                in("rax") args.as_ptr(),
                out("rdi") _,
                options(nostack),
            );
        }
        result
    }
}

#[cfg(feature = "track_asan")]
extern "C" {
    fn __asan_poison_memory_region(addr: *const u8, size: usize);
    fn __asan_unpoison_memory_region(addr: *const u8, size: usize);
}

#[allow(unused_variables, dead_code)]
#[inline(always)]
fn vg(req: usize, a1: usize, a2: usize, a3: usize, a4: usize) {
    #[cfg(all(feature = "track_valgrind", target_arch = "x86_64"))]
    valgrind::request(req, a1, a2, a3, a4);
}

/// A block of `size` usable bytes was handed out at `p`.
///
/// # Safety
/// `p..p+size` must be memory of ours (a block, a page or segment metadata): the
/// sanitizer annotates it, and AddressSanitizer writes the shadow of the range.
#[allow(unused_variables)]
#[inline(always)]
pub unsafe fn malloc(p: *mut u8, size: usize, zero: bool) {
    #[cfg(all(feature = "track_valgrind", target_arch = "x86_64"))]
    vg(
        valgrind::MALLOCLIKE_BLOCK,
        p as usize,
        size,
        0,
        zero as usize,
    );
    #[cfg(all(feature = "track_asan", not(feature = "track_valgrind")))]
    // SAFETY: unpoisoning our own block.
    unsafe {
        __asan_unpoison_memory_region(p, size)
    };
}

/// The block handed out at `p` (of `size` usable bytes) was freed.
///
/// # Safety
/// `p..p+size` must be memory of ours (a block, a page or segment metadata): the
/// sanitizer annotates it, and AddressSanitizer writes the shadow of the range.
#[allow(unused_variables)]
#[inline(always)]
pub unsafe fn free(p: *mut u8, size: usize) {
    #[cfg(all(feature = "track_valgrind", target_arch = "x86_64"))]
    vg(valgrind::FREELIKE_BLOCK, p as usize, 0, 0, 0);
    #[cfg(all(feature = "track_asan", not(feature = "track_valgrind")))]
    // SAFETY: poisoning our own block.
    unsafe {
        __asan_poison_memory_region(p, size)
    };
}

/// A block changed size in place.
///
/// # Safety
/// `p..p+max(old_size, new_size)` must be a block of ours.
#[allow(unused_variables)]
#[inline(always)]
pub unsafe fn resize(p: *mut u8, old_size: usize, new_size: usize) {
    #[cfg(all(feature = "track_valgrind", target_arch = "x86_64"))]
    vg(
        valgrind::RESIZEINPLACE_BLOCK,
        p as usize,
        old_size,
        new_size,
        0,
    );
    #[cfg(all(feature = "track_asan", not(feature = "track_valgrind")))]
    // SAFETY: (un)poisoning our own block.
    unsafe {
        if new_size > old_size {
            __asan_unpoison_memory_region(p, new_size)
        } else {
            __asan_poison_memory_region(p.add(new_size), old_size - new_size)
        }
    };
}

/// Memory the program must not touch (free blocks, padding).
///
/// # Safety
/// `p..p+size` must be memory of ours (a block, a page or segment metadata): the
/// sanitizer annotates it, and AddressSanitizer writes the shadow of the range.
#[allow(unused_variables)]
#[inline(always)]
pub unsafe fn mem_noaccess(p: *const u8, size: usize) {
    #[cfg(all(feature = "track_valgrind", target_arch = "x86_64"))]
    vg(valgrind::MAKE_MEM_NOACCESS, p as usize, size, 0, 0);
    #[cfg(all(feature = "track_asan", not(feature = "track_valgrind")))]
    // SAFETY: poisoning our own memory.
    unsafe {
        __asan_poison_memory_region(p, size)
    };
}

/// Accessible memory with undefined contents.
///
/// # Safety
/// `p..p+size` must be memory of ours (a block, a page or segment metadata): the
/// sanitizer annotates it, and AddressSanitizer writes the shadow of the range.
#[allow(unused_variables)]
#[inline(always)]
pub unsafe fn mem_undefined(p: *const u8, size: usize) {
    #[cfg(all(feature = "track_valgrind", target_arch = "x86_64"))]
    vg(valgrind::MAKE_MEM_UNDEFINED, p as usize, size, 0, 0);
    #[cfg(all(feature = "track_asan", not(feature = "track_valgrind")))]
    // SAFETY: unpoisoning our own memory.
    unsafe {
        __asan_unpoison_memory_region(p, size)
    };
}

/// Accessible memory with defined contents.
///
/// # Safety
/// `p..p+size` must be memory of ours (a block, a page or segment metadata): the
/// sanitizer annotates it, and AddressSanitizer writes the shadow of the range.
#[allow(unused_variables)]
#[inline(always)]
pub unsafe fn mem_defined(p: *const u8, size: usize) {
    #[cfg(all(feature = "track_valgrind", target_arch = "x86_64"))]
    vg(valgrind::MAKE_MEM_DEFINED, p as usize, size, 0, 0);
    #[cfg(all(feature = "track_asan", not(feature = "track_valgrind")))]
    // SAFETY: unpoisoning our own memory.
    unsafe {
        __asan_unpoison_memory_region(p, size)
    };
}

/// Bracket for the allocator's own access to the link word of a free block: Valgrind
/// sees uninstrumented accesses too, so they must be made legal for a moment.
///
/// # Safety
/// `p` must be the start of a free block of ours.
#[inline(always)]
pub unsafe fn link_open(p: *const u8) {
    if VALGRIND {
        // SAFETY: per the contract.
        unsafe { mem_defined(p, core::mem::size_of::<usize>()) };
    }
}

/// Ends the bracket `link_open` began.
///
/// # Safety
/// As for `link_open`.
#[inline(always)]
pub unsafe fn link_close(p: *const u8) {
    if VALGRIND {
        // SAFETY: per the contract.
        unsafe { mem_noaccess(p, core::mem::size_of::<usize>()) };
    }
}
