//! Multi-threaded stress test in the spirit of mimalloc's `test/test-stress.c`
//! (tests.md §4), run as a plain program (`harness = false`) so that `main` is the
//! process's main thread, as in the C test: its final `mi_collect(true)` must then
//! reclaim every abandoned segment and return the memory (api.md §3 `mi_collect`).
//!
//! Every round starts THREADS fresh threads. Each allocates blocks of random sizes with
//! `mi_calloc` (mostly 1–16 words, 1 % ×100, of which 10 % ×1000 and 1 % ×10000: up to
//! ~1.3 MB, retained ones up to ~5 MB), checks they are zeroed, fills each with
//! `(items - i) ^ COOKIE`, frees two thirds of them again, and swaps a quarter into a
//! shared array of 1000 atomic slots, so blocks are checked and freed by other threads
//! (possibly of a later round, after their allocating thread has exited: abandonment and
//! reclaim). In addition every thread leaves a tenth of its retained blocks in a second
//! array of "survivor" slots, which the threads of the next round verify and free, and a
//! quarter of the threads call `mi_thread_done` half-way and go on allocating. Every
//! block is fully verified before it is freed. At the end everything is freed, the
//! number of allocations must equal the number of frees, and after `mi_collect(true)`
//! the resident size must have come back down.
//!
//! Two ways to run it:
//! - as a plain program (`[[test]] name = "stress" harness = false`, the intended set-up):
//!   `stress [THREADS] [SCALE] [ITER]` (positional, like test-stress); the final
//!   collection runs on the main thread and the resident size is checked;
//! - under the libtest harness (if `harness = false` is missing): tests `stress_short`
//!   and `#[ignore] stress_long`; the harness runs tests on other threads, so the
//!   resident-size check after `mi_collect(true)` is skipped there.
//!
//! Defaults: a short run (16 threads, scale 25, 10 rounds: ~2 s); `MI_STRESS_LONG=1` (or
//! `cargo test --test stress -- --ignored` under the harness) selects the C test's
//! defaults (32 threads, scale 25, 50 rounds). `MI_STRESS_THREADS`, `MI_STRESS_SCALE`,
//! `MI_STRESS_ITER` override single values.

// (under the libtest harness this `main` is unused; `#[test]` items exist only there)
#![allow(unused_unsafe)]

#[cfg(feature = "capi")]
#[allow(dead_code)]
fn main() {
    stress::main()
}
#[cfg(not(feature = "capi"))]
fn main() {}

#[cfg(feature = "capi")]
#[test]
fn stress_short() {
    stress::run(stress::Params::from_env(false), false).unwrap();
}

#[cfg(feature = "capi")]
#[test]
#[ignore = "long: 32 threads, 50 rounds"]
fn stress_long() {
    stress::run(stress::Params::from_env(true), false).unwrap();
}

#[cfg(feature = "capi")]
mod stress {
    use std::ffi::c_void;
    use std::ptr::null_mut;
    use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
    use std::time::Instant;

    use mimalloc::capi::*;

    const COOKIE: u64 = 0xbf58_476d_1ce4_e5b9;
    const TRANSFERS: usize = 1000;
    const SURVIVORS: usize = 512;
    const MIB: usize = 1 << 20;

    static TRANSFER: [AtomicPtr<u64>; TRANSFERS] =
        [const { AtomicPtr::new(null_mut()) }; TRANSFERS];
    static SURVIVOR: [AtomicPtr<u64>; SURVIVORS] =
        [const { AtomicPtr::new(null_mut()) }; SURVIVORS];
    static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
    static FREED: AtomicUsize = AtomicUsize::new(0);

    pub struct Params {
        threads: usize,
        scale: usize,
        iter: usize,
    }

    impl Params {
        /// Short or long defaults, then `MI_STRESS_LONG` and `MI_STRESS_*` overrides.
        pub fn from_env(long: bool) -> Params {
            let long = long
                || std::env::var("MI_STRESS_LONG")
                    .map(|v| v == "1")
                    .unwrap_or(false);
            let mut p = if long {
                Params {
                    threads: 32,
                    scale: 25,
                    iter: 50,
                }
            } else {
                Params {
                    threads: 16,
                    scale: 25,
                    iter: 10,
                }
            };
            p.threads = env_usize("MI_STRESS_THREADS").unwrap_or(p.threads);
            p.scale = env_usize("MI_STRESS_SCALE").unwrap_or(p.scale);
            p.iter = env_usize("MI_STRESS_ITER").unwrap_or(p.iter);
            p
        }
    }

    /// test-stress.c's `pick`: a 64-bit integer hash used as generator.
    struct Rng(u64);
    impl Rng {
        fn pick(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 16;
            x = x.wrapping_mul(0x7feb_352d);
            x ^= x >> 15;
            x = x.wrapping_mul(0x846c_a68b);
            x ^= x >> 16;
            self.0 = x;
            x
        }
        fn chance(&mut self, perc: u64) -> bool {
            self.pick() % 100 <= perc
        }
    }

