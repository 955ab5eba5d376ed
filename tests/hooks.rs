//! Hooks (api.md §3): `mi_register_output` (every message goes through it, buffered
//! start-up output is delivered once, NULL restores stderr), `mi_register_error` (error
//! codes reach the handler, e.g. 75, 75, 12 for `mi_malloc(SIZE_MAX/2)`; our build also
//! sets errno = ENOMEM), and `mi_register_deferred_free` (called on allocation slow paths
//! with an increasing per-thread heartbeat, with `force` on forced collections and at
//! thread exit, never re-entered, not after unregistering).
//!
//! The hooks are process-wide: every in-process test holds `LOCK` and filters the
//! callbacks by thread; tests of where output goes run in child processes (this binary
//! re-run with a filter selecting one `child_*` test, which does nothing unless
//! `MI_TEST_CHILD` names it).
#![cfg(feature = "capi")]
#![allow(clippy::missing_safety_doc, clippy::identity_op, unused_unsafe)]
#![allow(unknown_lints, clippy::manual_is_multiple_of, clippy::unnecessary_cast)]

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::null_mut;
use std::sync::Mutex;

use mimalloc::capi::*;

const OPT_SHOW_ERRORS: mi_option_t = 0;
const OPT_VERBOSE: mi_option_t = 2;
const EOVERFLOW: c_int = 75;
const ENOMEM: c_int = 12;

