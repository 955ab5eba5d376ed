//! Statistics (api.md §3, internals.md §13): `mi_stats_print_out` through an output
//! function (the table of internals.md §13.1, one line per call), counts that are
//! plausible and never negative (release builds too), `mi_stats_reset`, `mi_stats_merge`,
//! `mi_thread_stats_print_out`, `mi_stats_print` and `mi_process_info`.
//!
//! Statistics are process-global: tests that need exact numbers run in a child process
//! (this test binary re-run with a filter selecting one `child_*` test, which does nothing
//! unless `MI_TEST_CHILD` names it); the child makes its own assertions and the parent
//! checks that it passed.
#![cfg(feature = "capi")]
#![allow(clippy::missing_safety_doc, clippy::identity_op, unused_unsafe)]
#![allow(unknown_lints, clippy::manual_is_multiple_of, clippy::unnecessary_cast)]

use std::ffi::{c_char, c_void, CStr};
use std::ptr::null_mut;
use std::sync::Mutex;

use mimalloc::capi::*;

const HEADER: &str =
    "heap stats:     peak       total       freed     current        unit       count   \n";
/// Row labels from `reserved` on (internals.md §13.1, items 5–11).
const LABELS: [&str; 24] = [
    "reserved",
    "committed",
    "reset",
    "purged",
    "touched",
    "segments",
    "-abandoned",
    "-cached",
    "pages",
    "-abandoned",
    "-extended",
    "-noretire",
    "arenas",
    "-crossover",
    "-rollback",
    "mmaps",
    "commits",
    "resets",
    "purges",
    "threads",
    "searches",
    "numa nodes",
    "elapsed",
    "process",
];

// ---------------------------------------------------------------------------------------
// Capturing output
// ---------------------------------------------------------------------------------------

/// Each call of the output function, as received.
struct Capture {
    calls: Vec<String>,
}
unsafe extern "C" fn capture(msg: *const c_char, arg: *mut c_void) {
    let c = &mut *(arg as *mut Capture);
    c.calls
        .push(CStr::from_ptr(msg).to_string_lossy().into_owned());
}
fn stats_text(thread_only: bool) -> Vec<String> {
    let mut c = Capture { calls: Vec::new() };
    let arg = &mut c as *mut Capture as *mut c_void;
    if thread_only {
        mi_thread_stats_print_out(Some(capture), arg);
    } else {
        mi_stats_print_out(Some(capture), arg);
    }
    c.calls
}

/// One parsed row: label and the fixed-width columns after it.
#[derive(Debug, Clone)]
struct Row {
    label: String,
    line: String,
}
impl Row {
    /// Column `i` (0 = peak, 1 = total, 2 = freed, 3 = current, 4 = unit, 5 = count) of a
    /// count row; each is 12 characters wide after the 11-character label.
    fn col(&self, i: usize) -> &str {
        let start = 11 + 12 * i;
        let end = (start + 12).min(self.line.len());
        self.line.get(start..end).unwrap_or("").trim()
    }
    fn amount(&self, i: usize) -> f64 {
        parse_amount(self.col(i))
            .unwrap_or_else(|| panic!("bad amount {:?} in {:?}", self.col(i), self.line))
    }
    fn note(&self) -> &str {
        self.line.get(11 + 12 * 6..).unwrap_or("").trim()
    }
}

/// `mi_printf_amount` text back to a number: "0", "12", "1.0 GiB", "64.2 KiB", "3.0 Mi",
/// "30.0 K", "512   B".
fn parse_amount(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return Some(0.0);
    }
    let mut parts = s.split_whitespace();
    let n: f64 = parts.next()?.parse().ok()?;
    let unit = parts.next().unwrap_or("");
    let mult = match unit.trim_end_matches('B') {
        "" => 1.0,
        "K" => 1000.0,
        "M" => 1e6,
        "G" => 1e9,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * mult)
}

