//! Raw OS primitives for Windows (x86-64): the module `prim` on Windows, with the same
//! interface as the Linux one (`prim.rs`) plus what other layers reach the OS for on
//! Windows (errno, the environment, randomness, the clock, process times, the
//! default-heap TLS slot and the thread-exit callback). The few kernel32/bcrypt
//! functions are declared here (no `windows-sys`); nothing here allocates.
//!
//! The core's memory model is Linux's: a mapping is reserved inaccessible or committed
//! read-write, `protect(.., true)` commits, and a purged range stays accessible and
//! reads as zeros (decommit) or keeps undefined contents (reset). On Windows that is:
//! `mmap` = `VirtualAlloc(MEM_RESERVE [| MEM_COMMIT])`, commit = `VirtualAlloc(MEM_COMMIT)`,
//! decommit = `VirtualFree(MEM_DECOMMIT)` followed by a fresh `MEM_COMMIT` (the pages
//! leave the working set and come back zeroed on first touch), reset = `MEM_RESET`.
//! Windows cannot release part of an allocation, so aligned mappings are made by
//! `mmap_aligned` (reserve, release, re-reserve at the aligned address) instead of by
//! trimming an over-allocation as on Linux.

// (the module/heap helpers serve only the CRT redirect of the override DLL)
#![cfg_attr(not(feature = "override"), allow(dead_code))]

#[cfg(not(target_arch = "x86_64"))]
compile_error!("the Windows platform layer supports x86-64 only");

#[cfg(feature = "fault_injection")]
use crate::fault::Point;
use crate::sync::{AtomicUsize, Ordering};
use crate::types::set_errno;
use core::ffi::c_void;
use core::ptr;

// --- the Win32 functions we use --------------------------------------------------------

type Bool = i32;
type Handle = *mut c_void;

const MEM_COMMIT: u32 = 0x1000;
const MEM_RESERVE: u32 = 0x2000;
const MEM_DECOMMIT: u32 = 0x4000;
const MEM_RELEASE: u32 = 0x8000;
const MEM_RESET: u32 = 0x80000;
const PAGE_NOACCESS: u32 = 0x01;
const PAGE_READWRITE: u32 = 0x04;
pub const PAGE_EXECUTE_READWRITE: u32 = 0x40;
const STD_ERROR_HANDLE: u32 = -12i32 as u32;
const TLS_OUT_OF_INDEXES: u32 = 0xFFFF_FFFF;
const BCRYPT_USE_SYSTEM_PREFERRED_RNG: u32 = 2;
const ERROR_NOT_ENOUGH_MEMORY: u32 = 8;
const ERROR_COMMITMENT_LIMIT: u32 = 1455;

