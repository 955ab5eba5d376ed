//! Raw OS primitives for Linux: the only module that makes memory system calls. Nothing
//! here allocates; failures are returned as `errno` values for the `os` layer to report.

#[cfg(feature = "fault_injection")]
use crate::fault::Point;
use crate::sync::{AtomicUsize, Ordering};
use core::ptr;

/// OS page size, read once with `sysconf` (never assumed to be 4 KiB).
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
/// 1 if the kernel overcommits (`vm.overcommit_memory` 0 or 1), 2 if not, 0 unknown.
static OVERCOMMIT: AtomicUsize = AtomicUsize::new(0);

#[inline]
pub fn page_size() -> usize {
    // Relaxed: the value is idempotent; racing initialisers store the same number.
    let ps = PAGE_SIZE.load(Ordering::Relaxed);
    if ps != 0 {
        return ps;
    }
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let ps = if v > 0 { v as usize } else { 4096 };
    PAGE_SIZE.store(ps, Ordering::Relaxed);
    ps
}

/// Whether the kernel overcommits, so reserved memory may be mapped read-write up front.
pub fn has_overcommit() -> bool {
    // Relaxed: idempotent cache as above.
    let oc = OVERCOMMIT.load(Ordering::Relaxed);
    if oc != 0 {
        return oc == 1;
    }
    let mut buf = [0u8; 8];
    let n = read_file(b"/proc/sys/vm/overcommit_memory\0", &mut buf);
    let yes = n > 0 && (buf[0] == b'0' || buf[0] == b'1');
    OVERCOMMIT.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
    yes
}

/// Read up to `buf.len()` bytes of a file with raw system calls (usable before libc is
/// ready and without allocating). Returns the byte count, or 0 on any failure.
pub fn read_file(path_nul: &[u8], buf: &mut [u8]) -> usize {
    debug_assert!(path_nul.last() == Some(&0));
    // SAFETY: the path is NUL-terminated; the fd is closed below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open,
            path_nul.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
            0,
        ) as i32
    };
    if fd < 0 {
        return 0;
    }
    let mut total = 0usize;
    while total < buf.len() {
        // SAFETY: writes stay within `buf`.
        let n = unsafe {
            libc::syscall(
                libc::SYS_read,
                fd,
                buf.as_mut_ptr().add(total),
                buf.len() - total,
            )
        };
        if n <= 0 {
            break;
        }
        total += n as usize;
    }
    // SAFETY: closing the fd we opened.
    unsafe { libc::syscall(libc::SYS_close, fd) };
    total
}

/// Whether a path exists (raw `access`).
pub fn path_exists(path_nul: &[u8]) -> bool {
    // SAFETY: NUL-terminated path.
    unsafe { libc::syscall(libc::SYS_access, path_nul.as_ptr(), libc::F_OK) == 0 }
}

/// Write all bytes to stderr with `write(2)`, retrying on partial writes and EINTR.
pub fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer/length pair describes a live slice.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if crate::types::get_errno() == libc::EINTR {
                continue;
            }
            return;
        }
        if n == 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// Map `size` bytes of anonymous memory, read-write when `commit`, else inaccessible.
