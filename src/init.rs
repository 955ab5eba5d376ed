//! Process and thread start-up and teardown: the static main heap, per-thread data
//! (mapped from the OS, never from a heap), the pthread key whose destructor abandons a
//! dying thread's memory, the library constructor and the exit handler.

use crate::heap;
use crate::options::{self, Opt};
use crate::prim;
use crate::state::{Heap, Tld, HEAP_EMPTY};
use crate::stats::{self, STATS_MAIN};
use crate::sync::{self, thread_id, AtomicBool, AtomicPtr, AtomicUsize, Ordering, Racy};
use crate::types::*;
use core::ptr;

/// The main thread's heap and thread data live in static memory, so the process can
/// allocate before anything is mapped.
pub static HEAP_MAIN: Racy<Heap> = Racy::new(Heap::empty());
static TLD_MAIN: Racy<Tld> = Racy::new(Tld::new());

static PROCESS_INITIALIZED: AtomicBool = AtomicBool::new(false);
static PROCESS_DONE: AtomicBool = AtomicBool::new(false);
/// pthread key (+1, 0 = none) whose destructor runs thread teardown.
static THREAD_KEY: AtomicUsize = AtomicUsize::new(0);
/// Number of live threads that have a heap (starts at 1 for the main thread).
static THREAD_COUNT: AtomicUsize = AtomicUsize::new(1);

/// Per-thread data of threads other than the main one: their backing heap and tld in
/// one OS mapping.
#[repr(C)]
struct ThreadData {
    heap: Heap,
    tld: Tld,
}

/// Freed thread data kept for reuse by new threads (saves two system calls per thread).
const TD_CACHE_SIZE: usize = 16;
static TD_CACHE: [AtomicPtr<ThreadData>; TD_CACHE_SIZE] =
    [const { AtomicPtr::new(ptr::null_mut()) }; TD_CACHE_SIZE];

fn td_size() -> usize {
    align_up(core::mem::size_of::<ThreadData>(), prim::page_size())
}

/// Thread data for a new thread, and whether it is fresh (zeroed by the OS) rather than
/// left behind by an exited thread.
fn thread_data_alloc() -> (*mut ThreadData, bool) {
    for slot in TD_CACHE.iter() {
        // Relaxed pre-check; the swap (Acquire) takes ownership and sees its contents.
        if !slot.load(Ordering::Relaxed).is_null() {
            let td = slot.swap(ptr::null_mut(), Ordering::Acquire);
            if !td.is_null() {
                return (td, false);
            }
        }
    }
    let td = prim::mmap(ptr::null_mut(), td_size(), true) as *mut ThreadData;
    if td.is_null() {
        crate::mi_error!(
            ENOMEM,
            "unable to allocate thread local heap metadata ({} bytes)",
            td_size()
        );
    }
    (td, true)
}

