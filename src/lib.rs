//! mimalloc 2.1, re-implemented in Rust: a fast general-purpose allocator, usable as
//! Rust's global allocator, as first-class heaps that collections allocate from, and
//! (built by the project's CMake) as a drop-in for the C library `libmimalloc`. No C
//! compiler is involved in a Rust build.
//!
//! # As the global allocator
//!
//! ```
//! use mimalloc::MiMalloc;
//!
//! #[global_allocator]
//! static GLOBAL: MiMalloc = MiMalloc;
//!
//! fn main() {
//!     let v: Vec<String> = (0..100).map(|i| i.to_string()).collect();
//!     assert_eq!(v[42], "42");
//! }
//! ```
//!
//! # A heap per task
//!
//! A [`Heap`] is a set of pages of its own. Allocate a task's data in one and drop it
//! (or [`destroy`](Heap::destroy) it, freeing everything at once) when the task is done.
//! With the crate feature `allocator-api2`, `&Heap` is the allocator of
//! allocator-api2's `Vec` and `Box` and of hashbrown's maps, on stable Rust (with
//! `nightly`, also of the standard library's collections that take an allocator):
//!
//! ```
//! # #[cfg(feature = "allocator-api2")] {
//! use allocator_api2::vec::Vec;
//!
//! let heap = mimalloc::Heap::new();
//! let mut words = Vec::new_in(&heap);
//! words.extend(["a", "request", "of", "many", "small", "objects"]);
//! let mut index = hashbrown::HashMap::new_in(&heap);
//! for (i, w) in words.iter().enumerate() {
//!     index.insert(*w, i);
//! }
//! assert_eq!(index["many"], 3);
//! drop((index, words));
//! heap.destroy();
//! # }
//! ```
//!
//! # Statistics and options
//!
//! ```
//! use mimalloc::options::{self, Opt};
//!
//! options::set(Opt::PurgeDelay, 100); // return unused memory after 100 ms
//! let data = vec![0u8; 8 << 20];
//! let stats = mimalloc::Stats::read();
//! println!("{} bytes committed, peak RSS {} bytes",
//!          stats.committed.current, stats.process.peak_rss);
//! drop(data);
//! mimalloc::collect(true);
//! ```
//!
//! Arenas ([`reserve_os_memory`], [`manage_os_memory`], [`Heap::new_in_arena`]) keep a
//! heap's memory in a range of its own. The `MIMALLOC_*` environment variables work as
//! for the C library (`doc/options.md`).
//!
//! # Inside
//!
//! The allocator follows the design of Microsoft's mimalloc 2.1.7: thread-local heaps
//! with a direct page table for small sizes, pages of one block size with sharded free
//! lists, 32 MiB segments divided into 64 KiB slices, arenas of OS memory, cross-thread
//! frees with one CAS, abandonment and reclaim of the segments of dead threads, and
//! delayed purging of unused memory (`doc/design.md`).
//!
//! Layers, bottom up; a module uses only modules of its own layer and the layers below
//! (`bin/check-layers.py` checks it; the few exceptions, each with its reason, are in
//! `bin/layers-allowed.txt`):
//!
//! ```text
//!  sync, sync_windows, prim,         atomics, thread-locals, raw OS calls, constants
//!  prim_windows, types, track, fault  (Windows: prim_windows.rs is `prim`)
//!  options, output, stats, random    configuration, messages, counters, randomness
//!  os                                OS memory policy: aligned mapping, commit, purge
//!  bitmap, arena                     claimable 32 MiB blocks of reserved memory
//!  state                             heaps, pages, segments as data; size classes
//!  page                              a page's blocks: free lists, thread-free list
//!  page_queue                        queues of pages per size class, the full queue
//!  segment_map, segment              segments of slices, span queues, abandonment
//!  page_alloc                        pages for a heap: search, fresh pages, retirement
//!  heap, init                        heaps, thread-local data, start-up and shut-down
//!  padding, free, alloc, aligned     the allocation API (padding: trailer and fill)
//!  posix, global, api,               POSIX-named wrappers, the Rust `GlobalAlloc`, the
//!  allocator_api                     Rust API (`Heap`, arenas, statistics), its traits
//!  capi, overrides, win_redirect,    the C ABI (feature `capi`), the standard names;
//!  windll                            Windows: the CRT redirect and `DllMain`
//! ```
//!
//! Only [`options`] and the items at the crate root are public; the C ABI is built by
//! the project's CMake into `libmimalloc` (see the README).
#![cfg_attr(not(test), no_std)]
// Every unsafe fn has a `# Safety` section (the C ABI's: one per module, in capi and
// overrides); clippy misses some forms.
#![allow(clippy::missing_safety_doc)]
#![allow(clippy::new_without_default)]
// Build modes are constants (`DEBUG > 0`, `SECURE >= 4`, ...) that fold away; in a given
// configuration such comparisons are trivially true or false by design.
#![allow(clippy::absurd_extreme_comparisons)]
// Much of the core serves only the C API (strdup, realpath, arena display, ...): without
// the `capi` feature those functions are compiled out as unused, which is expected.
#![cfg_attr(not(feature = "capi"), allow(dead_code))]
#![cfg_attr(feature = "nightly", feature(allocator_api))]
#![deny(missing_docs)]