fn rows(lines: &[String]) -> Vec<Row> {
    lines
        .iter()
        .filter(|l| l.len() > 11 && l.as_bytes()[10] == b':' && l.as_str() != HEADER)
        .map(|l| Row {
            label: l[..10].trim().to_string(),
            line: l.trim_end_matches('\n').to_string(),
        })
        .collect()
}
fn row<'a>(rows: &'a [Row], label: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.label == label)
        .unwrap_or_else(|| panic!("no row {label:?}"))
}
/// The `n`-th row with this label (the two `-abandoned` rows).
fn row_n<'a>(rows: &'a [Row], label: &str, n: usize) -> &'a Row {
    rows.iter().filter(|r| r.label == label).nth(n).unwrap()
}

/// The checks that hold for any statistics table.
fn check_table(calls: &[String]) {
    check_table_ex(calls, true)
}
/// `fresh`: the statistics were never reset. After `mi_stats_reset`, frees of older
/// blocks count as freed without having been counted as allocated: `freed > total` and
/// (in debug builds, which print raw values) negative currents are then expected.
fn check_table_ex(calls: &[String], fresh: bool) {
    let no_negative = fresh || !cfg!(feature = "debug");
    assert!(!calls.is_empty());
    for c in calls {
        assert!(
            c.ends_with('\n'),
            "statistics are delivered one line per call: {c:?}"
        );
        assert_eq!(
            c.matches('\n').count(),
            1,
            "more than one line in one call: {c:?}"
        );
        assert!(
            c.len() <= 256,
            "line longer than the 256-byte buffer: {c:?}"
        );
    }
    assert_eq!(calls[0], HEADER, "header line");
    let rs = rows(calls);
    // The rows from `reserved` on, in order (debug builds print per-size rows first).
    let first = rs
        .iter()
        .position(|r| r.label == "reserved")
        .expect("reserved row");
    let labels: Vec<&str> = rs[first..].iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, LABELS, "row labels and order");
    if !cfg!(feature = "debug") {
        assert_eq!(first, 0, "release builds print no per-size rows");
        assert_eq!(calls.len(), 1 + LABELS.len(), "{calls:#?}");
    } else {
        // Debug: normal/large/huge/total/malloc req rows, an empty line, then the rest.
        let pre: Vec<&str> = rs[..first].iter().map(|r| r.label.as_str()).collect();
        for l in ["normal", "large", "huge", "total", "malloc req"] {
            assert!(pre.contains(&l), "debug builds print the {l} row: {pre:?}");
        }
    }
    // No negative numbers anywhere.
    for c in calls.iter().filter(|_| no_negative) {
        let body = c.get(11..).unwrap_or("");
        let b = body.as_bytes();
        for i in 0..b.len().saturating_sub(1) {
            assert!(
                !(b[i] == b'-' && b[i + 1].is_ascii_digit()),
                "negative number in the statistics: {c:?}"
            );
        }
    }
    // Count rows: peak >= current, total >= freed, and `ok` iff everything was freed.
    for r in &rs[first..] {
        if [
            "reserved",
            "committed",
            "touched",
            "segments",
            "-abandoned",
            "-cached",
            "pages",
            "threads",
        ]
        .contains(&r.label.as_str())
        {
            let (peak, total, freed, current) =
                (r.amount(0), r.amount(1), r.amount(2), r.amount(3));
            assert!(
                peak + 0.5 >= current * 0.95,
                "peak < current in {:?}",
                r.line
            );
            if fresh {
                assert!(total * 1.05 + 0.5 >= freed, "freed > total in {:?}", r.line);
                // current = total - freed (amounts are printed with 2-3 digits)
                let diff = (total - freed - current).abs();
                assert!(
                    diff <= 0.06 * total.max(1.0) + 0.5,
                    "current != total - freed in {:?}",
                    r.line
                );
            }
            let note = r.note();
            if r.label == "reserved" || r.label == "committed" {
                assert!(note.is_empty() || note == "ok", "{:?}", r.line);
            } else {
                assert!(note == "ok" || note == "not all freed", "{:?}", r.line);
            }
        }
    }
    let tail: Vec<&String> = calls.iter().rev().take(2).collect();
    assert!(
        tail[1].starts_with("   elapsed: ") && tail[1].ends_with(" s\n"),
        "{:?}",
        tail[1]
    );
    assert!(tail[0].starts_with("   process: user: "), "{:?}", tail[0]);
    assert!(
        tail[0].contains(" s, system: ")
            && tail[0].contains(", faults: ")
            && tail[0].contains(", rss: ")
    );
}