/// # Safety
/// `td` must be thread data that belonged to a thread that finished `thread_done` and
/// that nothing refers to any more.
unsafe fn thread_data_free(td: *mut ThreadData) {
    for slot in TD_CACHE.iter() {
        // Release: the next owner sees our last writes to the data.
        if slot
            .compare_exchange(ptr::null_mut(), td, Ordering::Release, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
    }
    prim::munmap(td as *mut u8, td_size());
}

/// Unmap the cached thread data (forced collect on the main thread).
pub fn thread_data_collect() {
    for slot in TD_CACHE.iter() {
        // Acquire: take ownership of the cached data.
        let td = slot.swap(ptr::null_mut(), Ordering::Acquire);
        if !td.is_null() {
            // SAFETY: cached data belongs to no thread.
            unsafe { prim::munmap(td as *mut u8, td_size()) };
        }
    }
}

// --- default heap --------------------------------------------------------------------------

/// The calling thread's default heap, or the empty heap if the thread has none yet.
#[inline(always)]
pub fn get_default_heap() -> *mut Heap {
    let v = sync::tls_heap_get();
    if !sync::TLS_STARTS_AT_EMPTY_HEAP && v == 0 {
        HEAP_EMPTY.get()
    } else {
        v as *mut Heap
    }
}

/// Install `heap` as the thread's default heap and arm the teardown key.
pub fn set_default_heap(heap: *mut Heap) {
    // 0 for the empty heap in the teardown key (whose destructor then does not run) and,
    // unless it starts out at the empty heap, in the slot.
    let v = if heap == HEAP_EMPTY.get() {
        0
    } else {
        heap as usize
    };
    sync::tls_heap_set(if sync::TLS_STARTS_AT_EMPTY_HEAP {
        heap as usize
    } else {
        v
    });
    // Relaxed: the key is created during process init, before any thread can get here.
    let key = THREAD_KEY.load(Ordering::Relaxed);
    if key != 0 {
        #[cfg(not(windows))]
        // SAFETY: valid key; the value is only passed back to our destructor.
        unsafe {
            libc::pthread_setspecific((key - 1) as libc::pthread_key_t, v as *const libc::c_void)
        };
        #[cfg(windows)]
        prim::fls_set(key, v);
    }
}

/// The default heap, initialising the process and the thread first if needed.
pub fn heap_get_default() -> *mut Heap {
    let heap = get_default_heap();
    if crate::state::is_initialized(heap) {
        return heap;
    }
    thread_init();
    get_default_heap()
}

/// Whether the caller is the main thread (the one that owns the static main heap).
pub fn is_main_thread() -> bool {
    // SAFETY: the main heap's thread id is written once at main-heap init.
    let tid = unsafe { (*HEAP_MAIN.get()).thread_id };
    tid == 0 || tid == thread_id()
}

// --- process -------------------------------------------------------------------------------

/// Set up the static main heap on first use (from whichever thread calls first).
fn heap_main_init() {
    let heap = HEAP_MAIN.get();
    // SAFETY: runs single-threaded at process start (before other threads allocate);
    // later calls see `cookie != 0` and return.
    unsafe {
        if (*heap).cookie != 0 {
            return;
        }
        let tld = TLD_MAIN.get();
        (*tld).heap_backing = heap;
        heap::init(heap, tld, 0, false, 0);
    }
}

/// Initialise the process once: thread teardown key, main heap, options-driven
/// reservations. Safe to call any number of times from any thread.
pub fn process_init() {
    // AcqRel: the winner's set-up is visible to later callers that see `true`.
    if PROCESS_INITIALIZED.swap(true, Ordering::AcqRel) {
        return;
    }
    crate::output::set_main_thread_id(thread_id());
    crate::mi_verbose!("process init: 0x{:x}", thread_id());
    #[cfg(not(windows))]
    {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: registering a destructor with no other preconditions.
        if unsafe { libc::pthread_key_create(&mut key, Some(thread_done_destructor)) } == 0 {
            // Relaxed: read by threads created after this point (thread creation orders it).
            THREAD_KEY.store(key as usize + 1, Ordering::Relaxed);
        }
    }
    // Windows: fiber-local storage, whose callback runs at thread exit (as C does).
    // Relaxed: as above.
    #[cfg(windows)]
    THREAD_KEY.store(prim::fls_alloc(thread_done_fls), Ordering::Relaxed);
    if cfg!(feature = "no_thp") {
        prim::disable_thp();
    }
    prim::page_size();
    heap_main_init();
    crate::random::seed_process_key();
    stats::NUMA_NODE_COUNT.store(numa_node_count(), Ordering::Relaxed);
    if SECURE > 0 {
        crate::mi_verbose!("secure level: {}", SECURE);
    }
    if DEBUG > 0 {
        crate::mi_verbose!("debug level: {}", DEBUG);
    }
    crate::mi_verbose!("TLS model: {}", sync::TLS_MODEL);
    thread_init();
    // SAFETY: pthread_atfork with plain function pointers; it may allocate, which is
    // fine now that the main heap works.
    #[cfg(not(windows))]
    unsafe {
        libc::pthread_atfork(None, None, Some(fork_child))
    };
    stats::clock_start();

    // Start-up reservations requested by options.
    let huge_pages = options::get_clamp(Opt::ReserveHugeOsPages, 0, 128 * 1024) as usize;
    if huge_pages > 0 {
        let node = options::get(Opt::ReserveHugeOsPagesAt);
        if node == -1 {
            crate::arena::reserve_huge_os_pages_interleave(huge_pages, 0, huge_pages * 500);
        } else {
            crate::arena::reserve_huge_os_pages_at(
                huge_pages,
                node as i32,
                huge_pages * 500,
                false,
            );
        }
    }
    let reserve = options::get_size(Opt::ReserveOsMemory);
    if reserve > 0 {
        let (err, _) = crate::arena::reserve_os_memory(reserve, true, true, false);
        if err != 0 {
            crate::mi_warning!("failed to reserve {} KiB of OS memory", reserve / 1024);
        }
    }
}

fn numa_node_count() -> usize {
    let n = options::get(Opt::UseNumaNodes);
    if n > 0 {
        n as usize
    } else {
        prim::numa_node_count()
    }
}

#[cfg(not(windows))]
extern "C" fn fork_child() {
    crate::arena::fork_child_reset();
    crate::random::seed_process_key();
}

/// The library constructor: runs when the shared library is loaded (or the program
/// starts, for static linking).
pub extern "C" fn process_load() {
    heap_main_init();
    options::set_preloading(false);
    // Process exit runs `process_done` through `atexit`, except in the Windows DLLs,
    // whose `DllMain` calls it at process detach.
    #[cfg(not(all(windows, feature = "shared_lib")))]
    // SAFETY: registering a plain extern "C" function.
    unsafe {
        libc::atexit(process_done)
    };
    crate::output::start();
    process_init();
}

#[cfg(not(windows))]
#[used]
#[link_section = ".init_array"]
static PROCESS_LOAD_CTOR: extern "C" fn() = process_load;

/// Windows, linked into a program (a Rust program using the crate) rather than built as
/// one of the DLLs, whose `DllMain` calls `process_load`: the C runtime calls the
/// function pointers of the `.CRT$XCU` section before `main`, with MSVC and mingw
/// alike. Without it the options would be read only lazily, messages would stay in the
/// early buffer and `MIMALLOC_SHOW_STATS` would print nothing at exit.
#[cfg(all(windows, not(feature = "shared_lib")))]
#[used]
#[link_section = ".CRT$XCU"]
static PROCESS_LOAD_CTOR: extern "C" fn() = process_load;

/// The exit handler: collect (static builds), print statistics if asked, and stop using
/// libc for output from here on.
pub extern "C" fn process_done() {
    if !PROCESS_INITIALIZED.load(Ordering::Acquire) {
        return;
    }
    // AcqRel: run once.
    if PROCESS_DONE.swap(true, Ordering::AcqRel) {
        return;
    }
    // No more thread teardown through our key: the library may be unloaded (dlclose)
    // after this, and a destructor pointing into it would crash a later thread exit.
    // Relaxed: read only by threads of this process after set-up.
    let key = THREAD_KEY.swap(0, Ordering::Relaxed);
    if key != 0 {
        // SAFETY: deleting the key we created.
        #[cfg(not(windows))]
        unsafe {
            libc::pthread_key_delete((key - 1) as libc::pthread_key_t)
        };
        // (Windows runs the callback for each thread's value here: ours return at once
        // for threads other than the caller, whose heap is the main one)
        #[cfg(windows)]
        prim::fls_free(key);
    }
    let heap = get_default_heap();
    let collect =
        !cfg!(feature = "skip_collect_on_exit") && (DEBUG > 0 || !cfg!(feature = "shared_lib"));
    if collect && crate::state::is_initialized(heap) {
        // SAFETY: our own heap.
        unsafe { heap::collect(heap, true) };
    }
    if options::is_enabled(Opt::DestroyOnExit) {
        // SAFETY: the option promises no block is used after exit.
        unsafe {
            if crate::state::is_initialized(heap) {
                heap::collect(heap, true);
            }
            heap::destroy_all_unsafe();
            crate::arena::destroy_all();
        }
    }
    if options::is_enabled(Opt::ShowStats) || options::is_enabled(Opt::Verbose) {
        stats_print(None, ptr::null_mut());
    }
    crate::mi_verbose!("process done: 0x{:x}", thread_id());
    options::set_preloading(true);
}

// --- threads -------------------------------------------------------------------------------

/// Give the calling thread a heap (its first allocation, or `mi_thread_init`).
pub fn thread_init() {
    process_init();
    if crate::state::is_initialized(get_default_heap()) {
        return;
    }
    if is_main_thread() {
        heap_main_init();
        set_default_heap(HEAP_MAIN.get());
        return;
    }
    let (td, fresh) = thread_data_alloc();
    if td.is_null() {
        return;
    }
    // SAFETY: `td` is exclusively ours (fresh mapping or taken from the cache).
    unsafe {
        let tld: *mut Tld = &mut (*td).tld;
        let heap: *mut Heap = &mut (*td).heap;
        // A new thread's data is cheap to set up: fresh memory is zero, which is what a
        // `Tld` starts as, and data an exited thread left behind is all but clean (its
        // exit gave up every page and segment and drained the statistics), so only a few
        // fields need writing: a thread's start costs no more than C's.
        if fresh {
            heap::init(heap, tld, 0, false, 0);
        } else {
            heap::tld_reuse(tld);
            heap::init_reused(heap, tld);
        }
        (*tld).heap_backing = heap;
        set_default_heap(heap);
    }
    // (process-wide, so that `peak` is the most threads alive at once; as in 2.1.7 the
    // main thread is not counted)
    STATS_MAIN.threads.increase(1);
    // Relaxed: a counter.
    THREAD_COUNT.fetch_add(1, Ordering::Relaxed);
}

/// The fiber-local storage callback (Windows): runs at thread exit with the slot's value.
///
/// # Safety
/// Called by Windows with the value `set_default_heap` stored (a heap or null).
#[cfg(windows)]
unsafe extern "system" fn thread_done_fls(value: *mut libc::c_void) {
    thread_done_destructor(value)
}

extern "C" fn thread_done_destructor(value: *mut libc::c_void) {
    if !value.is_null() {
        thread_done_heap(value as *mut Heap);
    }
}

/// Tear down the calling thread's heaps (`mi_thread_done` or the key destructor).
pub fn thread_done() {
    thread_done_heap(get_default_heap());
}

fn thread_done_heap(heap: *mut Heap) {
    if !crate::state::is_initialized(heap) {
        return;
    }
    // SAFETY: `heap` is an initialised heap; we only proceed if the caller owns it.
    unsafe {
        if (*heap).thread_id != thread_id() {
            return;
        }
        let tld = (*heap).tld;
        let backing = (*tld).heap_backing;
        if backing == HEAP_MAIN.get() {
            // The main thread keeps its static heap (and its pages), but its other heaps
            // go and its statistics are merged.
            set_default_heap(HEAP_MAIN.get());
            heap::delete_all_but_backing(tld);
            stats::merge_into_main(&(*tld).stats);
            return;
        }
        set_default_heap(HEAP_EMPTY.get());
        // Relaxed: a counter.
        THREAD_COUNT.fetch_sub(1, Ordering::Relaxed);
        // Delete the other heaps first (their pages move to the backing heap).
        heap::delete_all_but_backing(tld);
        heap::collect_ex(backing, heap::Collect::Abandon);
        STATS_MAIN.threads.decrease(1);
        stats::merge_into_main(&(*tld).stats);
        let td = backing as *mut ThreadData; // the heap is the first field
        thread_data_free(td);
    }
}

/// Where statistics of the calling thread are kept.
pub fn thread_stats() -> &'static stats::Stats {
    let heap = get_default_heap();
    if crate::state::is_initialized(heap) {
        // SAFETY: an initialised heap's tld lives until the thread is done.
        unsafe { &(*(*heap).tld).stats }
    } else {
        &STATS_MAIN
    }
}

/// Merge the calling thread's statistics into the process totals and print them.
pub fn stats_print(out: Option<crate::output::OutputFun>, arg: *mut libc::c_void) {
    stats_merge();
    stats::print_out(&STATS_MAIN, out, arg);
}

/// Merge the calling thread's statistics into the process totals.
pub fn stats_merge() {
    let heap = get_default_heap();
    if crate::state::is_initialized(heap) {
        // SAFETY: an initialised heap's tld lives until the thread is done.
        unsafe { stats::merge_into_main(&(*(*heap).tld).stats) };
    }
}