#[repr(C)]
struct SystemInfo {
    processor_architecture: u16,
    reserved: u16,
    page_size: u32,
    minimum_application_address: *mut c_void,
    maximum_application_address: *mut c_void,
    active_processor_mask: usize,
    number_of_processors: u32,
    processor_type: u32,
    allocation_granularity: u32,
    processor_level: u16,
    processor_revision: u16,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct FileTime {
    low: u32,
    high: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProcessMemoryCounters {
    cb: u32,
    page_fault_count: u32,
    peak_working_set_size: usize,
    working_set_size: usize,
    quota_peak_paged_pool_usage: usize,
    quota_paged_pool_usage: usize,
    quota_peak_non_paged_pool_usage: usize,
    quota_non_paged_pool_usage: usize,
    pagefile_usage: usize,
    peak_pagefile_usage: usize,
}

/// The thread-exit callback of fiber-local storage (`FLS_CALLBACK_FUNCTION`). On x86-64
/// the "system" and "C" calling conventions are the same.
pub type FlsCallback = unsafe extern "system" fn(*mut c_void);

#[link(name = "kernel32")]
extern "system" {
    fn VirtualAlloc(addr: *mut c_void, size: usize, kind: u32, protect: u32) -> *mut c_void;
    fn VirtualFree(addr: *mut c_void, size: usize, kind: u32) -> Bool;
    fn VirtualProtect(addr: *mut c_void, size: usize, protect: u32, old: *mut u32) -> Bool;
    fn GetSystemInfo(info: *mut SystemInfo);
    fn GetLastError() -> u32;
    fn GetStdHandle(which: u32) -> Handle;
    fn WriteFile(h: Handle, buf: *const u8, n: u32, written: *mut u32, ov: *mut c_void) -> Bool;
    fn QueryPerformanceCounter(count: *mut i64) -> Bool;
    fn QueryPerformanceFrequency(freq: *mut i64) -> Bool;
    fn GetEnvironmentVariableA(name: *const u8, buf: *mut u8, size: u32) -> u32;
    fn FlsAlloc(callback: Option<FlsCallback>) -> u32;
    fn FlsSetValue(index: u32, value: *mut c_void) -> Bool;
    fn FlsFree(index: u32) -> Bool;
    fn GetCurrentProcess() -> Handle;
    fn GetProcessTimes(
        p: Handle,
        creation: *mut FileTime,
        exit: *mut FileTime,
        kernel: *mut FileTime,
        user: *mut FileTime,
    ) -> Bool;
    fn K32GetProcessMemoryInfo(p: Handle, counters: *mut ProcessMemoryCounters, cb: u32) -> Bool;
    fn GetNumaHighestNodeNumber(highest: *mut u32) -> Bool;
    fn GetFullPathNameA(name: *const u8, size: u32, buf: *mut u8, file_part: *mut *mut u8) -> u32;
    fn FlushInstructionCache(p: Handle, addr: *const c_void, size: usize) -> Bool;
    fn GetModuleHandleA(name: *const u8) -> Handle;
    fn GetProcAddress(module: Handle, name: *const u8) -> *mut c_void;
    fn HeapFree(heap: Handle, flags: u32, p: *mut c_void) -> Bool;
    fn HeapSize(heap: Handle, flags: u32, p: *const c_void) -> usize;
    fn HeapReAlloc(heap: Handle, flags: u32, p: *mut c_void, size: usize) -> *mut c_void;
}

#[link(name = "bcrypt")]
extern "system" {
    fn BCryptGenRandom(alg: *mut c_void, buf: *mut u8, len: u32, flags: u32) -> i32;
}

extern "C" {
    /// msvcrt's standard streams (`stdin`, `stdout`, `stderr` are its first three
    /// 48-byte `FILE`s).
    fn __iob_func() -> *mut u8;
}

/// Map a Win32 error code to the errno value the layers above report.
fn errno_of(err: u32) -> i32 {
    match err {
        ERROR_NOT_ENOUGH_MEMORY | ERROR_COMMITMENT_LIMIT => libc::ENOMEM,
        0 => 0,
        _ => libc::EINVAL,
    }
}

fn last_errno() -> i32 {
    // SAFETY: GetLastError has no preconditions.
    let e = errno_of(unsafe { GetLastError() });
    if e == 0 {
        libc::EINVAL
    } else {
        e
    }
}

// --- memory ------------------------------------------------------------------------------

static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
static ALLOC_GRANULARITY: AtomicUsize = AtomicUsize::new(0);

fn system_info() -> (usize, usize) {
    // SAFETY: an all-zero SYSTEM_INFO is a valid out-parameter.
    let mut si: SystemInfo = unsafe { core::mem::zeroed() };
    // SAFETY: `si` is a valid out-parameter.
    unsafe { GetSystemInfo(&mut si) };
    let ps = if si.page_size > 0 {
        si.page_size as usize
    } else {
        4096
    };
    let gran = (si.allocation_granularity as usize).max(ps);
    (ps, gran)
}

/// OS page size (`GetSystemInfo`, never assumed).
#[inline]
pub fn page_size() -> usize {
    // Relaxed: an idempotent cache.
    let ps = PAGE_SIZE.load(Ordering::Relaxed);
    if ps != 0 {
        return ps;
    }
    let (ps, gran) = system_info();
    ALLOC_GRANULARITY.store(gran, Ordering::Relaxed);
    PAGE_SIZE.store(ps, Ordering::Relaxed);
    ps
}

/// The granularity of `VirtualAlloc` addresses (64 KiB).
pub fn alloc_granularity() -> usize {
    page_size();
    // Relaxed: set by `page_size` on this thread or an earlier one.
    ALLOC_GRANULARITY.load(Ordering::Relaxed)
}

/// Windows never overcommits: reserved address space is committed when it is used.
pub fn has_overcommit() -> bool {
    false
}

/// Write all bytes to the standard error handle with `WriteFile`.
pub fn write_stderr(mut bytes: &[u8]) {
    // SAFETY: GetStdHandle has no preconditions.
    let h = unsafe { GetStdHandle(STD_ERROR_HANDLE) };
    if h.is_null() || h as isize == -1 {
        return;
    }
    while !bytes.is_empty() {
        let chunk = bytes.len().min(1 << 30) as u32;
        let mut written = 0u32;
        // SAFETY: the pointer/length pair describes a live slice; synchronous write.
        let ok = unsafe { WriteFile(h, bytes.as_ptr(), chunk, &mut written, ptr::null_mut()) };
        if ok == 0 || written == 0 {
            return;
        }
        bytes = &bytes[written as usize..];
    }
}

/// Reserve `size` bytes of address space, also committed read-write when `commit`.
/// `hint` is a preferred address (64 KiB aligned) or null; a taken hint falls back to
/// anywhere, as `mmap` does. Returns null (with errno) on failure.
pub fn mmap(hint: *mut u8, size: usize, commit: bool) -> *mut u8 {
    if injected!(Point::Mmap, size) {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    }
    let (kind, protect) = if commit {
        (MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
    } else {
        (MEM_RESERVE, PAGE_NOACCESS)
    };
    let mut p = ptr::null_mut();
    if !hint.is_null() {
        // SAFETY: a fresh reservation at a free address touches no existing memory.
        p = unsafe { VirtualAlloc(hint.cast(), size, kind, protect) };
    }
    if p.is_null() {
        // SAFETY: as above, wherever the system likes.
        p = unsafe { VirtualAlloc(ptr::null_mut(), size, kind, protect) };
    }
    if p.is_null() {
        set_errno(last_errno());
    }
    p.cast()
}

/// Reserve (and commit when `commit`) `size` bytes such that `p + offset` is aligned to
/// `alignment`. Windows cannot trim an over-allocation, so reserve `size + alignment`,
/// release it and reserve again at the aligned address inside it (another thread may
/// take that address meanwhile: then try again). Returns null on failure.
pub fn mmap_aligned(size: usize, alignment: usize, offset: usize, commit: bool) -> *mut u8 {
    let over = size + alignment;
    for _ in 0..16 {
        let q = mmap(ptr::null_mut(), over, false);
        if q.is_null() {
            return q;
        }
        let mut aligned = (q as usize + offset).next_multiple_of(alignment) - offset;
        if aligned < q as usize {
            aligned += alignment;
        }
        // SAFETY: releasing the whole reservation we just made.
        unsafe { munmap(q, over) };
        if aligned % alloc_granularity() != 0 {
            return ptr::null_mut(); // cannot be an allocation base
        }
        let (kind, protect) = if commit {
            (MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
        } else {
            (MEM_RESERVE, PAGE_NOACCESS)
        };
        // SAFETY: a fresh reservation at a free address (or failure if it was taken).
        let p = unsafe { VirtualAlloc(aligned as *mut c_void, size, kind, protect) };
        if p as usize == aligned {
            return p.cast();
        }
        if !p.is_null() {
            // SAFETY: not where we asked: give it back.
            unsafe { munmap(p.cast(), size) };
        }
    }
    set_errno(libc::ENOMEM);
    ptr::null_mut()
}

/// Release a whole reservation made by `mmap`/`mmap_aligned` (Windows releases an
/// allocation only as a whole: `p` must be its base). Returns 0 or an errno value.
///
/// # Safety
/// `p` must be the base of a reservation we own that nothing uses any more.
pub unsafe fn munmap(p: *mut u8, size: usize) -> i32 {
    let _ = size;
    // SAFETY: per the contract.
    if unsafe { VirtualFree(p.cast(), 0, MEM_RELEASE) } != 0 {
        0
    } else {
        last_errno()
    }
}

/// Give the physical pages of a range back; later reads see zeros and the range stays
/// accessible (decommit, then commit again: fresh pages are zero-filled on first touch).
///
/// # Safety
/// The range must be owned, page aligned, and hold no live data.
pub unsafe fn decommit(p: *mut u8, size: usize) -> i32 {
    if injected!(Point::Purge, size) {
        return libc::ENOMEM;
    }
    // SAFETY: per the contract.
    if unsafe { VirtualFree(p.cast(), size, MEM_DECOMMIT) } == 0 {
        return last_errno();
    }
    // SAFETY: the range is reserved by us (just decommitted).
    if unsafe { VirtualAlloc(p.cast(), size, MEM_COMMIT, PAGE_READWRITE) }.is_null() {
        return last_errno();
    }
    0
}

/// Let the OS reclaim the pages lazily (`MEM_RESET`: contents become undefined).
///
/// # Safety
/// The range must be owned, page aligned, committed, and hold no live data.
pub unsafe fn reset(p: *mut u8, size: usize) -> i32 {
    if injected!(Point::Purge, size) {
        return libc::ENOMEM;
    }
    // SAFETY: per the contract.
    if unsafe { VirtualAlloc(p.cast(), size, MEM_RESET, PAGE_READWRITE) }.is_null() {
        return last_errno();
    }
    0
}

/// Make a range read-write (committing it if it is only reserved), or inaccessible
/// (guard pages, secure decommit).
///
/// # Safety
/// The range must be an owned, page-aligned part of one reservation.
pub unsafe fn protect(p: *mut u8, size: usize, accessible: bool) -> i32 {
    if injected!(Point::of_protect(accessible), size) {
        return libc::ENOMEM;
    }
    let mut old = 0u32;
    if accessible {
        // SAFETY: per the contract; committing committed pages is allowed.
        if unsafe { VirtualAlloc(p.cast(), size, MEM_COMMIT, PAGE_READWRITE) }.is_null() {
            return last_errno();
        }
        // (pages that were committed and made a guard keep their protection through
        // MEM_COMMIT: set it explicitly)
        // SAFETY: per the contract; the range is committed now.
        if unsafe { VirtualProtect(p.cast(), size, PAGE_READWRITE, &mut old) } == 0 {
            return last_errno();
        }
    } else {
        // SAFETY: per the contract.
        if unsafe { VirtualProtect(p.cast(), size, PAGE_NOACCESS, &mut old) } == 0 {
            return last_errno();
        }
    }
    0
}

/// Transparent huge pages do not exist on Windows (large pages need the "lock pages in
/// memory" privilege and are not used): nothing to do.
///
/// # Safety
/// None beyond the Linux version's contract.
pub unsafe fn advise_huge(p: *mut u8, size: usize) {
    let _ = (p, size);
}

/// No transparent huge pages on Windows.
pub fn disable_thp() {}

/// Change the protection of code we patch (the CRT redirect); returns the old protection.
///
/// # Safety
/// The range must be mapped; the caller restores the protection.
pub unsafe fn protect_code(p: *mut u8, size: usize, protect: u32) -> Option<u32> {
    let mut old = 0u32;
    // SAFETY: per the contract.
    (unsafe { VirtualProtect(p.cast(), size, protect, &mut old) } != 0).then_some(old)
}

/// Make patched code visible to instruction fetch.
pub fn flush_icache(p: *const u8, size: usize) {
    // SAFETY: flushing a range of our own process.
    unsafe { FlushInstructionCache(GetCurrentProcess(), p.cast(), size) };
}

// --- clock, randomness, environment, process -------------------------------------------

static QPC_FREQ: AtomicUsize = AtomicUsize::new(0);

/// Milliseconds from the performance counter (monotonic).
pub fn clock_now_ms() -> i64 {
    // Relaxed: an idempotent cache.
    let mut freq = QPC_FREQ.load(Ordering::Relaxed) as i64;
    if freq == 0 {
        // SAFETY: a valid out-parameter.
        unsafe { QueryPerformanceFrequency(&mut freq) };
        freq = freq.max(1);
        QPC_FREQ.store(freq as usize, Ordering::Relaxed);
    }
    let mut t = 0i64;
    // SAFETY: a valid out-parameter.
    unsafe { QueryPerformanceCounter(&mut t) };
    (t as i128 * 1000 / freq as i128) as i64
}

/// 1 GiB pages need the "lock pages in memory" privilege and a mapping of their own
/// (not one placed over a reservation), which this build does not attempt.
pub const HUGE_1GIB_PAGES: bool = false;

/// Never maps anything (see `HUGE_1GIB_PAGES`).
///
/// # Safety
/// None beyond the Linux version's.
pub unsafe fn map_huge_1gib_at(_addr: *mut u8, _node: i32) -> bool {
    false
}

/// Number of NUMA nodes (at least 1).
pub fn numa_node_count() -> usize {
    let mut highest = 0u32;
    // SAFETY: a valid out-parameter.
    if unsafe { GetNumaHighestNodeNumber(&mut highest) } == 0 {
        return 1;
    }
    highest as usize + 1
}

/// Fill `buf` with the system's preferred random generator (`BCryptGenRandom`).
pub fn random_buf(buf: &mut [u8]) -> bool {
    let mut filled = 0;
    while filled < buf.len() {
        let n = (buf.len() - filled).min(u32::MAX as usize);
        // SAFETY: the range `filled..filled+n` of `buf` is writable.
        let status = unsafe {
            BCryptGenRandom(
                ptr::null_mut(),
                buf.as_mut_ptr().add(filled),
                n as u32,
                BCRYPT_USE_SYSTEM_PREFERRED_RNG,
            )
        };
        if status < 0 {
            return false;
        }
        filled += n;
    }
    true
}

/// Read the environment variable `name` (NUL-terminated; Windows compares names without
/// case) into `buf`, truncated to its length. Returns the length, or `None` if missing
/// or longer than 511 bytes.
pub fn getenv(name_nul: &[u8], buf: &mut [u8]) -> Option<usize> {
    debug_assert!(name_nul.last() == Some(&0));
    let mut tmp = [0u8; 512];
    // SAFETY: a NUL-terminated name and a writable buffer of the given size.
    let n = unsafe { GetEnvironmentVariableA(name_nul.as_ptr(), tmp.as_mut_ptr(), 512) } as usize;
    if n == 0 || n >= tmp.len() {
        return None;
    }
    let len = n.min(buf.len());
    buf[..len].copy_from_slice(&tmp[..len]);
    Some(len)
}

/// `realpath` for Windows: `GetFullPathNameA` into `resolved` (of `MAX_PATH + 1` bytes).
///
/// # Safety
/// `fname` is a NUL-terminated path and `resolved` a writable `MAX_PATH + 1` buffer.
pub unsafe fn realpath(
    fname: *const libc::c_char,
    resolved: *mut libc::c_char,
) -> *mut libc::c_char {
    const MAX_PATH: u32 = 260;
    // SAFETY: per the contract.
    let n =
        unsafe { GetFullPathNameA(fname.cast(), MAX_PATH + 1, resolved.cast(), ptr::null_mut()) };
    if n == 0 || n > MAX_PATH {
        set_errno(if n == 0 {
            libc::ENOENT
        } else {
            libc::ENAMETOOLONG
        });
        return ptr::null_mut();
    }
    resolved
}

/// The addresses of the C runtime's `stdout` and `stderr` streams (msvcrt).
pub fn std_streams() -> (usize, usize) {
    // SAFETY: `__iob_func` returns msvcrt's static array of its standard streams.
    let iob = unsafe { __iob_func() } as usize;
    (iob + 48, iob + 2 * 48)
}

/// User and system CPU time in milliseconds, page faults, and current and peak working
/// set in bytes, if the system tells.
pub fn process_times() -> Option<(usize, usize, usize, usize, usize)> {
    let (mut c, mut e, mut k, mut u) = Default::default();
    // SAFETY: valid out-parameters for our own process's pseudo handle.
    if unsafe { GetProcessTimes(GetCurrentProcess(), &mut c, &mut e, &mut k, &mut u) } == 0 {
        return None;
    }
    let ms = |t: FileTime| ((u64::from(t.high) << 32 | u64::from(t.low)) / 10_000) as usize;
    let mut pmc = ProcessMemoryCounters {
        cb: core::mem::size_of::<ProcessMemoryCounters>() as u32,
        ..Default::default()
    };
    // SAFETY: `pmc` is a valid out-parameter of the size given.
    let ok = unsafe { K32GetProcessMemoryInfo(GetCurrentProcess(), &mut pmc, pmc.cb) } != 0;
    let (faults, rss, peak) = if ok {
        (
            pmc.page_fault_count as usize,
            pmc.working_set_size,
            pmc.peak_working_set_size,
        )
    } else {
        (0, 0, 0)
    };
    Some((ms(u), ms(k), faults, rss, peak))
}

// --- thread exit: fiber-local storage with a callback -------------------------------------

/// Allocate an FLS index whose callback runs (with the slot's value) when a thread that
/// set a non-null value exits. Returns index + 1, or 0 on failure.
pub fn fls_alloc(callback: FlsCallback) -> usize {
    // SAFETY: registering a callback with no other preconditions.
    let idx = unsafe { FlsAlloc(Some(callback)) };
    if idx == TLS_OUT_OF_INDEXES {
        0
    } else {
        idx as usize + 1
    }
}

/// Set this thread's value of the FLS index `key` (index + 1).
pub fn fls_set(key: usize, v: usize) {
    // SAFETY: a valid index; the value is only passed back to our callback.
    unsafe { FlsSetValue((key - 1) as u32, v as *mut c_void) };
}

/// Free the FLS index `key` (index + 1). Windows runs the callback for every thread's
/// non-null value (on the calling thread).
pub fn fls_free(key: usize) {
    // SAFETY: an index we allocated.
    unsafe { FlsFree((key - 1) as u32) };
}

// --- modules and the C runtime heap (the CRT redirect) -------------------------------------

/// A loaded module by name (NUL-terminated), or null.
pub fn module_handle(name_nul: &[u8]) -> *mut c_void {
    debug_assert!(name_nul.last() == Some(&0));
    // SAFETY: a NUL-terminated name; no reference count is taken.
    unsafe { GetModuleHandleA(name_nul.as_ptr()) }
}

/// An exported function of a module (NUL-terminated name), or null.
///
/// # Safety
/// `module` must be a loaded module's handle.
pub unsafe fn proc_address(module: *mut c_void, name_nul: &[u8]) -> *mut c_void {
    debug_assert!(name_nul.last() == Some(&0));
    // SAFETY: per the contract; a NUL-terminated name.
    unsafe { GetProcAddress(module, name_nul.as_ptr()) }
}

/// `HeapFree` on a C runtime's heap.
///
/// # Safety
/// `p` must be a live block of `heap`.
pub unsafe fn heap_free(heap: *mut c_void, p: *mut c_void) -> bool {
    // SAFETY: per the contract.
    unsafe { HeapFree(heap, 0, p) != 0 }
}

/// `HeapSize` on a C runtime's heap (`usize::MAX` on failure).
///
/// # Safety
/// `p` must be a live block of `heap`.
pub unsafe fn heap_size(heap: *mut c_void, p: *const c_void) -> usize {
    // SAFETY: per the contract.
    unsafe { HeapSize(heap, 0, p) }
}

/// `HeapReAlloc` in place only (`_expand`); null if the block cannot be resized there.
///
/// # Safety
/// `p` must be a live block of `heap`.
pub unsafe fn heap_resize_in_place(heap: *mut c_void, p: *mut c_void, size: usize) -> *mut c_void {
    const HEAP_REALLOC_IN_PLACE_ONLY: u32 = 0x10;
    // SAFETY: per the contract.
    unsafe { HeapReAlloc(heap, HEAP_REALLOC_IN_PLACE_ONLY, p, size) }
}

/// Hint that the cache line at `p` is read soon.
#[inline(always)]
pub fn prefetch(p: *const u8) {
    // SAFETY: a prefetch is only a hint: it never faults.
    unsafe { core::arch::x86_64::_mm_prefetch(p as *const i8, core::arch::x86_64::_MM_HINT_T0) };
}