// ---------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------

mod common;
use common::{in_child, GIB, MIB};

/// Run helper test `name` in a child process (clean `MIMALLOC_*` environment plus `env`)
/// and require that it passes. Returns its stderr.
fn run_child(name: &str, env: &[(&str, &str)]) -> String {
    common::run_child_ok(name, env).1
}

/// Serialises the in-process tests that read global statistics or register output.
static LOCK: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------------------------------
// Format
// ---------------------------------------------------------------------------------------

#[test]
fn print_out_delivers_the_table_line_by_line() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    unsafe {
        let p = mi_malloc(1000);
        let calls = stats_text(false);
        check_table(&calls);
        mi_free(p);
    }
}

#[test]
fn thread_stats_print_out_uses_the_same_format() {
    std::thread::spawn(|| unsafe {
        let ps: Vec<_> = (0..100).map(|i| mi_malloc(100 + i * 100)).collect();
        let calls = stats_text(true);
        // (Thread statistics are not "fresh": e.g. a segment abandoned by another thread
        // and reclaimed by this one counts as freed here but as allocated there.)
        check_table_ex(&calls, false);
        let rs = rows(&calls);
        assert!(
            row(&rs, "pages").amount(1) >= 1.0,
            "this thread allocated pages"
        );
        for p in ps {
            mi_free(p);
        }
    })
    .join()
    .unwrap();
}

#[test]
fn parse_amount_understands_the_units() {
    assert_eq!(parse_amount("0"), Some(0.0));
    assert_eq!(parse_amount("12"), Some(12.0));
    assert_eq!(parse_amount("1.0 GiB"), Some(GIB as f64));
    assert_eq!(parse_amount("3.0 Mi"), Some(3.0 * MIB as f64));
    assert_eq!(parse_amount("30.0 K"), Some(30000.0));
    assert_eq!(parse_amount("512   B"), Some(512.0));
}

// ---------------------------------------------------------------------------------------
// Plausible counts (child process: the numbers are this process's alone)
// ---------------------------------------------------------------------------------------

#[test]
fn child_counts() {
    if !in_child("child_counts") {
        return;
    }
    unsafe {
        let small: Vec<_> = (0..1000).map(|_| mi_malloc(100)).collect();
        let large: Vec<_> = (0..10).map(|_| mi_malloc(MIB)).collect();
        let huge = mi_malloc(40 * MIB);
        for &p in large.iter().chain([&huge]) {
            std::ptr::write_bytes(p as *mut u8, 1, 4096);
        }
        let calls = stats_text(false);
        check_table(&calls);
        let rs = rows(&calls);
        let cur = |l: &str| row(&rs, l).amount(3);
        assert!(
            cur("reserved") >= GIB as f64 * 0.99,
            "the automatic arena: {:?}",
            row(&rs, "reserved").line
        );
        assert!(
            cur("committed") >= 40.0 * MIB as f64,
            "committed {:?}",
            row(&rs, "committed").line
        );
        assert!(
            cur("touched") >= 10.0 * MIB as f64,
            "touched {:?}",
            row(&rs, "touched").line
        );
        assert!(
            cur("segments") >= 2.0,
            "a normal and a huge segment: {:?}",
            row(&rs, "segments").line
        );
        assert!(
            cur("pages") >= 12.0,
            "1+ small, 10 large and 1 huge page: {:?}",
            row(&rs, "pages").line
        );
        assert_eq!(row(&rs, "pages").note(), "not all freed");
        assert!(
            row(&rs, "arenas").amount(0) >= 1.0,
            "{:?}",
            row(&rs, "arenas").line
        );
        assert!(
            row(&rs, "mmaps").amount(0) >= 1.0,
            "{:?}",
            row(&rs, "mmaps").line
        );
        assert!(cur("threads") >= 1.0, "{:?}", row(&rs, "threads").line);
        assert!(
            row(&rs, "-extended").amount(0) >= 1.0,
            "{:?}",
            row(&rs, "-extended").line
        );

        // Free everything: the pages go away.
        for p in small.into_iter().chain(large).chain([huge]) {
            mi_free(p);
        }
        mi_collect(true);
        let calls = stats_text(false);
        check_table(&calls);
        let rs = rows(&calls);
        let pages = row(&rs, "pages");
        assert_eq!(
            pages.amount(3),
            0.0,
            "pages left after freeing everything: {:?}",
            pages.line
        );
        assert_eq!(pages.note(), "ok");
        assert!(
            pages.amount(1) >= 12.0 && pages.amount(2) == pages.amount(1),
            "{:?}",
            pages.line
        );
        assert_eq!(
            row(&rs, "segments").amount(3),
            0.0,
            "{:?}",
            row(&rs, "segments").line
        );
        assert!(row(&rs, "segments").amount(0) >= 2.0);
        assert_eq!(
            row(&rs, "touched").amount(3),
            0.0,
            "{:?}",
            row(&rs, "touched").line
        );
    }
}