/// A thread identity that is never reused: `pthread_self()` values are recycled once a
/// thread exits, and a previous test's thread still running its exit-time hooks could
/// then be mistaken for a new one. (A `const` Cell has no destructor, so this also works
/// in the thread-exit path where the hooks run.)
fn tid() -> usize {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    thread_local!(static ID: Cell<usize> = const { Cell::new(0) });
    ID.with(|id| {
        if id.get() == 0 {
            id.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        id.get()
    })
}

// ---------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------

mod common;
use common::{errno, in_child, lock, set_errno, MIB};

/// Run helper `name` in a child (clean `MIMALLOC_*` environment plus `env`); it must
/// pass. Returns (stdout, stderr).
fn run_child(name: &str, env: &[(&str, &str)]) -> (String, String) {
    common::run_child_ok(name, env)
}

// ---------------------------------------------------------------------------------------
// mi_register_output
// ---------------------------------------------------------------------------------------

/// Everything the output function received, one entry per call.
static OUTPUT: Mutex<Vec<String>> = Mutex::new(Vec::new());
const OUTPUT_ARG: usize = 0xC0FFEE;

unsafe extern "C" fn output_fn(msg: *const c_char, arg: *mut c_void) {
    assert_eq!(
        arg as usize, OUTPUT_ARG,
        "the output function got the wrong argument"
    );
    let s = CStr::from_ptr(msg).to_string_lossy().into_owned();
    OUTPUT.lock().unwrap_or_else(|e| e.into_inner()).push(s);
}
fn take_output() -> String {
    std::mem::take(&mut *OUTPUT.lock().unwrap_or_else(|e| e.into_inner())).concat()
}

#[test]
fn child_all_output_goes_through_the_hook() {
    if !in_child("child_all_output_goes_through_the_hook") {
        return;
    }
    unsafe {
        mi_register_output(Some(output_fn), OUTPUT_ARG as *mut c_void);
        take_output();
        mi_option_enable(OPT_SHOW_ERRORS);
        mi_option_enable(OPT_VERBOSE);
        // verbose message
        assert_eq!(mi_reserve_os_memory(32 * MIB, true, false), 0);
        // warning
        let _ = mi_reserve_huge_os_pages(0, 0.0, null_mut());
        // errors
        assert!(mi_malloc(usize::MAX / 2).is_null());
        // arena dump (verbose)
        mi_debug_show_arenas(true, false, false);
        // statistics on the default output
        mi_stats_print(null_mut());
        mi_option_disable(OPT_VERBOSE);
        let text = take_output();
        for needle in [
            "mimalloc: reserved 32768 KiB memory",
            "mimalloc: warning: ",
            "mi_reserve_huge_os_pages is deprecated",
            "mimalloc: error: ",
            "allocation request is too large",
            "unable to allocate memory",
            "arena ",
            "heap stats:",
            "   process: user: ",
        ] {
            assert!(
                text.contains(needle),
                "the output function missed {needle:?}:\n{text}"
            );
        }
        // Unregistering restores stderr (checked by the parent after the marker).
        mi_register_output(None, null_mut());
        eprintln!("--- unregistered ---");
        assert!(mi_malloc(usize::MAX / 2).is_null());
        assert!(take_output().is_empty(), "output after unregistering");
    }
}

#[test]
fn output_hook_receives_every_message() {
    let (_, stderr) = run_child("child_all_output_goes_through_the_hook", &[]);
    let (hooked, after) = stderr.split_once("--- unregistered ---").expect("marker");
    assert!(
        !hooked.contains("mimalloc"),
        "messages reached stderr despite the hook:\n{hooked}"
    );
    assert!(
        after.contains("mimalloc: error: ") && after.contains("allocation request is too large"),
        "after mi_register_output(NULL) messages go to stderr again:\n{after}"
    );
}

#[test]
fn child_buffered_output_is_delivered_once() {
    if !in_child("child_buffered_output_is_delivered_once") {
        return;
    }
    unsafe {
        mi_register_output(Some(output_fn), OUTPUT_ARG as *mut c_void);
        let first: Vec<String> = std::mem::take(&mut *OUTPUT.lock().unwrap());
        assert!(
            !first.is_empty(),
            "registering did not deliver the start-up output"
        );
        let text = first.concat();
        assert!(
            text.contains("mimalloc: option 'verbose': 1"),
            "buffered start-up output: {text:?}"
        );
        assert!(text.contains("mimalloc: option 'arena_reserve': 1048576 KiB"));
        // Output after the registration goes to the function, not to the buffer.
        // (A second registration hands the old buffer contents over once more, as
        // C 2.1.7's `mi_out_buf_flush` does; that is not checked.)
        mi_option_disable(OPT_VERBOSE);
        mi_option_enable(OPT_SHOW_ERRORS);
        assert!(mi_malloc(usize::MAX / 2).is_null());
        let later = take_output();
        assert!(
            later.contains("allocation request is too large"),
            "{later:?}"
        );
        assert!(!later.contains("option 'verbose'"), "{later:?}");
        mi_register_output(None, null_mut());
    }
}

#[test]
fn output_buffered_since_start_is_delivered_on_registration() {
    run_child(
        "child_buffered_output_is_delivered_once",
        &[("MIMALLOC_VERBOSE", "1")],
    );
}

#[test]
fn output_function_gets_complete_nul_terminated_messages() {
    let _g = lock();
    unsafe {
        mi_register_output(Some(output_fn), OUTPUT_ARG as *mut c_void);
        take_output();
        mi_option_enable(OPT_SHOW_ERRORS);
        assert!(mi_malloc(usize::MAX / 2).is_null());
        mi_option_disable(OPT_SHOW_ERRORS);
        let calls: Vec<String> = std::mem::take(&mut *OUTPUT.lock().unwrap());
        mi_register_output(None, null_mut());
        let mine: Vec<&String> = calls
            .iter()
            .filter(|c| c.contains("mimalloc: error: "))
            .collect();
        assert_eq!(
            mine.len(),
            3,
            "three error messages, one call each: {calls:?}"
        );
        for m in mine {
            assert!(
                m.starts_with("mimalloc: error: ") && m.ends_with('\n'),
                "{m:?}"
            );
            assert_eq!(m.matches('\n').count(), 1, "{m:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// mi_register_error
// ---------------------------------------------------------------------------------------

struct Errors {
    thread: usize,
    codes: Vec<c_int>,
}

/// Unregisters the error handler and the deferred-free hook when a test ends, also by a
/// failed assertion (the hooks point into the test's stack/heap).
struct UnregisterOnDrop;
impl Drop for UnregisterOnDrop {
    fn drop(&mut self) {
        mi_register_error(None, null_mut());
        mi_register_deferred_free(None, null_mut());
    }
}
static ERROR_ARG_SEEN: Mutex<Vec<usize>> = Mutex::new(Vec::new());

unsafe extern "C" fn error_fn(err: c_int, arg: *mut c_void) {
    ERROR_ARG_SEEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(arg as usize);
    let e = &mut *(arg as *mut Errors);
    if tid() == e.thread {
        e.codes.push(err);
    }
}

#[test]
fn error_handler_receives_the_error_codes() {
    let _g = lock();
    let _u = UnregisterOnDrop;
    ERROR_ARG_SEEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    unsafe {
        let mut errs = Box::new(Errors {
            thread: tid(),
            codes: Vec::new(),
        });
        let arg = &mut *errs as *mut Errors as *mut c_void;
        mi_register_error(Some(error_fn), arg);

        set_errno(0);
        assert!(mi_malloc(usize::MAX / 2).is_null());
        assert_eq!(
            errs.codes,
            [EOVERFLOW, EOVERFLOW, ENOMEM],
            "api.md §0: 75, 75, 12 for mi_malloc(SIZE_MAX/2)"
        );
        assert_eq!(errno(), libc::ENOMEM, "our build sets errno as well");

        errs.codes.clear();
        let h = mi_heap_new();
        assert!(mi_heap_malloc(h, usize::MAX / 2).is_null());
        assert_eq!(errs.codes, [EOVERFLOW, EOVERFLOW, ENOMEM], "mi_heap_malloc");
        errs.codes.clear();
        assert!(mi_zalloc(usize::MAX / 2).is_null());
        assert_eq!(errs.codes, [EOVERFLOW, EOVERFLOW, ENOMEM], "mi_zalloc");

        // count*size overflow is reported in debug builds only (api.md §0).
        errs.codes.clear();
        set_errno(0);
        assert!(mi_calloc(usize::MAX / 2, 4).is_null());
        if cfg!(feature = "debug") {
            assert_eq!(errs.codes, [EOVERFLOW]);
        } else {
            assert!(
                errs.codes.is_empty(),
                "calloc overflow reported in a release build: {:?}",
                errs.codes
            );
        }
        assert_eq!(errno(), libc::ENOMEM);

        // An exhausted exclusive arena: ENOMEM.
        let mut id: mi_arena_id_t = 0;
        assert_eq!(
            mi_reserve_os_memory_ex(32 * MIB, true, false, true, &mut id),
            0
        );
        let ah = mi_heap_new_in_arena(id);
        errs.codes.clear();
        assert!(mi_heap_malloc(ah, 64 * MIB).is_null());
        assert_eq!(errs.codes.last(), Some(&ENOMEM), "{:?}", errs.codes);
        assert!(errs.codes.iter().all(|&c| c == ENOMEM), "{:?}", errs.codes);
        mi_heap_delete(ah);
        mi_heap_delete(h);

        // The handler got its argument every time.
        assert!(ERROR_ARG_SEEN
            .lock()
            .unwrap()
            .iter()
            .all(|&a| a == arg as usize));

        // Unregistered: the default handler (returns in release builds).
        mi_register_error(None, null_mut());
        errs.codes.clear();
        assert!(mi_malloc(usize::MAX / 2).is_null());
        assert!(
            errs.codes.is_empty(),
            "the handler is still called after unregistering"
        );
    }
}

#[test]
fn error_handler_is_called_even_when_messages_are_off() {
    let _g = lock();
    let _u = UnregisterOnDrop;
    unsafe {
        let show = mi_option_get(OPT_SHOW_ERRORS);
        mi_option_disable(OPT_SHOW_ERRORS);
        let mut errs = Box::new(Errors {
            thread: tid(),
            codes: Vec::new(),
        });
        mi_register_error(Some(error_fn), &mut *errs as *mut Errors as *mut c_void);
        assert!(mi_malloc(usize::MAX / 2).is_null());
        mi_register_error(None, null_mut());
        mi_option_set(OPT_SHOW_ERRORS, show);
        assert_eq!(errs.codes, [EOVERFLOW, EOVERFLOW, ENOMEM]);
    }
}

// ---------------------------------------------------------------------------------------
// mi_register_deferred_free
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Call {
    thread: usize,
    force: bool,
    heartbeat: u64,
    depth: u32,
}
static CALLS: Mutex<Vec<Call>> = Mutex::new(Vec::new());
const DEFERRED_ARG: usize = 0xDEF0;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    static ALLOCATE_IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

unsafe extern "C" fn deferred_fn(force: bool, heartbeat: u64, arg: *mut c_void) {
    assert_eq!(
        arg as usize, DEFERRED_ARG,
        "deferred free hook got the wrong argument"
    );
    let depth = DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    CALLS.lock().unwrap_or_else(|e| e.into_inner()).push(Call {
        thread: tid(),
        force,
        heartbeat,
        depth,
    });
    if ALLOCATE_IN_HOOK.with(|a| a.get()) {
        // Allocating here takes slow paths again; the hook must not be re-entered.
        let ps: Vec<_> = (0..50).map(|i| mi_malloc(3000 + i * 97)).collect();
        for p in ps {
            mi_free(p);
        }
    }
    DEPTH.with(|d| d.set(d.get() - 1));
}

fn calls_of(thread: usize) -> Vec<Call> {
    CALLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .copied()
        .filter(|c| c.thread == thread)
        .collect()
}

#[test]
fn deferred_free_is_called_on_slow_paths_and_collections() {
    let _g = lock();
    let _u = UnregisterOnDrop;
    CALLS.lock().unwrap().clear();
    mi_register_deferred_free(Some(deferred_fn), DEFERRED_ARG as *mut c_void);
    let worker = std::thread::spawn(|| unsafe {
        let me = tid();
        // Slow paths: many fresh pages.
        let blocks: Vec<_> = (0..20_000).map(|i| mi_malloc(16 + (i % 64) * 16)).collect();
        let on_alloc = calls_of(me);
        assert!(
            on_alloc.len() >= 20,
            "only {} deferred-free calls for 20000 allocations",
            on_alloc.len()
        );
        assert!(
            on_alloc.iter().all(|c| !c.force),
            "slow-path calls have force=false"
        );
        for p in blocks {
            mi_free(p);
        }
        let n = calls_of(me).len();
        mi_collect(false);
        let c = calls_of(me);
        assert!(c.len() > n, "mi_collect(false) did not call the hook");
        assert!(!c.last().unwrap().force, "mi_collect(false) → force=false");
        mi_collect(true);
        let c = calls_of(me);
        assert!(c.last().unwrap().force, "mi_collect(true) → force=true");
        let h = mi_heap_new();
        let p = mi_heap_malloc(h, 100);
        mi_heap_collect(h, true);
        assert!(
            calls_of(me).last().unwrap().force,
            "mi_heap_collect(h, true) → force=true"
        );
        mi_heap_collect(h, false);
        assert!(
            !calls_of(me).last().unwrap().force,
            "mi_heap_collect(h, false) → force=false"
        );
        mi_free(p);
        mi_heap_delete(h);
        (me, calls_of(me).len())
    });
    let (thread, before_exit) = worker.join().unwrap();
    mi_register_deferred_free(None, null_mut());
    let calls = calls_of(thread);
    // The collection at thread exit is a forced one.
    assert!(calls.len() > before_exit, "no call at thread exit");
    assert!(
        calls[before_exit..].iter().any(|c| c.force),
        "thread-exit collection must use force=true"
    );
    // Heartbeats increase strictly.
    for w in calls.windows(2) {
        assert!(
            w[1].heartbeat > w[0].heartbeat,
            "heartbeat not increasing: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
    assert!(calls.iter().all(|c| c.depth == 1));
}

#[test]
fn deferred_free_is_not_reentered_and_stops_after_unregistering() {
    let _g = lock();
    let _u = UnregisterOnDrop;
    CALLS.lock().unwrap().clear();
    mi_register_deferred_free(Some(deferred_fn), DEFERRED_ARG as *mut c_void);
    let thread = std::thread::spawn(|| unsafe {
        ALLOCATE_IN_HOOK.with(|a| a.set(true));
        let blocks: Vec<_> = (0..5000).map(|i| mi_malloc(8 + (i % 100) * 8)).collect();
        mi_collect(true);
        ALLOCATE_IN_HOOK.with(|a| a.set(false));
        for p in blocks {
            mi_free(p);
        }
        tid()
    })
    .join()
    .unwrap();
    let calls = calls_of(thread);
    assert!(!calls.is_empty());
    let max_depth = calls.iter().map(|c| c.depth).max().unwrap();
    assert_eq!(max_depth, 1, "the deferred-free hook was re-entered");
    for w in calls.windows(2) {
        assert!(w[1].heartbeat > w[0].heartbeat);
    }

    // Unregistered: never called again.
    mi_register_deferred_free(None, null_mut());
    CALLS.lock().unwrap().clear();
    std::thread::spawn(|| unsafe {
        let blocks: Vec<_> = (0..5000).map(|i| mi_malloc(8 + (i % 100) * 8)).collect();
        mi_collect(true);
        for p in blocks {
            mi_free(p);
        }
    })
    .join()
    .unwrap();
    assert!(
        CALLS.lock().unwrap().is_empty(),
        "the hook was called after unregistering"
    );
}

#[test]
fn heartbeats_are_per_thread() {
    let _g = lock();
    let _u = UnregisterOnDrop;
    CALLS.lock().unwrap().clear();
    mi_register_deferred_free(Some(deferred_fn), DEFERRED_ARG as *mut c_void);
    let threads: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(|| unsafe {
                let blocks: Vec<_> = (0..3000).map(|i| mi_malloc(24 + (i % 30) * 24)).collect();
                for p in blocks {
                    mi_free(p);
                }
                tid()
            })
        })
        .collect();
    let ids: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    mi_register_deferred_free(None, null_mut());
    for id in ids {
        let calls = calls_of(id);
        assert!(!calls.is_empty());
        // Each thread counts on its own: its first heartbeat is small.
        assert!(
            calls[0].heartbeat <= 5,
            "first heartbeat of a fresh thread: {}",
            calls[0].heartbeat
        );
        for w in calls.windows(2) {
            assert!(w[1].heartbeat > w[0].heartbeat);
        }
    }
}