    /// `calloc` a block of `items` words (sometimes ×100, ×1000 or ×10000), check that it
    /// is zeroed and fill it with the cookie pattern.
    unsafe fn alloc_items(mut items: usize, r: &mut Rng) -> *mut u64 {
        if r.chance(1) {
            if r.chance(1) {
                items *= 10000; // 0.01% giant
            } else if r.chance(10) {
                items *= 1000; // 0.1% huge
            } else {
                items *= 100; // 1% large objects
            }
        }
        if items == 40 {
            items += 1; // (pthreads uses that size for stack increases)
        }
        if items == 0 {
            items = 1;
        }
        let p = mi_calloc(items, 8) as *mut u64;
        if p.is_null() {
            panic!("mi_calloc({items}, 8) returned NULL");
        }
        if mi_usable_size(p as *const c_void) < items * 8 {
            panic!(
                "usable size of mi_calloc({items}, 8) = {p:p} is {}",
                mi_usable_size(p as *const c_void)
            );
        }
        for i in 0..items {
            if *p.add(i) != 0 {
                panic!("mi_calloc({items}, 8) = {p:p} not zeroed at word {i}");
            }
            *p.add(i) = (items - i) as u64 ^ COOKIE;
        }
        ALLOCATED.fetch_add(1, Ordering::Relaxed);
        p
    }

    /// Verify every word of a block made by `alloc_items`, then free it.
    unsafe fn free_items(p: *mut u64) {
        if p.is_null() {
            return;
        }
        let items = (*p ^ COOKIE) as usize;
        let usable = mi_usable_size(p as *const c_void);
        if items == 0 || items.saturating_mul(8) > usable {
            panic!("memory corruption at block {p:p}: header word says {items} items, usable size {usable}");
        }
        for i in 0..items {
            if (*p.add(i) ^ COOKIE) as usize != items - i {
                panic!("memory corruption at block {p:p} of {items} words at word {i}");
            }
        }
        mi_free(p as *mut c_void);
        FREED.fetch_add(1, Ordering::Relaxed);
    }

    /// One thread of one round (test-stress.c `stress`, plus survivors and thread_done).
    unsafe fn stress(tid: usize, p: &Params) {
        // free what the threads of the previous round left behind
        for (i, slot) in SURVIVOR.iter().enumerate() {
            if i % p.threads == tid {
                free_items(slot.swap(null_mut(), Ordering::AcqRel));
            }
        }

        let mut r = Rng(((tid + 1) * 43) as u64);
        const MAX_ITEM_SHIFT: u64 = 5; // 128
        const MAX_ITEM_RETAINED_SHIFT: u64 = MAX_ITEM_SHIFT + 2;
        let mut allocs = 100 * p.scale * (tid % 8 + 1); // some threads do more
        let mut retain = allocs / 2;
        let done_at = if tid % 4 == 3 { allocs / 2 } else { usize::MAX };
        let mut data: *mut *mut u64 = null_mut();
        let mut data_size = 0usize;
        let mut data_top = 0usize;
        let retained = mi_calloc(retain.max(1), std::mem::size_of::<*mut u64>()) as *mut *mut u64;
        assert!(!retained.is_null());
        let mut retain_top = 0usize;

        while allocs > 0 || retain > 0 {
            if retain == 0 || (r.chance(50) && allocs > 0) {
                // 50%+ alloc
                allocs -= 1;
                if data_top >= data_size {
                    data_size += 100_000;
                    data = mi_realloc(
                        data as *mut c_void,
                        data_size * std::mem::size_of::<*mut u64>(),
                    ) as *mut *mut u64;
                    assert!(!data.is_null(), "mi_realloc of the work array failed");
                }
                *data.add(data_top) = alloc_items(1 << (r.pick() % MAX_ITEM_SHIFT), &mut r);
                data_top += 1;
                if allocs == done_at {
                    // tear the thread's heap down half-way; later allocations get a fresh one
                    mi_thread_done();
                }
            } else {
                // 25% retain
                *retained.add(retain_top) =
                    alloc_items(1 << (r.pick() % MAX_ITEM_RETAINED_SHIFT), &mut r);
                retain_top += 1;
                retain -= 1;
            }
            if r.chance(66) && data_top > 0 {
                // 66% free previous alloc
                let idx = (r.pick() % data_top as u64) as usize;
                free_items(*data.add(idx));
                *data.add(idx) = null_mut();
            }
            if r.chance(25) && data_top > 0 {
                // 25% exchange a local pointer with the (shared) transfer buffer
                let data_idx = (r.pick() % data_top as u64) as usize;
                let transfer_idx = (r.pick() % TRANSFERS as u64) as usize;
                let q = TRANSFER[transfer_idx].swap(*data.add(data_idx), Ordering::AcqRel);
                *data.add(data_idx) = q;
            }
        }
        // free everything that is left, except a tenth of the retained blocks, which
        // outlive this thread in the survivor slots
        for i in 0..retain_top {
            let b = *retained.add(i);
            if i % 10 == 0 {
                let slot = (tid * 131 + i / 10) % SURVIVORS;
                free_items(SURVIVOR[slot].swap(b, Ordering::AcqRel));
            } else {
                free_items(b);
            }
        }
        for i in 0..data_top {
            free_items(*data.add(i));
        }
        mi_free(retained as *mut c_void);
        mi_free(data as *mut c_void);
    }

