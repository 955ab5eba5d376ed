//! The default-heap slot on Windows (the `tls` part of `sync`): a `TlsAlloc` index,
//! stored as index + 1 (0 = not allocated yet, which reads as "the empty heap"). The
//! first 64 indices are the TEB's `TlsSlots` array at `gs:[0x1480]`, which `get` reads
//! directly (two loads, no call, as `TlsGetValue` itself does); higher indices go
//! through `TlsGetValue`. The slot starts out 0 in every thread.

use super::{AtomicUsize, Ordering};
use core::ffi::c_void;

#[link(name = "kernel32")]
extern "system" {
    fn TlsAlloc() -> u32;
    fn TlsGetValue(index: u32) -> *mut c_void;
    fn TlsSetValue(index: u32, value: *mut c_void) -> i32;
    fn SwitchToThread() -> i32;
}

const TLS_OUT_OF_INDEXES: u32 = 0xFFFF_FFFF;

/// The slot (a TLS index's value) starts out 0, standing for the empty heap.
pub const STARTS_AT_EMPTY_HEAP: bool = false;

static KEY: AtomicUsize = AtomicUsize::new(0);

#[inline(always)]
pub fn get() -> usize {
    // Relaxed: the index is allocated once during process init, which happens-before
    // any other thread runs our code (thread creation orders it).
    let k = KEY.load(Ordering::Relaxed);
    let idx = k.wrapping_sub(1);
    if idx < 64 {
        let v: usize;
        // SAFETY: `TlsSlots[idx]` of this thread's TEB (x86-64 layout, offset 0x1480),
        // an index we allocated; reading it has no side effects.
        unsafe {
            core::arch::asm!("mov {v}, qword ptr gs:[{i}*8 + 0x1480]", v = out(reg) v,
                i = in(reg) idx, options(nostack, preserves_flags, readonly));
        }
        v
    } else if k == 0 {
        0
    } else {
        // SAFETY: a valid index from TlsAlloc.
        unsafe { TlsGetValue(idx as u32) as usize }
    }
}

pub fn set(v: usize) {
    // Relaxed: see `get`.
    let mut k = KEY.load(Ordering::Relaxed);
    if k == 0 {
        // SAFETY: no preconditions.
        let idx = unsafe { TlsAlloc() };
        if idx == TLS_OUT_OF_INDEXES {
            return;
        }
        k = idx as usize + 1;
        // Relaxed: racing creators at process start are benign (one index wins, the
        // other leaks one slot).
        KEY.store(k, Ordering::Relaxed);
    }
    // SAFETY: a valid index; the value is an opaque pointer.
    unsafe { TlsSetValue((k - 1) as u32, v as *mut c_void) };
}

pub const MODEL: &str = "TLS index (TEB slot)";

/// Give up the rest of the time slice.
#[inline]
pub fn yield_now() {
    // SAFETY: no preconditions.
    unsafe { SwitchToThread() };
}
