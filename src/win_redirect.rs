//! The open CRT redirect of `mimalloc-override.dll` (Windows, feature `override`): at
//! `DLL_PROCESS_ATTACH` the allocation functions of the C runtime DLLs (`msvcrt.dll`,
//! mingw's default, `ucrtbase.dll`, and Visual C++ 2010-2013's `msvcr1x0.dll`) are
//! patched to jump to ours, so every module that uses that runtime, loaded before or
//! after us, allocates with mimalloc. A runtime DLL loaded later is patched as it loads
//! (a loader notification, `LdrRegisterDllNotification`), and forgotten when it is
//! unloaded. `MIMALLOC_DISABLE_REDIRECT=1` leaves the runtimes
//! alone; `MIMALLOC_VERBOSE=1` lists what was patched.
//!
//! How: each function's first 12 bytes become `mov rax, <ours>; jmp rax` (rax is a
//! scratch register at a call boundary in the x64 calling convention), written after
//! `VirtualProtect` and undone by `uninstall` (FreeLibrary of our DLL). A function is
//! patched only if it lies inside its module's image (not forwarded elsewhere) and no
//! other exported function of the module starts within its first 12 bytes (so a short
//! function is left alone rather than its neighbour overwritten).
//!
//! Blocks the runtime allocated before the redirect (or a runtime-internal `HeapAlloc`)
//! stay the runtime's: our replacements check with the segment map whether a pointer is
//! ours, and hand any other pointer to the runtime's own heap (`_get_heap_handle`, with
//! `HeapFree`/`HeapSize`/`HeapReAlloc`, which is what `free`/`_msize`/`_expand` of
//! msvcrt and ucrt do), so no trampoline into the patched code is needed. Aligned
//! blocks of the runtime keep the runtime's layout: the pointer that `malloc` returned
//! is stored in the word below the aligned address.

use crate::capi as c;
use crate::prim;
use crate::segment_map::is_in_heap_region;
use crate::sync::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, Racy};
use core::ffi::c_void;
use core::ptr;

/// The runtimes we redirect (their index is the const parameter `M` of the
/// replacement functions, which keep each runtime's foreign blocks apart): mingw's
/// default `msvcrt.dll`, the universal CRT, and the DLL runtimes of Visual C++ 2010,
/// 2012 and 2013 (`/MD` programs of those compilers).
const MODULES: [&[u8]; 5] = [
    b"msvcrt.dll\0",
    b"ucrtbase.dll\0",
    b"msvcr120.dll\0",
    b"msvcr110.dll\0",
    b"msvcr100.dll\0",
];
const MODULE_COUNT: usize = MODULES.len();

const PATCH_LEN: usize = 12;

/// Per runtime: its `_get_heap_handle` (called on the first foreign block, as the
/// runtime may not be initialised yet when we patch it) and the heap it returned.
static HEAP_FN: [AtomicUsize; MODULE_COUNT] = [const { AtomicUsize::new(0) }; MODULE_COUNT];
static HEAP: [AtomicPtr<c_void>; MODULE_COUNT] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MODULE_COUNT];
/// Per runtime: its `_errno`, where a failed allocation through its functions reports
/// `ENOMEM` (see `reported`).
static ERRNO_FN: [AtomicUsize; MODULE_COUNT] = [const { AtomicUsize::new(0) }; MODULE_COUNT];
/// Per runtime: its `_callnewh` (the C++ new-handler protocol of its `operator new`).
static CALLNEWH: [AtomicUsize; MODULE_COUNT] = [const { AtomicUsize::new(0) }; MODULE_COUNT];
static PATCHED_MODULE: [AtomicPtr<c_void>; MODULE_COUNT] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MODULE_COUNT];

static REDIRECTED: AtomicBool = AtomicBool::new(false);

/// What we overwrote, to restore it at unload.
#[derive(Clone, Copy)]
struct Patch {
    addr: usize,
    saved: [u8; PATCH_LEN],
}
const MAX_PATCHES: usize = MODULE_COUNT * TARGETS;
/// Written only under the loader lock (DllMain and the load notification).
static PATCHES: Racy<[Patch; MAX_PATCHES]> = Racy::new(
    [Patch {
        addr: 0,
        saved: [0; PATCH_LEN],
    }; MAX_PATCHES],
);
static PATCH_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Whether the C runtime's allocation functions are ours (`mi_is_redirected`).
/// cbindgen:ignore
#[no_mangle]
pub extern "C" fn mi_is_redirected() -> bool {
    // Relaxed: a flag set once under the loader lock.
    REDIRECTED.load(Ordering::Relaxed)
}

// --- the runtime's heap, for blocks that are not ours ---------------------------------