#[test]
fn counts_are_plausible_after_allocations() {
    run_child("child_counts", &[]);
}

/// Blocks that `threads` threads, one after another, allocated and left alive when they
/// exited (so their segments were abandoned).
fn blocks_of_exited_threads(threads: usize) -> Vec<usize> {
    let mut blocks = Vec::new();
    for _ in 0..threads {
        blocks.extend(
            std::thread::spawn(|| {
                (0..50)
                    .map(|i| unsafe { mi_malloc(64 + i) } as usize)
                    .collect::<Vec<_>>()
            })
            .join()
            .unwrap(),
        );
    }
    blocks
}

#[test]
fn child_threads_and_abandonment() {
    if !in_child("child_threads_and_abandonment") {
        return;
    }
    unsafe {
        // Three threads leave live blocks behind: their segments are abandoned.
        let blocks = blocks_of_exited_threads(3);
        let calls = stats_text(false);
        check_table(&calls);
        let rs = rows(&calls);
        assert!(
            row(&rs, "threads").amount(1) >= 3.0,
            "{:?}",
            row(&rs, "threads").line
        );
        let seg_abandoned = row_n(&rs, "-abandoned", 0);
        let page_abandoned = row_n(&rs, "-abandoned", 1);
        assert!(
            seg_abandoned.amount(1) >= 3.0,
            "segments abandoned: {:?}",
            seg_abandoned.line
        );
        assert!(
            page_abandoned.amount(1) >= 3.0,
            "pages abandoned: {:?}",
            page_abandoned.line
        );
        for p in blocks {
            mi_free(p as *mut c_void);
        }
        mi_collect(true);
        let calls = stats_text(false);
        check_table(&calls);
        let rs = rows(&calls);
        // The first free into an abandoned segment reclaims it (abandoned_reclaim_on_free);
        // the others may stay abandoned until some thread reclaims them.
        let seg_abandoned = row_n(&rs, "-abandoned", 0);
        assert!(
            seg_abandoned.amount(2) >= 1.0,
            "no segment was reclaimed: {:?}",
            seg_abandoned.line
        );
    }
}

#[test]
fn thread_and_abandonment_counts() {
    run_child("child_threads_and_abandonment", &[]);
}

