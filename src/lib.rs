//! mimalloc 2.1, re-implemented in Rust.
//!
//! The allocator follows the design of Microsoft's mimalloc 2.1.7 (see
//! `../shared/spec/internals.md`): thread-local heaps with a direct page table for small
//! sizes, pages of one block size with sharded free lists, 32 MiB segments divided into
//! 64 KiB slices, arenas of OS memory, cross-thread frees with one CAS, abandonment and
//! reclaim of the segments of dead threads, and delayed purging of unused memory.
//!
//! Layers, each using only those below it:
//!
//! ```text
//!  sync, prim            atomics, thread-locals, raw OS calls
//!  options, output,      configuration, messages, counters, randomness
//!  stats, random
//!  os                    OS memory policy: aligned mapping, commit, purge
//!  bitmap, arena         claimable 32 MiB blocks of reserved memory
//!  segment, segment_map  segments of slices, span queues, abandonment
//!  page, page_queue      pages of blocks, free lists, queues per size class
//!  heap, init            heaps, thread-local data, process and thread start-up
//!  alloc, free, aligned  the allocation API
//!  posix, global         POSIX-named wrappers, the Rust `GlobalAlloc`
//!  capi, overrides       the C ABI (feature `capi`) and the standard names (`override`)
//! ```
#![cfg_attr(not(test), no_std)]
#![allow(clippy::missing_safety_doc)] // every unsafe fn has a `# Safety` section; clippy misses some forms
#![allow(clippy::new_without_default)]
// Build modes are constants (`DEBUG > 0`, `SECURE >= 4`, ...) that fold away; in a given
// configuration such comparisons are trivially true or false by design.
#![allow(clippy::absurd_extreme_comparisons)]

pub mod aligned;
pub mod alloc;
pub mod arena;
pub mod bitmap;
pub mod free;
pub mod global;
pub mod heap;
pub mod init;
pub mod options;
pub mod os;
pub mod output;
pub mod page;
pub mod page_queue;
pub mod posix;
pub mod prim;
pub mod random;
pub mod segment;
pub mod segment_map;
pub mod stats;
pub mod sync;
pub mod track;
pub mod types;

#[cfg(all(test, loom))]
mod models;

/// Test-only: make the OS layer's calls fail on demand (feature `fault_injection`,
/// never enabled in a shipped build).
#[cfg(feature = "fault_injection")]
pub mod fault;

#[cfg(feature = "capi")]
pub mod capi;
#[cfg(feature = "override")]
pub mod overrides;

pub use global::MiMalloc;

/// Write a one-line panic message to fd 2 without allocating and abort. Used by the
/// C library's `#[panic_handler]`; a panic in the allocator is always a bug.
pub fn abort_on_panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write;
    let mut buf = output::StackBuf::<256>::new();
    let _ = writeln!(buf, "mimalloc: fatal: {}", info);
    prim::write_stderr(buf.as_bytes());
    // SAFETY: abort never returns and is always safe to call.
    unsafe { libc::abort() }
}