fn crt_heap<const M: usize>() -> *mut c_void {
    // Relaxed: idempotent (the runtime returns the same handle every time).
    let h = HEAP[M].load(Ordering::Relaxed);
    if !h.is_null() {
        return h;
    }
    let f = HEAP_FN[M].load(Ordering::Relaxed);
    if f == 0 {
        return ptr::null_mut();
    }
    // SAFETY: `f` is the runtime's exported `_get_heap_handle` (intptr_t (void)).
    let get: extern "C" fn() -> *mut c_void = unsafe { core::mem::transmute(f) };
    let h = get();
    HEAP[M].store(h, Ordering::Relaxed);
    h
}

#[inline]
fn is_ours(p: *const c_void) -> bool {
    is_in_heap_region(p as *const u8)
}

/// Free a block of runtime `M`'s heap.
///
/// # Safety
/// `p` is a live block of that heap.
unsafe fn crt_free<const M: usize>(p: *mut c_void) {
    let heap = crt_heap::<M>();
    if !heap.is_null() {
        // SAFETY: per the contract.
        unsafe { prim::heap_free(heap, p) };
    }
}

/// # Safety
/// `p` is a live block of runtime `M`'s heap.
unsafe fn crt_size<const M: usize>(p: *const c_void) -> usize {
    let heap = crt_heap::<M>();
    if heap.is_null() {
        return usize::MAX;
    }
    // SAFETY: per the contract.
    unsafe { prim::heap_size(heap, p) }
}

/// Move a foreign block `p` into `n`, a new block of ours of `size` bytes (null if
/// that allocation failed: then the runtime's errno is `ENOMEM`, see `reported`): copy
/// what fits, zero the part past the old contents when `zero`, and free the runtime's
/// block `base` (`p` itself, or the block below an aligned `p`). Returns `n`, or null
/// (with `p` left alone) if it failed.
///
/// # Safety
/// `base` is a live block of runtime `M`'s heap and `p` points into it.
unsafe fn crt_move_into<const M: usize>(
    p: *mut c_void,
    base: *mut c_void,
    n: *mut c_void,
    size: usize,
    zero: bool,
) -> *mut c_void {
    if n.is_null() {
        return reported::<M>(n);
    }
    // SAFETY: per the contract.
    let old = unsafe { crt_size::<M>(base) };
    if old == usize::MAX {
        // SAFETY: the block we just allocated.
        unsafe { c::mi_free(n) };
        return ptr::null_mut();
    }
    let old = old.saturating_sub(p as usize - base as usize);
    // SAFETY: `p` holds `old` bytes and `n` holds `size`; they are distinct blocks.
    unsafe {
        ptr::copy_nonoverlapping(p as *const u8, n as *mut u8, old.min(size));
        if zero && size > old {
            ptr::write_bytes((n as *mut u8).add(old), 0, size - old);
        }
        crt_free::<M>(base);
    }
    n
}

/// `realloc`/`_recalloc` of a foreign block: into a new block of ours; `size == 0`
/// frees it and returns null, as the runtime's `realloc` does.
///
/// # Safety
/// `p` is a live block of runtime `M`'s heap.
unsafe fn crt_move<const M: usize>(p: *mut c_void, size: usize, zero: bool) -> *mut c_void {
    if size == 0 {
        // SAFETY: per the contract.
        unsafe { crt_free::<M>(p) };
        return ptr::null_mut();
    }
    // SAFETY: per the contract.
    unsafe { crt_move_into::<M>(p, p, c::mi_malloc(size), size, zero) }
}

/// The block that the runtime's `_aligned_*` functions put below an aligned pointer.
///
/// # Safety
/// `p` came from the runtime's `_aligned_malloc` family.
unsafe fn crt_aligned_base(p: *mut c_void) -> *mut c_void {
    let slot =
        ((p as usize) & !(core::mem::size_of::<usize>() - 1)) - core::mem::size_of::<usize>();
    // SAFETY: per the contract the word below holds the block the runtime allocated.
    unsafe { *(slot as *const *mut c_void) }
}

/// A replacement of runtime `M` returns `p`: when it is null the allocation failed, and
/// as the runtime's own function would, it sets the runtime's errno to `ENOMEM` (what
/// Microsoft documents for `malloc`, `calloc`, `realloc`, `_recalloc` and
/// `_aligned_*`). It must be the errno of runtime `M`: a ucrt program (every MSVC `/MD`
/// program) reads ucrt's, not the msvcrt one this DLL is linked with. (C mimalloc's
/// redirect leaves errno alone here; a program checking it would see a stale value.)
#[inline(always)]
fn reported<const M: usize>(p: *mut c_void) -> *mut c_void {
    if p.is_null() {
        set_runtime_errno::<M>(libc::ENOMEM);
    }
    p
}