#[test]
fn child_collect_frees_emptied_abandoned_segments() {
    if !in_child("child_collect_frees_emptied_abandoned_segments") {
        return;
    }
    unsafe {
        // Three threads leave live blocks behind (each new thread may reclaim the segment
        // of the one before); this thread, which may not reclaim on free in this run,
        // frees them all, so the segments left abandoned are empty. (This thread
        // allocates first: a collect on a thread that never allocated does nothing.)
        let mine = mi_malloc(8);
        let blocks = blocks_of_exited_threads(3);
        for p in blocks {
            mi_free(p as *mut c_void);
        }
        let rs = rows(&stats_text(false));
        let abandoned_before = row_n(&rs, "-abandoned", 0).amount(3);
        let segments_before = row(&rs, "segments").amount(3);
        assert!(
            abandoned_before >= 1.0,
            "no segment left abandoned: {:?}",
            row_n(&rs, "-abandoned", 0).line
        );
        // A plain (not forced) collect sweeps the abandoned segments and frees the empty ones.
        mi_collect(false);
        let calls = stats_text(false);
        check_table(&calls);
        let rs = rows(&calls);
        assert_eq!(
            row_n(&rs, "-abandoned", 0).amount(3),
            0.0,
            "emptied abandoned segments were not freed: {:?}",
            row_n(&rs, "-abandoned", 0).line
        );
        assert!(
            row(&rs, "segments").amount(3) <= segments_before - abandoned_before,
            "segments before {segments_before}: {:?}",
            row(&rs, "segments").line
        );
        assert_eq!(
            row_n(&rs, "-abandoned", 1).amount(3),
            0.0,
            "pages still abandoned"
        );
        // The allocator is still sound afterwards.
        let p = mi_malloc(100);
        assert!(!p.is_null());
        mi_free(p);
        mi_free(mine);
    }
}

#[test]
fn collect_frees_emptied_abandoned_segments() {
    run_child(
        "child_collect_frees_emptied_abandoned_segments",
        &[("MIMALLOC_ABANDONED_RECLAIM_ON_FREE", "0")],
    );
}

// ---------------------------------------------------------------------------------------
// mi_stats_reset, mi_stats_merge, mi_thread_stats_print_out
// ---------------------------------------------------------------------------------------