    fn env_usize(name: &str) -> Option<usize> {
        std::env::var(name)
            .ok()?
            .trim()
            .parse()
            .ok()
            .filter(|&v| v > 0)
    }

    /// (VmRSS, VmHWM) of this process in bytes.
    fn rss() -> (usize, usize) {
        let s = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
        let field = |name: &str| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<usize>().ok())
                .map(|kb| kb * 1024)
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    #[allow(dead_code)]
    pub fn main() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "--list") {
            println!("stress: test");
            return;
        }
        // behave like a libtest binary with one test called "stress" towards filters
        let filters: Vec<&String> = args
            .iter()
            .filter(|a| !a.starts_with('-') && a.parse::<usize>().is_err())
            .collect();
        if !filters.is_empty() && !filters.iter().any(|f| "stress".contains(f.as_str())) {
            println!("running 0 tests (filtered out)");
            return;
        }
        let mut p = Params::from_env(false);
        let nums: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
        for (i, v) in nums.iter().enumerate().filter(|(_, &v)| v > 0) {
            match i {
                0 => p.threads = *v,
                1 => p.scale = *v,
                2 => p.iter = *v,
                _ => {}
            }
        }
        match run(p, true) {
            Ok(()) => println!("stress: ok"),
            Err(e) => {
                eprintln!("stress: FAILED: {e}");
                std::process::exit(1);
            }
        }
    }

    /// The whole stress run. `on_main_thread`: the caller is the process's main thread,
    /// so `mi_collect(true)` reclaims all abandoned segments and the resident size after
    /// it is checked.
    pub fn run(p: Params, on_main_thread: bool) -> Result<(), String> {
        println!(
            "stress: using {} threads with a {}% load-per-thread and {} iterations (allow large objects)",
            p.threads, p.scale, p.iter
        );
        unsafe { mi_thread_init() };
        let (rss_start, _) = rss();
        let start = Instant::now();
        let mut r = Rng(0x7feb_352d);
        for n in 0..p.iter {
            let results: Vec<std::thread::Result<()>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..p.threads)
                    .map(|tid| {
                        s.spawn({
                            let p = &p;
                            move || unsafe { stress(tid, p) }
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join()).collect()
            });
            if results.iter().any(|r| r.is_err()) {
                return Err(format!("a thread panicked in round {n} (see above)"));
            }
            // the main thread frees half of the transfer slots, all in the last round
            for slot in TRANSFER.iter() {
                if r.chance(50) || n + 1 == p.iter {
                    unsafe { free_items(slot.swap(null_mut(), Ordering::AcqRel)) };
                }
            }
            if (n + 1) % 10 == 0 {
                println!("- iterations left: {:3}", p.iter - n - 1);
            }
        }
        // the last round's survivors are freed here, after their threads have exited
        for slot in SURVIVOR.iter() {
            unsafe { free_items(slot.swap(null_mut(), Ordering::AcqRel)) };
        }
        let elapsed = start.elapsed();

        let (allocated, freed) = (
            ALLOCATED.load(Ordering::Relaxed),
            FREED.load(Ordering::Relaxed),
        );
        println!(
            "stress: {allocated} blocks allocated, {freed} freed, in {:.2} s",
            elapsed.as_secs_f64()
        );
        if allocated != freed
            || TRANSFER
                .iter()
                .chain(SURVIVOR.iter())
                .any(|s| !s.load(Ordering::Relaxed).is_null())
        {
            return Err("not every block was freed exactly once".into());
        }

        let (rss_before, _) = rss();
        unsafe { mi_collect(true) };
        let (rss_end, hwm) = rss();
        println!(
            "stress: resident {} MiB at start, {} MiB peak, {} MiB before and {} MiB after mi_collect(true)",
            rss_start / MIB,
            hwm / MIB,
            rss_before / MIB,
            rss_end / MIB
        );
        let purging_changed = std::env::vars().any(|(k, _)| {
            let k = k.to_ascii_uppercase();
            k.starts_with("MIMALLOC_PURGE")
                || k.starts_with("MIMALLOC_ARENA_PURGE")
                || k.starts_with("MIMALLOC_RESET")
        });
        // Everything is freed and the main thread forced a collection: all abandoned
        // segments are reclaimed and freed and all purges are done (decommit is the
        // default purge), so the resident size must be back near where it started.
        let allowed = (32 * MIB).max(hwm.saturating_sub(rss_start) / 4);
        if on_main_thread && !purging_changed && rss_end > rss_start + allowed {
            return Err(format!(
                "mi_collect(true) on the main thread left {} MiB resident above the start (allowed {} MiB)",
                (rss_end - rss_start) / MIB,
                allowed / MIB
            ));
        }
        Ok(())
    }
}