#[cold]
#[inline(never)]
fn set_runtime_errno<const M: usize>(e: i32) {
    // Relaxed: set once under the loader lock, before any call can reach us.
    let f = ERRNO_FN[M].load(Ordering::Relaxed);
    if f == 0 {
        // (a runtime without `_errno`: ours is the best we have)
        crate::types::set_errno(e);
        return;
    }
    // SAFETY: `f` is the runtime's exported `int* _errno(void)`.
    let errno_of_runtime: extern "C" fn() -> *mut i32 = unsafe { core::mem::transmute(f) };
    let slot = errno_of_runtime();
    if !slot.is_null() {
        // SAFETY: the calling thread's errno slot of runtime `M`.
        unsafe { *slot = e };
    }
}

// --- the replacements ----------------------------------------------------------------------

extern "C" fn r_malloc<const M: usize>(size: usize) -> *mut c_void {
    reported::<M>(c::mi_malloc(size))
}

extern "C" fn r_calloc<const M: usize>(count: usize, size: usize) -> *mut c_void {
    reported::<M>(c::mi_calloc(count, size))
}

/// The runtime's `realloc`.
///
/// # Safety
/// As the runtime's function: `p` is null or a live block of mimalloc or of runtime `M`
/// (of the matching family: `_aligned_*` blocks for the `_aligned_*` functions).
unsafe extern "C" fn r_realloc<const M: usize>(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() || is_ours(p) {
        if size == 0 && !p.is_null() {
            // SAFETY: our block.
            unsafe { c::mi_free(p) };
            return ptr::null_mut();
        }
        // SAFETY: null or our block.
        return reported::<M>(unsafe { c::mi_realloc(p, size) });
    }
    // SAFETY: not ours: the runtime's (the caller's contract with `realloc`).
    unsafe { crt_move::<M>(p, size, false) }
}

/// The runtime's `free` (and its `operator delete`s).
///
/// # Safety
/// As the runtime's function: `p` is null or a live block of mimalloc or of runtime `M`
/// (of the matching family: `_aligned_*` blocks for the `_aligned_*` functions).
unsafe extern "C" fn r_free<const M: usize>(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    if is_ours(p) {
        // SAFETY: our block.
        unsafe { c::mi_free(p) }
    } else {
        // SAFETY: the runtime's block.
        unsafe { crt_free::<M>(p) }
    }
}

/// The runtime's `_msize`.
///
/// # Safety
/// As the runtime's function: `p` is null or a live block of mimalloc or of runtime `M`
/// (of the matching family: `_aligned_*` blocks for the `_aligned_*` functions).
unsafe extern "C" fn r_msize<const M: usize>(p: *mut c_void) -> usize {
    if p.is_null() {
        set_runtime_errno::<M>(libc::EINVAL);
        return usize::MAX;
    }
    if is_ours(p) {
        // SAFETY: our block.
        unsafe { c::mi_usable_size(p) }
    } else {
        // SAFETY: the runtime's block.
        unsafe { crt_size::<M>(p) }
    }
}

/// The runtime's `_expand`.
///
/// # Safety
/// As the runtime's function: `p` is null or a live block of mimalloc or of runtime `M`
/// (of the matching family: `_aligned_*` blocks for the `_aligned_*` functions).
unsafe extern "C" fn r_expand<const M: usize>(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        return ptr::null_mut();
    }
    if is_ours(p) {
        // SAFETY: our block.
        unsafe { c::mi_expand(p, size) }
    } else {
        let heap = crt_heap::<M>();
        if heap.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: the runtime's block.
        unsafe { prim::heap_resize_in_place(heap, p, size) }
    }
}

/// The runtime's `_recalloc`.
///
/// # Safety
/// As the runtime's function: `p` is null or a live block of mimalloc or of runtime `M`
/// (of the matching family: `_aligned_*` blocks for the `_aligned_*` functions).
unsafe extern "C" fn r_recalloc<const M: usize>(
    p: *mut c_void,
    count: usize,
    size: usize,
) -> *mut c_void {
    if p.is_null() || is_ours(p) {
        // SAFETY: null or our block.
        return reported::<M>(unsafe { c::mi_recalloc(p, count, size) });
    }
    let Some(total) = count.checked_mul(size) else {
        return reported::<M>(ptr::null_mut());
    };
    // SAFETY: the runtime's block.
    unsafe { crt_move::<M>(p, total, true) }
}

extern "C" fn r_aligned_malloc<const M: usize>(size: usize, alignment: usize) -> *mut c_void {
    reported::<M>(c::mi_malloc_aligned(size, alignment))
}

extern "C" fn r_aligned_offset_malloc<const M: usize>(
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    reported::<M>(c::mi_malloc_aligned_at(size, alignment, offset))
}

/// The runtime's `_aligned_free`.
///
/// # Safety
/// As the runtime's function: `p` is null or a live block of mimalloc or of runtime `M`
/// (of the matching family: `_aligned_*` blocks for the `_aligned_*` functions).
unsafe extern "C" fn r_aligned_free<const M: usize>(p: *mut c_void) {
    if !p.is_null() && !is_ours(p) {
        // SAFETY: the runtime's aligned block.
        unsafe { crt_free::<M>(crt_aligned_base(p)) }
    } else {
        // SAFETY: null or our block (mi_free accepts aligned pointers into a block).
        unsafe { c::mi_free(p) }
    }
}