pub(crate) mod aligned;
pub(crate) mod alloc;
#[cfg(any(feature = "allocator-api2", feature = "nightly"))]
mod allocator_api;
mod api;
pub(crate) mod arena;
pub(crate) mod bitmap;
pub(crate) mod free;
mod global;
pub(crate) mod heap;
pub(crate) mod init;
pub mod options;
pub(crate) mod os;
pub(crate) mod output;
pub(crate) mod padding;
pub(crate) mod page;
pub(crate) mod page_alloc;
pub(crate) mod page_queue;
pub(crate) mod posix;
/// (For `prim`, Linux's and Windows'.) Whether the test build's fault injection
/// (`crate::fault`, feature `fault_injection`) makes this call at `$point` on `$size`
/// bytes fail. Without the feature it is the constant `false` (and `$point` is not even
/// compiled), so the check compiles to nothing.
macro_rules! injected {
    ($point:expr, $size:expr) => {{
        #[cfg(feature = "fault_injection")]
        let fail = crate::fault::should_fail($point, $size);
        #[cfg(not(feature = "fault_injection"))]
        let fail = {
            let _ = $size;
            false
        };
        fail
    }};
}

#[cfg(not(windows))]
pub(crate) mod prim;
/// The Windows platform layer, under the same name as the Linux one.
#[cfg(windows)]
#[path = "prim_windows.rs"]
pub(crate) mod prim;
pub(crate) mod random;
pub(crate) mod segment;
pub(crate) mod segment_map;
pub(crate) mod state;
pub(crate) mod stats;
pub(crate) mod sync;
pub(crate) mod track;
pub(crate) mod types;

#[cfg(all(test, loom))]
mod models;

/// Test-only: make the OS layer's calls fail on demand (feature `fault_injection`,
/// never enabled in a shipped build). Not part of the Rust API.
#[cfg(feature = "fault_injection")]
#[doc(hidden)]
pub mod fault;

/// The C ABI of `mimalloc.h` (`#[no_mangle] extern "C"` functions). Not part of the Rust
/// API: it is public only for the C library crate and the tests.
#[cfg(feature = "capi")]
#[doc(hidden)]
pub mod capi;
#[cfg(all(feature = "override", not(windows)))]
pub(crate) mod overrides;
/// Windows: the C runtime's allocation functions patched to ours (`mimalloc-override.dll`).
#[cfg(all(feature = "override", windows))]
pub(crate) mod win_redirect;
/// Windows: `DllMain` of `mimalloc.dll` / `mimalloc-override.dll`.
#[cfg(all(feature = "shared_lib", windows))]
mod windll;

pub use api::{
    collect, free, good_size, manage_os_memory, reserve_os_memory, usable_size, AllocError,
    ArenaId, Block, Counter, Heap, HeapArea, ProcessInfo, Stats,
};
pub use global::MiMalloc;

/// Internals the tests and the C library crate reach. Not part of the Rust API.
#[doc(hidden)]
pub mod __internal {
    pub use crate::segment::abandoned_count;
    pub use crate::segment_map::is_marked_abandoned;
    pub use crate::state::ptr_segment;

    /// The delayed-free state of the page that holds `p`, as a number (0: the next
    /// remote free goes to the owner's delayed list, 1: one is doing so, 2: remote frees
    /// go to the page's own list, 3: the same, for good).
    ///
    /// # Safety
    /// `p` must point into a live block of ours.
    pub unsafe fn delayed_free_state(p: *const u8) -> usize {
        // SAFETY: a live block's segment and page descriptor are valid (caller's contract).
        unsafe { (*crate::state::page_of(ptr_segment(p), p)).thread_free_flag() as usize }
    }
}

#[doc(hidden)]
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