#[test]
fn child_reset() {
    if !in_child("child_reset") {
        return;
    }
    unsafe {
        let keep: Vec<_> = (0..20).map(|_| mi_malloc(MIB)).collect();
        let rs = rows(&stats_text(false));
        assert!(row(&rs, "pages").amount(1) >= 20.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        mi_stats_reset();
        let calls = stats_text(false);
        check_table_ex(&calls, false);
        let rs = rows(&calls);
        for l in ["pages", "segments", "touched"] {
            assert_eq!(
                row(&rs, l).amount(1),
                0.0,
                "{l} total after mi_stats_reset: {:?}",
                row(&rs, l).line
            );
        }
        for l in ["-extended", "mmaps", "arenas"] {
            assert_eq!(
                row(&rs, l).amount(0),
                0.0,
                "{l} after mi_stats_reset: {:?}",
                row(&rs, l).line
            );
        }
        // Counting starts again (and frees of older blocks never show as negative).
        let more: Vec<_> = (0..5).map(|_| mi_malloc(2 * MIB)).collect();
        for p in keep {
            mi_free(p);
        }
        let calls = stats_text(false);
        check_table_ex(&calls, false);
        let rs = rows(&calls);
        assert!(
            row(&rs, "pages").amount(1) >= 5.0,
            "{:?}",
            row(&rs, "pages").line
        );
        for p in more {
            mi_free(p);
        }
        mi_collect(true);
        check_table_ex(&stats_text(false), false);
    }
}

#[test]
fn stats_reset_zeroes_the_statistics() {
    run_child("child_reset", &[]);
}

#[test]
fn child_merge() {
    if !in_child("child_merge") {
        return;
    }
    std::thread::spawn(|| unsafe {
        let before = row(&rows(&stats_text(false)), "pages").amount(1);
        let ps: Vec<_> = (0..30).map(|_| mi_malloc(MIB)).collect();
        // The thread's own statistics show its pages ...
        let mine = rows(&stats_text(true));
        assert!(
            row(&mine, "pages").amount(1) >= 30.0,
            "{:?}",
            row(&mine, "pages").line
        );
        // ... merge moves them into the global ones and zeroes the thread's copy.
        mi_stats_merge();
        let mine = rows(&stats_text(true));
        assert_eq!(
            row(&mine, "pages").amount(1),
            0.0,
            "after merge: {:?}",
            row(&mine, "pages").line
        );
        let global = row(&rows(&stats_text(false)), "pages").amount(1);
        assert!(
            global >= before + 30.0,
            "global pages total {global} (before {before})"
        );
        for p in ps {
            mi_free(p);
        }
    })
    .join()
    .unwrap();
}

#[test]
fn stats_merge_moves_thread_statistics_into_the_global_ones() {
    run_child("child_merge", &[]);
}

// ---------------------------------------------------------------------------------------
// mi_stats_print and the default output
// ---------------------------------------------------------------------------------------

static OUT: Mutex<String> = Mutex::new(String::new());
unsafe extern "C" fn to_out(msg: *const c_char, _arg: *mut c_void) {
    OUT.lock()
        .unwrap()
        .push_str(&CStr::from_ptr(msg).to_string_lossy());
}

#[test]
fn child_stats_print() {
    if !in_child("child_stats_print") {
        return;
    }
    unsafe {
        // Without a registered output function: stderr (checked by the parent).
        mi_stats_print(null_mut());
        eprintln!("--- registered ---");
        mi_register_output(Some(to_out), null_mut());
        OUT.lock().unwrap().clear();
        mi_stats_print(null_mut());
        let text = std::mem::take(&mut *OUT.lock().unwrap());
        assert!(
            text.starts_with(HEADER),
            "mi_stats_print(NULL) goes to the registered output: {text:?}"
        );
        // An output function passed as the argument receives it directly.
        let mut c = Capture { calls: Vec::new() };
        mi_stats_print_out(Some(capture), &mut c as *mut Capture as *mut c_void);
        assert_eq!(c.calls[0], HEADER);
        assert!(
            OUT.lock().unwrap().is_empty(),
            "mi_stats_print_out(fn) also wrote to the default output"
        );
        // The deprecated form with a function pointer cast to void*.
        let f: unsafe extern "C" fn(*const c_char, *mut c_void) = to_out;
        mi_stats_print(f as *mut c_void);
        assert!(OUT.lock().unwrap().starts_with(HEADER));
        mi_register_output(None, null_mut());
    }
}

#[test]
fn stats_print_goes_to_the_default_output() {
    let stderr = run_child("child_stats_print", &[]);
    let (before, after) = stderr.split_once("--- registered ---").expect("marker");
    assert!(
        before.contains("heap stats:"),
        "mi_stats_print(NULL) without an output function goes to stderr:\n{stderr}"
    );
    assert!(
        !after.contains("heap stats:"),
        "printed to stderr although an output function was registered:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// mi_process_info
// ---------------------------------------------------------------------------------------

#[test]
fn process_info_fields() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    unsafe {
        // Some CPU time and resident memory first.
        let p = mi_malloc(16 * MIB) as *mut u8;
        std::ptr::write_bytes(p, 1, 16 * MIB);
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed().as_millis() < 30 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let mut v = [usize::MAX; 8];
        let [a, b, c, d, e, f, g, h] = &mut v;
        mi_process_info(a, b, c, d, e, f, g, h);
        let [elapsed, user, system, current_rss, peak_rss, current_commit, peak_commit, faults] = v;
        assert!(
            elapsed > 0 && elapsed < 24 * 3600 * 1000,
            "elapsed {elapsed}"
        );
        assert!(user + system > 0, "user {user} system {system}");
        assert!(user < 24 * 3600 * 1000 && system < 24 * 3600 * 1000);
        assert!(current_rss >= 16 * MIB, "current_rss {current_rss}");
        assert!(
            peak_rss >= current_rss,
            "peak_rss {peak_rss} < current_rss {current_rss}"
        );
        assert!(
            current_commit >= 16 * MIB,
            "current_commit {current_commit}"
        );
        assert!(
            peak_commit >= current_commit,
            "peak_commit {peak_commit} < current_commit {current_commit}"
        );
        assert_ne!(faults, usize::MAX, "page_faults not written");
        // Every argument may be NULL.
        let n = null_mut();
        mi_process_info(n, n, n, n, n, n, n, n);
        let mut only = 0usize;
        mi_process_info(n, n, n, n, &mut only, n, n, n);
        assert!(only >= current_rss);
        // Elapsed time advances.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut later = 0usize;
        mi_process_info(&mut later, n, n, n, n, n, n, n);
        assert!(later >= elapsed + 15, "elapsed {elapsed} -> {later}");
        mi_free(p as *mut c_void);
    }
}