/// A foreign aligned block moved into an aligned block of ours.
///
/// # Safety
/// `p` is a live aligned block of runtime `M`.
unsafe fn crt_aligned_move<const M: usize>(
    p: *mut c_void,
    size: usize,
    alignment: usize,
    offset: usize,
    zero: bool,
) -> *mut c_void {
    // SAFETY: per the contract.
    let base = unsafe { crt_aligned_base(p) };
    if size == 0 {
        // SAFETY: the runtime's block.
        unsafe { crt_free::<M>(base) };
        return ptr::null_mut();
    }
    let n = c::mi_malloc_aligned_at(size, alignment, offset);
    // SAFETY: the runtime's block, `p` inside it.
    unsafe { crt_move_into::<M>(p, base, n, size, zero) }
}

/// The runtime's `_aligned_realloc`.
///
/// # Safety
/// As the runtime's function: `p` is null or a live block of mimalloc or of runtime `M`
/// (of the matching family: `_aligned_*` blocks for the `_aligned_*` functions).
unsafe extern "C" fn r_aligned_realloc<const M: usize>(
    p: *mut c_void,
    size: usize,
    alignment: usize,
) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe { r_aligned_offset_realloc::<M>(p, size, alignment, 0) }
}

/// The runtime's `_aligned_offset_realloc`.
///
/// # Safety
/// As the runtime's function: `p` is null or a live block of mimalloc or of runtime `M`
/// (of the matching family: `_aligned_*` blocks for the `_aligned_*` functions).
unsafe extern "C" fn r_aligned_offset_realloc<const M: usize>(
    p: *mut c_void,
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    if p.is_null() {
        return reported::<M>(c::mi_malloc_aligned_at(size, alignment, offset));
    }
    if is_ours(p) {
        if size == 0 {
            // SAFETY: our block.
            unsafe { c::mi_free(p) };
            return ptr::null_mut();
        }
        // SAFETY: our block.
        return reported::<M>(unsafe { c::mi_realloc_aligned_at(p, size, alignment, offset) });
    }
    // SAFETY: the runtime's aligned block.
    unsafe { crt_aligned_move::<M>(p, size, alignment, offset, false) }
}

/// The runtime's `_aligned_recalloc`.
///
/// # Safety
/// As the runtime's function: `p` is null or a live block of mimalloc or of runtime `M`
/// (of the matching family: `_aligned_*` blocks for the `_aligned_*` functions).
unsafe extern "C" fn r_aligned_recalloc<const M: usize>(
    p: *mut c_void,
    count: usize,
    size: usize,
    alignment: usize,
) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe { r_aligned_offset_recalloc::<M>(p, count, size, alignment, 0) }
}

/// The runtime's `_aligned_offset_recalloc`.
///
/// # Safety
/// As the runtime's function: `p` is null or a live block of mimalloc or of runtime `M`
/// (of the matching family: `_aligned_*` blocks for the `_aligned_*` functions).
unsafe extern "C" fn r_aligned_offset_recalloc<const M: usize>(
    p: *mut c_void,
    count: usize,
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    if p.is_null() || is_ours(p) {
        // SAFETY: null or our block.
        return reported::<M>(unsafe {
            c::mi_recalloc_aligned_at(p, count, size, alignment, offset)
        });
    }
    let Some(total) = count.checked_mul(size) else {
        return reported::<M>(ptr::null_mut());
    };
    // SAFETY: the runtime's aligned block.
    unsafe { crt_aligned_move::<M>(p, total, alignment, offset, true) }
}

/// The runtime's `_aligned_msize`.
///
/// # Safety
/// As the runtime's function: `p` is null or a live block of mimalloc or of runtime `M`
/// (of the matching family: `_aligned_*` blocks for the `_aligned_*` functions).
unsafe extern "C" fn r_aligned_msize<const M: usize>(
    p: *mut c_void,
    alignment: usize,
    offset: usize,
) -> usize {
    let _ = (alignment, offset);
    if p.is_null() || is_ours(p) {
        // SAFETY: null or our block.
        return unsafe { r_msize::<M>(p) };
    }
    // SAFETY: the runtime's aligned block.
    unsafe {
        let base = crt_aligned_base(p);
        crt_size::<M>(base).saturating_sub(p as usize - base as usize)
    }
}

/// The runtime's `operator new` (MSVC names): on failure ask the runtime's new handler
/// (`_callnewh`) and retry; with none installed return null, as msvcrt's does.
extern "C" fn r_new<const M: usize>(size: usize) -> *mut c_void {
    loop {
        let p = c::mi_malloc(size);
        if !p.is_null() {
            return p;
        }
        // Relaxed: set once under the loader lock.
        let h = CALLNEWH[M].load(Ordering::Relaxed);
        if h == 0 {
            return p;
        }
        // SAFETY: the runtime's exported `int _callnewh(size_t)`.
        let callnewh: extern "C" fn(usize) -> i32 = unsafe { core::mem::transmute(h) };
        if callnewh(size) == 0 {
            return p;
        }
    }
}