/// `hint` is a preferred address or null. Returns null (with errno) on failure.
pub fn mmap(hint: *mut u8, size: usize, commit: bool) -> *mut u8 {
    let prot = if commit {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_NONE
    };
    if injected!(Point::Mmap, size) {
        crate::types::set_errno(libc::ENOMEM);
        return ptr::null_mut();
    }
    let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    if has_overcommit() || !commit {
        flags |= libc::MAP_NORESERVE;
    }
    // SAFETY: an anonymous private mapping touches no existing memory (no MAP_FIXED).
    let p = unsafe { libc::mmap(hint.cast(), size, prot, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        p.cast()
    }
}

/// Unmap a range obtained from `mmap` (or a page-aligned part of one).
///
/// # Safety
/// The range must be a mapping we own that nothing uses any more.
pub unsafe fn munmap(p: *mut u8, size: usize) -> i32 {
    // SAFETY: per the contract.
    errno_preserved(|| unsafe { libc::munmap(p.cast(), size) })
}

/// Run a system call returning 0 or -1 and give its error code, leaving the caller's
/// `errno` as it was (`free` must never change errno).
#[inline]
fn errno_preserved(f: impl FnOnce() -> i32) -> i32 {
    let saved = crate::types::get_errno();
    let r = if f() == 0 {
        0
    } else {
        crate::types::get_errno()
    };
    crate::types::set_errno(saved);
    r
}

/// Give the physical pages of a range back; later reads see zeros (private anonymous).
///
/// # Safety
/// The range must be owned, page aligned, and hold no live data.
pub unsafe fn decommit(p: *mut u8, size: usize) -> i32 {
    if injected!(Point::Purge, size) {
        return libc::ENOMEM;
    }
    // SAFETY: per the contract.
    errno_preserved(|| unsafe { libc::madvise(p.cast(), size, libc::MADV_DONTNEED) })
}

/// `MADV_FREE` unless the kernel rejected it once, then `MADV_DONTNEED`.
static RESET_ADVICE: AtomicUsize = AtomicUsize::new(libc::MADV_FREE as usize);

/// Let the OS reclaim the pages lazily (contents become undefined).
///
/// # Safety
/// The range must be owned, page aligned, and hold no live data.
pub unsafe fn reset(p: *mut u8, size: usize) -> i32 {
    if injected!(Point::Purge, size) {
        return libc::ENOMEM;
    }
    loop {
        // Relaxed: a sticky hint; any value read is a valid advice.
        let advice = RESET_ADVICE.load(Ordering::Relaxed) as i32;
        // SAFETY: per the contract.
        let err = errno_preserved(|| unsafe { libc::madvise(p.cast(), size, advice) });
        if err == 0 {
            return 0;
        }
        if err == libc::EAGAIN {
            continue;
        }
        if err == libc::EINVAL && advice == libc::MADV_FREE {
            RESET_ADVICE.store(libc::MADV_DONTNEED as usize, Ordering::Relaxed);
            continue;
        }
        return err;
    }
}

/// Change access of a range: read-write, or none (guard pages, secure decommit).
///
/// # Safety
/// The range must be an owned, page-aligned part of a mapping.
pub unsafe fn protect(p: *mut u8, size: usize, accessible: bool) -> i32 {
    if injected!(Point::of_protect(accessible), size) {
        return libc::ENOMEM;
    }
    let prot = if accessible {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_NONE
    };
    // SAFETY: per the contract.
    errno_preserved(|| unsafe { libc::mprotect(p.cast(), size, prot) })
}

/// Ask for transparent huge pages on a range (best effort).
///
/// # Safety
/// The range must be an owned, page-aligned part of a mapping.
pub unsafe fn advise_huge(p: *mut u8, size: usize) {
    // SAFETY: advisory only.
    unsafe { libc::madvise(p.cast(), size, libc::MADV_HUGEPAGE) };
}

/// Disable transparent huge pages for the whole process (`MI_NO_THP`).
pub fn disable_thp() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// Milliseconds from a monotonic clock.
pub fn clock_now_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

/// Whether `map_huge_1gib_at` can map 1 GiB pages here (`MAP_HUGETLB`; the kernel
/// may still have none reserved).
pub const HUGE_1GIB_PAGES: bool = true;

/// Map one 1 GiB huge page read-write at `addr`, preferring NUMA node `node` (-1: no
/// preference, best effort). False if the kernel has no such page to give.
///
/// # Safety
/// `addr` must be 1 GiB aligned and `addr..addr + 1 GiB` address space the caller
/// reserved (its contents are replaced).
pub unsafe fn map_huge_1gib_at(addr: *mut u8, node: i32) -> bool {
    const GIB: usize = 1 << 30;
    let flags = libc::MAP_PRIVATE
        | libc::MAP_ANONYMOUS
        | libc::MAP_FIXED
        | libc::MAP_HUGETLB
        | (30 << libc::MAP_HUGE_SHIFT);
    // SAFETY: MAP_FIXED over address space the caller reserved (the contract).
    let p = unsafe {
        libc::mmap(
            addr.cast(),
            GIB,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return false;
    }
    // (the one-word node mask reaches node 63, as in C mimalloc)
    if (0..usize::BITS as i32).contains(&node) {
        let mask: usize = 1 << node;
        // SAFETY: mbind (MPOL_PREFERRED) on our own fresh mapping with a one-word mask.
        unsafe {
            libc::syscall(
                libc::SYS_mbind,
                addr,
                GIB,
                1, /* MPOL_PREFERRED */
                &mask as *const usize,
                usize::BITS as usize,
                0,
            );
        }
    }
    true
}

/// Number of NUMA nodes visible in sysfs (at least 1).
pub fn numa_node_count() -> usize {
    let mut path = *b"/sys/devices/system/node/node0000\0";
    let mut n = 0usize;
    while n < 4096 {
        // Write "node<N>" followed by a NUL.
        let digits = {
            let mut d = [0u8; 4];
            let mut k = n;
            let mut len = 0;
            loop {
                d[len] = b'0' + (k % 10) as u8;
                len += 1;
                k /= 10;
                if k == 0 {
                    break;
                }
            }
            (d, len)
        };
        let base = b"/sys/devices/system/node/node".len();
        for i in 0..digits.1 {
            path[base + i] = digits.0[digits.1 - 1 - i];
        }
        path[base + digits.1] = 0;
        if !path_exists(&path[..=base + digits.1]) {
            break;
        }
        n += 1;
    }
    n.max(1)
}

/// Hint that the cache line at `p` is read soon (no fault if `p` is not mapped).
#[inline(always)]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and changes no state the
    // program can observe.
    unsafe {
        core::arch::x86_64::_mm_prefetch(p as *const i8, core::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