// --- the table ----------------------------------------------------------------------------

const TARGETS: usize = 28;

/// Exported names (NUL-terminated) and our replacement for runtime `M`.
fn targets<const M: usize>() -> [(&'static [u8], usize); TARGETS] {
    [
        (b"malloc\0", r_malloc::<M> as *const () as usize),
        (b"calloc\0", r_calloc::<M> as *const () as usize),
        (b"realloc\0", r_realloc::<M> as *const () as usize),
        (b"free\0", r_free::<M> as *const () as usize),
        (b"_msize\0", r_msize::<M> as *const () as usize),
        (b"_expand\0", r_expand::<M> as *const () as usize),
        (b"_recalloc\0", r_recalloc::<M> as *const () as usize),
        (
            b"_aligned_malloc\0",
            r_aligned_malloc::<M> as *const () as usize,
        ),
        (
            b"_aligned_free\0",
            r_aligned_free::<M> as *const () as usize,
        ),
        (
            b"_aligned_realloc\0",
            r_aligned_realloc::<M> as *const () as usize,
        ),
        (
            b"_aligned_recalloc\0",
            r_aligned_recalloc::<M> as *const () as usize,
        ),
        (
            b"_aligned_msize\0",
            r_aligned_msize::<M> as *const () as usize,
        ),
        (
            b"_aligned_offset_malloc\0",
            r_aligned_offset_malloc::<M> as *const () as usize,
        ),
        (
            b"_aligned_offset_realloc\0",
            r_aligned_offset_realloc::<M> as *const () as usize,
        ),
        (
            b"_aligned_offset_recalloc\0",
            r_aligned_offset_recalloc::<M> as *const () as usize,
        ),
        // ucrt's internal names (its malloc calls these)
        (b"_malloc_base\0", r_malloc::<M> as *const () as usize),
        (b"_calloc_base\0", r_calloc::<M> as *const () as usize),
        (b"_realloc_base\0", r_realloc::<M> as *const () as usize),
        (b"_free_base\0", r_free::<M> as *const () as usize),
        (b"_msize_base\0", r_msize::<M> as *const () as usize),
        (b"_expand_base\0", r_expand::<M> as *const () as usize),
        (b"_recalloc_base\0", r_recalloc::<M> as *const () as usize),
        // the runtime's C++ operators (MSVC names): new, delete, new[], delete[] and the
        // sized deletes
        (b"??2@YAPEAX_K@Z\0", r_new::<M> as *const () as usize),
        (b"??3@YAXPEAX@Z\0", r_free::<M> as *const () as usize),
        (b"??_U@YAPEAX_K@Z\0", r_new::<M> as *const () as usize),
        (b"??_V@YAXPEAX@Z\0", r_free::<M> as *const () as usize),
        (b"??3@YAXPEAX_K@Z\0", r_free::<M> as *const () as usize),
        (b"??_V@YAXPEAX_K@Z\0", r_free::<M> as *const () as usize),
    ]
}

/// The image size of a loaded module (its PE header's `SizeOfImage`).
///
/// # Safety
/// `base` is a loaded module's base address.
unsafe fn image_size(base: *const u8) -> usize {
    // SAFETY: a loaded image starts with its DOS header, whose e_lfanew (at 0x3c) leads
    // to the NT headers; SizeOfImage is at 24 + 56 from there (PE32+).
    unsafe {
        let nt = base.add((base.add(0x3c) as *const u32).read_unaligned() as usize);
        (nt.add(24 + 56) as *const u32).read_unaligned() as usize
    }
}

/// Whether an exported function of the module at `base` (any export, not only ours)
/// starts within the `PATCH_LEN` bytes after `a`: then the function at `a` may be
/// shorter than the patch, and patching it would overwrite its neighbour.
///
/// # Safety
/// `base` is a loaded module's base address.
unsafe fn export_within_patch(base: *const u8, a: usize) -> bool {
    // SAFETY: the PE32+ headers of a loaded image: the export directory is data
    // directory 0 (at 24 + 112 from the NT headers); its function table has
    // NumberOfFunctions RVAs at AddressOfFunctions.
    unsafe {
        let nt = base.add((base.add(0x3c) as *const u32).read_unaligned() as usize);
        let dir = nt.add(24 + 112);
        let rva = (dir as *const u32).read_unaligned() as usize;
        let size = (dir.add(4) as *const u32).read_unaligned() as usize;
        if rva == 0 {
            return false;
        }
        let exports = base.add(rva);
        let count = (exports.add(20) as *const u32).read_unaligned() as usize;
        let funcs =
            base.add((exports.add(28) as *const u32).read_unaligned() as usize) as *const u32;
        (0..count).any(|i| {
            let f = funcs.add(i).read_unaligned() as usize;
            // (an RVA inside the export directory is a forwarder string, not code)
            let code = f != 0 && !(rva..rva + size).contains(&f);
            let at = base as usize + f;
            code && at > a && at < a + PATCH_LEN
        })
    }
}

/// Drop the patch entries that lie in `range`, restoring the bytes they saved first when
/// `restore` (our own unload, or undoing a runtime we could not patch whole; not when the
/// runtime itself is being unloaded and its code goes away). The table stays dense, so
/// a runtime loaded and unloaded again and again never fills it.
///
/// # Safety
/// Under the loader lock; with `restore`, the patched code must still be mapped.
unsafe fn drop_patches(range: core::ops::Range<usize>, restore: bool) {
    let n = PATCH_COUNT.load(Ordering::Relaxed);
    let mut kept = 0;
    for i in 0..n {
        // SAFETY: the patch table is only touched under the loader lock.
        let entry = unsafe { (*PATCHES.get())[i] };
        if !range.contains(&entry.addr) {
            // SAFETY: as above.
            unsafe { (*PATCHES.get())[kept] = entry };
            kept += 1;
            continue;
        }
        let addr = entry.addr as *mut u8;
        if restore {
            // SAFETY: code we patched, still mapped (the caller's contract).
            unsafe {
                if let Some(old) = prim::protect_code(addr, PATCH_LEN, prim::PAGE_EXECUTE_READWRITE)
                {
                    ptr::copy_nonoverlapping(entry.saved.as_ptr(), addr, PATCH_LEN);
                    prim::protect_code(addr, PATCH_LEN, old);
                    prim::flush_icache(addr, PATCH_LEN);
                }
            }
        }
    }
    PATCH_COUNT.store(kept, Ordering::Relaxed);
}

/// Overwrite the entry point at `addr` with a jump to `to`, saving what was there.
///
/// # Safety
/// `addr` is the entry of a function of a loaded module, at least `PATCH_LEN` bytes
/// long, that no thread executes right now (we run under the loader lock at start-up).
unsafe fn patch(addr: *mut u8, to: usize) -> bool {
    let n = PATCH_COUNT.load(Ordering::Relaxed);
    if n >= MAX_PATCHES {
        return false;
    }
    // SAFETY: per the contract the range is mapped code.
    let Some(old) = (unsafe { prim::protect_code(addr, PATCH_LEN, prim::PAGE_EXECUTE_READWRITE) })
    else {
        return false;
    };
    let mut code = [0u8; PATCH_LEN];
    code[0] = 0x48; // mov rax, imm64
    code[1] = 0xB8;
    code[2..10].copy_from_slice(&to.to_le_bytes());
    code[10] = 0xFF; // jmp rax
    code[11] = 0xE0;
    // SAFETY: the range is writable now; the patch table is only written under the
    // loader lock.
    unsafe {
        let entry = &mut (*PATCHES.get())[n];
        entry.addr = addr as usize;
        ptr::copy_nonoverlapping(addr, entry.saved.as_mut_ptr(), PATCH_LEN);
        ptr::copy_nonoverlapping(code.as_ptr(), addr, PATCH_LEN);
        prim::protect_code(addr, PATCH_LEN, old);
    }
    prim::flush_icache(addr, PATCH_LEN);
    PATCH_COUNT.store(n + 1, Ordering::Relaxed);
    true
}

/// Patch runtime `M` (loaded at `module`). Returns the number of functions patched.
///
/// # Safety
/// `module` is the loaded runtime `MODULES[M]`; called under the loader lock.
unsafe fn redirect_module<const M: usize>(module: *mut c_void) -> usize {
    // (a second copy of the same runtime, loaded from elsewhere, keeps its own code:
    // the state per runtime below is the first copy's until it is unloaded)
    if !PATCHED_MODULE[M].load(Ordering::Relaxed).is_null() {
        return 0;
    }
    PATCHED_MODULE[M].store(module, Ordering::Relaxed);
    let name = MODULES[M];
    let name = core::str::from_utf8(&name[..name.len() - 1]).unwrap_or("?");
    // SAFETY: a loaded module.
    unsafe {
        HEAP_FN[M].store(
            prim::proc_address(module, b"_get_heap_handle\0") as usize,
            Ordering::Relaxed,
        );
        CALLNEWH[M].store(
            prim::proc_address(module, b"_callnewh\0") as usize,
            Ordering::Relaxed,
        );
        ERRNO_FN[M].store(
            prim::proc_address(module, b"_errno\0") as usize,
            Ordering::Relaxed,
        );
    }
    if HEAP_FN[M].load(Ordering::Relaxed) == 0 {
        crate::mi_warning!("{}: no _get_heap_handle: not redirected", name);
        return 0;
    }
    let base = module as usize;
    // SAFETY: a loaded module.
    let end = base + unsafe { image_size(module as *const u8) };
    let table = targets::<M>();
    let mut addrs = [0usize; TARGETS];
    for (i, (sym, _)) in table.iter().enumerate() {
        // SAFETY: a loaded module and a NUL-terminated name.
        addrs[i] = unsafe { prim::proc_address(module, sym) } as usize;
    }
    // Which entries to patch. A runtime is redirected whole or not at all: with only
    // some of its functions ours, a block of one allocator would reach the other's free.
    let mut todo = [false; TARGETS];
    for (i, (sym, _)) in table.iter().enumerate() {
        let a = addrs[i];
        let sym = core::str::from_utf8(&sym[..sym.len() - 1]).unwrap_or("?");
        // (not exported, or the same code under two names: patched once)
        if a == 0 || addrs[..i].contains(&a) {
            continue;
        }
        if a < base || a + PATCH_LEN > end {
            crate::mi_verbose!(
                "{}!{} is forwarded outside the module: not redirected",
                name,
                sym
            );
            continue;
        }
        // (every address in `addrs` is an export too)
        // SAFETY: a loaded module.
        if unsafe { export_within_patch(module as *const u8, a) } {
            crate::mi_warning!(
                "{}!{} is too short to patch: {} is not redirected",
                name,
                sym,
                name
            );
            return 0;
        }
        todo[i] = true;
    }
    let mut count = 0;
    for (i, (sym, to)) in table.iter().enumerate() {
        if !todo[i] {
            continue;
        }
        let a = addrs[i];
        let sym = core::str::from_utf8(&sym[..sym.len() - 1]).unwrap_or("?");
        // SAFETY: an entry point inside the loaded runtime, at least PATCH_LEN bytes
        // before the next export; under the loader lock.
        if !unsafe { patch(a as *mut u8, *to) } {
            crate::mi_warning!("cannot patch {}!{}: {} is not redirected", name, sym, name);
            // SAFETY: the patches just made, in the loaded runtime; under the loader lock.
            unsafe { drop_patches(base..end, true) };
            return 0;
        }
        crate::mi_verbose!("redirected {}!{} at {:#x}", name, sym, a);
        count += 1;
    }
    count
}

/// `redirect_module` for runtime `m` (an index of `MODULES`).
///
/// # Safety
/// As `redirect_module`.
unsafe fn redirect_index(m: usize, module: *mut c_void) -> usize {
    // SAFETY: forwarded contract.
    unsafe {
        match m {
            0 => redirect_module::<0>(module),
            1 => redirect_module::<1>(module),
            2 => redirect_module::<2>(module),
            3 => redirect_module::<3>(module),
            _ => redirect_module::<4>(module),
        }
    }
}

// --- runtimes loaded later ------------------------------------------------------------------

#[repr(C)]
struct UnicodeString {
    length: u16,
    maximum_length: u16,
    buffer: *const u16,
}

#[repr(C)]
struct DllNotificationData {
    flags: u32,
    full_dll_name: *const UnicodeString,
    base_dll_name: *const UnicodeString,
    dll_base: *mut c_void,
    size_of_image: u32,
}

type LdrRegisterDllNotification = unsafe extern "system" fn(
    flags: u32,
    callback: unsafe extern "system" fn(u32, *const DllNotificationData, *mut c_void),
    context: *mut c_void,
    cookie: *mut *mut c_void,
) -> i32;
type LdrUnregisterDllNotification = unsafe extern "system" fn(cookie: *mut c_void) -> i32;

static NOTIFY_COOKIE: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// Whether a UTF-16 module name equals an ASCII name (without its NUL), ignoring case.
///
/// # Safety
/// `s` is null or a valid `UNICODE_STRING`.
unsafe fn name_is(s: *const UnicodeString, ascii_nul: &[u8]) -> bool {
    if s.is_null() {
        return false;
    }
    let ascii = &ascii_nul[..ascii_nul.len() - 1];
    // SAFETY: per the contract.
    let (len, buf) = unsafe { ((*s).length as usize / 2, (*s).buffer) };
    if len != ascii.len() || buf.is_null() {
        return false;
    }
    (0..len).all(|i| {
        // SAFETY: the string holds `len` UTF-16 units.
        let c = unsafe { *buf.add(i) };
        c < 128 && (c as u8).eq_ignore_ascii_case(&ascii[i])
    })
}

/// The loader's notification: a runtime DLL was just mapped (its own start-up has not
/// run yet): redirect it before anything allocates through it.
///
/// # Safety
/// Called by the loader, under its lock, with valid notification data (or null).
unsafe extern "system" fn on_dll_notification(
    reason: u32,
    data: *const DllNotificationData,
    _context: *mut c_void,
) {
    const LDR_DLL_NOTIFICATION_REASON_LOADED: u32 = 1;
    const LDR_DLL_NOTIFICATION_REASON_UNLOADED: u32 = 2;
    if data.is_null() {
        return;
    }
    if reason == LDR_DLL_NOTIFICATION_REASON_UNLOADED {
        // SAFETY: the loader passes valid notification data; under its lock.
        unsafe { forget_module((*data).dll_base, (*data).size_of_image as usize) };
        return;
    }
    if reason != LDR_DLL_NOTIFICATION_REASON_LOADED {
        return;
    }
    for (m, name) in MODULES.iter().enumerate() {
        // SAFETY: the loader passes valid notification data.
        if unsafe { name_is((*data).base_dll_name, name) } {
            // SAFETY: the module was just loaded; we run under the loader lock.
            let n = unsafe { redirect_index(m, (*data).dll_base) };
            if n > 0 {
                REDIRECTED.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// A runtime we patched is being unloaded: drop its patches (its code goes away; the
/// address range may be reused) and its heap, so that a later load is patched afresh.
///
/// # Safety
/// Under the loader lock (the unload notification).
unsafe fn forget_module(base: *mut c_void, size: usize) {
    for m in 0..MODULE_COUNT {
        if PATCHED_MODULE[m].load(Ordering::Relaxed) == base {
            PATCHED_MODULE[m].store(ptr::null_mut(), Ordering::Relaxed);
            HEAP[m].store(ptr::null_mut(), Ordering::Relaxed);
            HEAP_FN[m].store(0, Ordering::Relaxed);
        }
    }
    // SAFETY: under the loader lock; the runtime's code goes away, nothing to restore.
    unsafe { drop_patches(base as usize..base as usize + size, false) };
}

// --- install / uninstall ---------------------------------------------------------------------

/// Redirect the loaded runtimes and watch for runtimes loaded later (at
/// `DLL_PROCESS_ATTACH`, after the options are read).
pub fn install() {
    if redirect_disabled() {
        crate::mi_verbose!("redirection disabled by MIMALLOC_DISABLE_REDIRECT");
        return;
    }
    let mut total = 0;
    for (m, name) in MODULES.iter().enumerate() {
        let module = prim::module_handle(name);
        if !module.is_null() {
            // SAFETY: a loaded runtime; DllMain runs under the loader lock.
            total += unsafe { redirect_index(m, module) };
        }
    }
    let ntdll = prim::module_handle(b"ntdll.dll\0");
    if !ntdll.is_null() {
        // SAFETY: ntdll is loaded in every process.
        let f = unsafe { prim::proc_address(ntdll, b"LdrRegisterDllNotification\0") };
        if !f.is_null() {
            // SAFETY: the documented signature of LdrRegisterDllNotification.
            let register: LdrRegisterDllNotification = unsafe { core::mem::transmute(f) };
            let mut cookie = ptr::null_mut();
            // SAFETY: a callback that lives as long as the registration (removed at
            // unload) and an out-parameter.
            if unsafe { register(0, on_dll_notification, ptr::null_mut(), &mut cookie) } >= 0 {
                NOTIFY_COOKIE.store(cookie, Ordering::Relaxed);
            }
        }
    }
    if total > 0 {
        REDIRECTED.store(true, Ordering::Relaxed);
        crate::mi_verbose!(
            "the C runtime's allocation functions are redirected to mimalloc ({} functions)",
            total
        );
    } else {
        crate::mi_verbose!("no C runtime was redirected (none loaded yet)");
    }
}

/// `MIMALLOC_DISABLE_REDIRECT` is set (to anything but 0, false, off or no).
fn redirect_disabled() -> bool {
    let mut buf = [0u8; 8];
    match prim::getenv(b"MIMALLOC_DISABLE_REDIRECT\0", &mut buf) {
        None => false,
        Some(n) => !matches!(
            &buf[..n],
            b"0" | b"false" | b"FALSE" | b"False" | b"off" | b"OFF" | b"no" | b"NO"
        ),
    }
}

/// Undo the patches (our DLL is being unloaded while the process goes on).
pub fn uninstall() {
    let cookie = NOTIFY_COOKIE.swap(ptr::null_mut(), Ordering::Relaxed);
    if !cookie.is_null() {
        let ntdll = prim::module_handle(b"ntdll.dll\0");
        // SAFETY: ntdll is loaded in every process.
        let f = unsafe { prim::proc_address(ntdll, b"LdrUnregisterDllNotification\0") };
        if !f.is_null() {
            // SAFETY: the documented signature; the cookie is ours.
            let unregister: LdrUnregisterDllNotification = unsafe { core::mem::transmute(f) };
            // SAFETY: as above.
            unsafe { unregister(cookie) };
        }
    }
    // SAFETY: the loader lock is held (DllMain); the table holds the patches of runtimes
    // still loaded.
    unsafe { drop_patches(0..usize::MAX, true) };
    REDIRECTED.store(false, Ordering::Relaxed);
}
