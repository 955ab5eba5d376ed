//! Options (api.md §9): every option's number and default, the get/set functions, the
//! environment (`MIMALLOC_<NAME>`, case-insensitive, legacy names, boolean words, size
//! units, invalid values) and the effects of the options that change behaviour.
//!
//! Options are read from the environment when the library is loaded, so environment
//! tests re-run this test binary as a child process with the variables set and a filter
//! that selects one `child_*` test (which does nothing unless `MI_TEST_CHILD` names it).
//! The child prints `@@ <key> <value>` lines on stdout; mimalloc writes its messages to
//! stderr. Tests that change options in this process hold `LOCK` and only touch options
//! without effect on allocation (the deprecated ones, `os_tag`, `retry_on_oom`).
#![cfg(feature = "capi")]
#![allow(clippy::missing_safety_doc, clippy::identity_op, unused_unsafe)]
#![allow(unknown_lints, clippy::manual_is_multiple_of, clippy::unnecessary_cast)]

use std::collections::HashMap;
use std::ffi::{c_char, c_long, c_void, CStr};
use std::sync::Mutex;

use mimalloc::capi::*;

// mi_option_t (api.md §9.1)
const SHOW_ERRORS: mi_option_t = 0;
const SHOW_STATS: mi_option_t = 1;
const VERBOSE: mi_option_t = 2;
const EAGER_COMMIT: mi_option_t = 3;
const ARENA_EAGER_COMMIT: mi_option_t = 4;
const PURGE_DECOMMITS: mi_option_t = 5;
const ALLOW_LARGE_OS_PAGES: mi_option_t = 6;
const RESERVE_HUGE_OS_PAGES: mi_option_t = 7;
const RESERVE_HUGE_OS_PAGES_AT: mi_option_t = 8;
const RESERVE_OS_MEMORY: mi_option_t = 9;
const DEPRECATED_SEGMENT_CACHE: mi_option_t = 10;
const DEPRECATED_PAGE_RESET: mi_option_t = 11;
const ABANDONED_PAGE_PURGE: mi_option_t = 12;
const DEPRECATED_SEGMENT_RESET: mi_option_t = 13;
const EAGER_COMMIT_DELAY: mi_option_t = 14;
const PURGE_DELAY: mi_option_t = 15;
const USE_NUMA_NODES: mi_option_t = 16;
const DISALLOW_OS_ALLOC: mi_option_t = 17;
const OS_TAG: mi_option_t = 18;
const MAX_ERRORS: mi_option_t = 19;
const MAX_WARNINGS: mi_option_t = 20;
const MAX_SEGMENT_RECLAIM: mi_option_t = 21;
const DESTROY_ON_EXIT: mi_option_t = 22;
const ARENA_RESERVE: mi_option_t = 23;
const ARENA_PURGE_MULT: mi_option_t = 24;
const PURGE_EXTEND_DELAY: mi_option_t = 25;
const ABANDONED_RECLAIM_ON_FREE: mi_option_t = 26;
const DISALLOW_ARENA_ALLOC: mi_option_t = 27;
const RETRY_ON_OOM: mi_option_t = 28;
const OPTION_LAST: mi_option_t = 29;
// legacy aliases
const LARGE_OS_PAGES: mi_option_t = ALLOW_LARGE_OS_PAGES;
const EAGER_REGION_COMMIT: mi_option_t = ARENA_EAGER_COMMIT;
const RESET_DECOMMITS: mi_option_t = PURGE_DECOMMITS;
const RESET_DELAY: mi_option_t = PURGE_DELAY;
const ABANDONED_PAGE_RESET: mi_option_t = ABANDONED_PAGE_PURGE;
const LIMIT_OS_ALLOC: mi_option_t = DISALLOW_OS_ALLOC;

/// `show_errors` defaults to 1 in debug builds and with `MI_SHOW_ERRORS`.
const SHOW_ERRORS_DEFAULT: c_long =
    (cfg!(feature = "debug") || cfg!(feature = "show_errors")) as c_long;

/// (option, environment name, default) — api.md §9.2 (64-bit Linux).
const TABLE: [(mi_option_t, &str, c_long); 29] = [
    (SHOW_ERRORS, "show_errors", SHOW_ERRORS_DEFAULT),
    (SHOW_STATS, "show_stats", 0),
    (VERBOSE, "verbose", 0),
    (EAGER_COMMIT, "eager_commit", 1),
    (ARENA_EAGER_COMMIT, "arena_eager_commit", 2),
    (PURGE_DECOMMITS, "purge_decommits", 1),
    (ALLOW_LARGE_OS_PAGES, "allow_large_os_pages", 0),
    (RESERVE_HUGE_OS_PAGES, "reserve_huge_os_pages", 0),
    (RESERVE_HUGE_OS_PAGES_AT, "reserve_huge_os_pages_at", -1),
    (RESERVE_OS_MEMORY, "reserve_os_memory", 0),
    (DEPRECATED_SEGMENT_CACHE, "deprecated_segment_cache", 0),
    (DEPRECATED_PAGE_RESET, "deprecated_page_reset", 0),
    (ABANDONED_PAGE_PURGE, "abandoned_page_purge", 0),
    (DEPRECATED_SEGMENT_RESET, "deprecated_segment_reset", 0),
    (EAGER_COMMIT_DELAY, "eager_commit_delay", 1),
    (PURGE_DELAY, "purge_delay", 10),
    (USE_NUMA_NODES, "use_numa_nodes", 0),
    (DISALLOW_OS_ALLOC, "disallow_os_alloc", 0),
    (OS_TAG, "os_tag", 100),
    (MAX_ERRORS, "max_errors", 32),
    (MAX_WARNINGS, "max_warnings", 32),
    (MAX_SEGMENT_RECLAIM, "max_segment_reclaim", 10),
    (DESTROY_ON_EXIT, "destroy_on_exit", 0),
    (ARENA_RESERVE, "arena_reserve", 1024 * 1024),
    (ARENA_PURGE_MULT, "arena_purge_mult", 10),
    (PURGE_EXTEND_DELAY, "purge_extend_delay", 1),
    (ABANDONED_RECLAIM_ON_FREE, "abandoned_reclaim_on_free", 1),
    (DISALLOW_ARENA_ALLOC, "disallow_arena_alloc", 0),
    (RETRY_ON_OOM, "retry_on_oom", 400),
];

// ---------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------

mod common;
use common::{errno, in_child, lock, set_errno, GIB, KIB, MIB};

struct ChildOutput {
    ok: bool,
    code: Option<i32>,
    /// `@@ key value` lines.
    values: HashMap<String, String>,
    stdout: String,
    stderr: String,
}

impl ChildOutput {
    fn get(&self, key: &str) -> &str {
        self.values.get(key).unwrap_or_else(|| {
            panic!(
                "child did not report {key:?}\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
    fn num(&self, key: &str) -> i64 {
        self.get(key).parse().unwrap()
    }
    fn opt(&self, o: mi_option_t) -> i64 {
        self.num(&format!("opt{o}"))
    }
    /// Lines of stderr that contain `s`. A message from a thread other than the main
    /// one carries `thread 0x<id>: ` after its `mimalloc: error: ` / `warning: `
    /// prefix, so `prefix|text` patterns match the prefix and the text separately.
    fn stderr_count(&self, s: &str) -> usize {
        let (prefix, text) = s.split_once('|').unwrap_or(("", s));
        self.stderr
            .lines()
            .filter(|l| l.starts_with(prefix) && l.contains(text))
            .count()
    }
    fn assert_ok(&self) {
        assert!(
            self.ok,
            "child failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
    }
}

/// Run helper test `name` in a child process with a clean `MIMALLOC_*` environment plus
/// `env`.
fn run_child(name: &str, env: &[(&str, &str)]) -> ChildOutput {
    let out = common::spawn_child(name, env);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut values = HashMap::new();
    for line in stdout.lines() {
        // (libtest prints "test <name> ... " before the first line of output)
        if let Some(rest) = line.find("@@ ").map(|i| &line[i + 3..]) {
            let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
            values.insert(k.to_string(), v.to_string());
        }
    }
    let ok = out.status.success();
    let child = ChildOutput {
        ok,
        code: out.status.code(),
        values,
        stdout,
        stderr,
    };
    if ok {
        assert!(
            child.stdout.contains("test result: ok. 1 passed"),
            "the child did not run exactly its helper test {name}:\n{}",
            child.stdout
        );
    }
    child
}

fn report(key: &str, value: impl std::fmt::Display) {
    println!("@@ {key} {value}");
}

/// Report every option value, `get_size` of the two size options and process facts.
fn report_options() {
    for o in 0..OPTION_LAST {
        report(&format!("opt{o}"), mi_option_get(o));
    }
    report("size9", mi_option_get_size(RESERVE_OS_MEMORY));
    report("size23", mi_option_get_size(ARENA_RESERVE));
}

/// Current resident set size (second field of /proc/self/statm) in bytes.
fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

fn arena_size(id: mi_arena_id_t) -> usize {
    let mut size = 0;
    let p = unsafe { mi_arena_area(id, &mut size) };
    if p.is_null() {
        0
    } else {
        size
    }
}

// ---------------------------------------------------------------------------------------
// Numbers, defaults and the option functions
// ---------------------------------------------------------------------------------------

#[test]
fn option_numbers_match_the_header() {
    // api.md §9.1 (a compile-time table; it documents what the C ABI must use).
    assert_eq!(RETRY_ON_OOM, 28);
    assert_eq!(OPTION_LAST, 29);
    assert_eq!(
        [
            LARGE_OS_PAGES,
            EAGER_REGION_COMMIT,
            RESET_DECOMMITS,
            RESET_DELAY,
            ABANDONED_PAGE_RESET,
            LIMIT_OS_ALLOC
        ],
        [6, 4, 5, 15, 12, 17]
    );
    for (i, (o, _, _)) in TABLE.iter().enumerate() {
        assert_eq!(*o as usize, i);
    }
}

#[test]
fn child_report_options() {
    if !in_child("child_report_options") {
        return;
    }
    report_options();
    // Out-of-range options read as 0 (release builds; debug builds assert).
    if !cfg!(feature = "debug") {
        report("get29", mi_option_get(OPTION_LAST));
        report("get-1", mi_option_get(-1));
        report("get1000", mi_option_get(1000));
        report("enabled29", mi_option_is_enabled(OPTION_LAST) as i32);
        mi_option_set(OPTION_LAST, 5);
        mi_option_set_default(-1, 5);
        mi_option_enable(1000);
        report("get29after", mi_option_get(OPTION_LAST));
    }
}

#[test]
fn every_option_has_its_exact_default() {
    let c = run_child("child_report_options", &[]);
    c.assert_ok();
    for (o, name, default) in TABLE {
        assert_eq!(c.opt(o), default as i64, "default of {name} (option {o})");
    }
    assert_eq!(c.num("size9"), 0);
    assert_eq!(
        c.num("size23"),
        GIB as i64,
        "arena_reserve default is 1 GiB"
    );
    if !cfg!(feature = "debug") {
        for k in ["get29", "get-1", "get1000", "enabled29", "get29after"] {
            assert_eq!(c.num(k), 0, "{k}: out-of-range options read as 0");
        }
    }
    // Nothing printed without verbose/show_errors.
    if SHOW_ERRORS_DEFAULT == 0 {
        assert!(
            !c.stderr.contains("mimalloc:"),
            "unexpected output:\n{}",
            c.stderr
        );
    }
}

#[test]
fn set_enable_disable_and_is_enabled() {
    let _g = lock();
    let o = DEPRECATED_SEGMENT_CACHE;
    let saved = mi_option_get(o);
    mi_option_enable(o);
    assert_eq!(mi_option_get(o), 1);
    assert!(mi_option_is_enabled(o));
    mi_option_disable(o);
    assert_eq!(mi_option_get(o), 0);
    assert!(!mi_option_is_enabled(o));
    mi_option_set_enabled(o, true);
    assert_eq!(mi_option_get(o), 1);
    mi_option_set_enabled(o, false);
    assert_eq!(mi_option_get(o), 0);
    mi_option_set(o, -42);
    assert_eq!(mi_option_get(o), -42);
    assert!(mi_option_is_enabled(o), "any non-zero value is enabled");
    mi_option_set(o, c_long::MAX);
    assert_eq!(mi_option_get(o), c_long::MAX);
    mi_option_set(o, c_long::MIN);
    assert_eq!(mi_option_get(o), c_long::MIN);
    // After an explicit set, defaults no longer apply.
    mi_option_set(o, 3);
    mi_option_set_default(o, 9);
    assert_eq!(mi_option_get(o), 3);
    mi_option_set_enabled_default(o, false);
    assert_eq!(mi_option_get(o), 3);
    mi_option_set(o, saved);
}

#[test]
fn get_clamp_and_get_size() {
    let _g = lock();
    let o = DEPRECATED_SEGMENT_RESET;
    let saved = mi_option_get(o);
    mi_option_set(o, 500);
    assert_eq!(mi_option_get_clamp(o, 0, 100), 100);
    assert_eq!(mi_option_get_clamp(o, 600, 700), 600);
    assert_eq!(mi_option_get_clamp(o, 0, 1000), 500);
    assert_eq!(mi_option_get_clamp(o, 500, 500), 500);
    mi_option_set(o, -20);
    assert_eq!(mi_option_get_clamp(o, -10, 10), -10);
    assert_eq!(mi_option_get_clamp(o, -100, 10), -20);
    // get_size of a plain option: the raw value, negative as 0.
    assert_eq!(mi_option_get_size(o), 0);
    mi_option_set(o, 4097);
    assert_eq!(mi_option_get_size(o), 4097);
    mi_option_set(o, saved);

    // The two size options are stored in KiB; get_size converts to bytes. (Setting
    // reserve_os_memory late has no effect: it is only read at process start.)
    let saved = mi_option_get(RESERVE_OS_MEMORY);
    mi_option_set(RESERVE_OS_MEMORY, 3);
    assert_eq!(mi_option_get_size(RESERVE_OS_MEMORY), 3072);
    mi_option_set(RESERVE_OS_MEMORY, 64 * 1024);
    assert_eq!(mi_option_get_size(RESERVE_OS_MEMORY), 64 * MIB);
    mi_option_set(RESERVE_OS_MEMORY, -1);
    assert_eq!(mi_option_get_size(RESERVE_OS_MEMORY), 0);
    mi_option_set(RESERVE_OS_MEMORY, saved);
    if std::env::var_os("MIMALLOC_ARENA_RESERVE").is_none() {
        assert_eq!(mi_option_get_size(ARENA_RESERVE), 1073741824);
    }
}

#[test]
fn child_api_md_examples() {
    if !in_child("child_api_md_examples") {
        return;
    }
    // api.md §9.4: set_default only applies while the option is not set.
    mi_option_set_default(PURGE_DELAY, 77);
    report("a", mi_option_get(PURGE_DELAY));
    mi_option_set(PURGE_DELAY, 5);
    mi_option_set_default(PURGE_DELAY, 99);
    report("b", mi_option_get(PURGE_DELAY));
    // set_enabled_default on an untouched option.
    mi_option_set_enabled_default(ABANDONED_PAGE_PURGE, true);
    report("c", mi_option_get(ABANDONED_PAGE_PURGE));
    // An environment value wins over set_default.
    mi_option_set_default(OS_TAG, 200);
    report("d", mi_option_get(OS_TAG));
    // An invalid environment value leaves the option defaulted: set_default applies.
    mi_option_set_default(MAX_SEGMENT_RECLAIM, 55);
    report("e", mi_option_get(MAX_SEGMENT_RECLAIM));
}

#[test]
fn set_default_follows_the_api_md_examples() {
    let c = run_child(
        "child_api_md_examples",
        &[
            ("MIMALLOC_OS_TAG", "150"),
            ("MIMALLOC_MAX_SEGMENT_RECLAIM", "lots"),
        ],
    );
    c.assert_ok();
    assert_eq!(
        c.num("a"),
        77,
        "set_default(purge_delay, 77) on a defaulted option"
    );
    assert_eq!(c.num("b"), 5, "set_default after set has no effect");
    assert_eq!(c.num("c"), 1);
    assert_eq!(c.num("d"), 150, "the environment wins over set_default");
    assert_eq!(
        c.num("e"),
        55,
        "an invalid environment value leaves the option defaulted"
    );
}

// ---------------------------------------------------------------------------------------
// The environment
// ---------------------------------------------------------------------------------------

#[test]
fn environment_verbose_lists_all_options() {
    let c = run_child("child_report_options", &[("MIMALLOC_VERBOSE", "1")]);
    c.assert_ok();
    assert_eq!(c.opt(VERBOSE), 1);
    for (_, name, default) in TABLE {
        let line = if name == "reserve_os_memory" || name == "arena_reserve" {
            format!("mimalloc: option '{name}': {default} KiB")
        } else {
            format!("mimalloc: option '{name}': {default} ")
        };
        let line = if name == "verbose" {
            "mimalloc: option 'verbose': 1 ".to_string()
        } else {
            line
        };
        assert!(
            c.stderr.lines().any(|l| l == line),
            "verbose start-up listing lacks {line:?}:\n{}",
            c.stderr
        );
    }
}

#[test]
fn environment_numbers_and_booleans() {
    let c = run_child(
        "child_report_options",
        &[
            ("MIMALLOC_PURGE_DELAY", "250"),
            ("MIMALLOC_EAGER_COMMIT_DELAY", "-3"),
            ("MIMALLOC_USE_NUMA_NODES", "+4"),
            ("MIMALLOC_MAX_WARNINGS", "  12"),
            ("MIMALLOC_EAGER_COMMIT", "off"),
            ("MIMALLOC_ABANDONED_PAGE_PURGE", "TRUE"),
            ("MIMALLOC_DEPRECATED_PAGE_RESET", "yes"),
            ("MIMALLOC_DEPRECATED_SEGMENT_CACHE", ""),
            ("MIMALLOC_ABANDONED_RECLAIM_ON_FREE", "false"),
            ("MIMALLOC_PURGE_DECOMMITS", "no"),
            ("MIMALLOC_DESTROY_ON_EXIT", "0"),
            ("MIMALLOC_DEPRECATED_SEGMENT_RESET", "On"),
            ("MIMALLOC_ARENA_PURGE_MULT", "e"),
        ],
    );
    c.assert_ok();
    assert_eq!(c.opt(PURGE_DELAY), 250);
    assert_eq!(
        c.opt(EAGER_COMMIT_DELAY),
        -3,
        "negative numbers are accepted"
    );
    assert_eq!(c.opt(USE_NUMA_NODES), 4);
    assert_eq!(c.opt(MAX_WARNINGS), 12);
    assert_eq!(c.opt(EAGER_COMMIT), 0, "off");
    assert_eq!(c.opt(ABANDONED_PAGE_PURGE), 1, "TRUE");
    assert_eq!(c.opt(DEPRECATED_PAGE_RESET), 1, "yes");
    assert_eq!(c.opt(DEPRECATED_SEGMENT_CACHE), 1, "an empty value means 1");
    assert_eq!(c.opt(ABANDONED_RECLAIM_ON_FREE), 0, "false");
    assert_eq!(c.opt(PURGE_DECOMMITS), 0, "no");
    assert_eq!(c.opt(DESTROY_ON_EXIT), 0);
    assert_eq!(c.opt(DEPRECATED_SEGMENT_RESET), 1, "On (case-insensitive)");
    assert_eq!(
        c.opt(ARENA_PURGE_MULT),
        1,
        "'e' is a substring of \"1;TRUE;YES;ON\""
    );
    // Untouched options keep their defaults.
    assert_eq!(c.opt(OS_TAG), 100);
    assert_eq!(c.opt(RETRY_ON_OOM), 400);
}

#[test]
fn environment_names_are_case_insensitive() {
    let c = run_child(
        "child_report_options",
        &[
            ("mimalloc_purge_delay", "33"),
            ("MiMalloc_Max_Errors", "7"),
            ("MIMALLOC_os_TAG", "222"),
        ],
    );
    c.assert_ok();
    assert_eq!(c.opt(PURGE_DELAY), 33);
    assert_eq!(c.opt(MAX_ERRORS), 7);
    assert_eq!(c.opt(OS_TAG), 222);
}

#[test]
fn environment_sizes_with_units() {
    // (reserve_os_memory, its KiB) and (arena_reserve, its KiB) per run.
    let cases: [(&str, i64, &str, i64); 6] = [
        ("64M", 65536, "1g", 1048576),
        ("64MiB", 65536, "1GiB", 1048576),
        ("64mb", 65536, "2T", 2 * 1024 * 1024 * 1024),
        ("65536k", 65536, "100000", 98),
        ("64m", 65536, "4096B", 4),
        ("32MIB", 32768, "-5M", 0),
    ];
    for (reserve, reserve_kib, arena, arena_kib) in cases {
        let c = run_child(
            "child_report_options",
            &[
                ("MIMALLOC_RESERVE_OS_MEMORY", reserve),
                ("MIMALLOC_ARENA_RESERVE", arena),
            ],
        );
        c.assert_ok();
        assert_eq!(
            c.opt(RESERVE_OS_MEMORY),
            reserve_kib,
            "MIMALLOC_RESERVE_OS_MEMORY={reserve}"
        );
        assert_eq!(c.num("size9"), reserve_kib * 1024, "get_size for {reserve}");
        assert_eq!(
            c.opt(ARENA_RESERVE),
            arena_kib,
            "MIMALLOC_ARENA_RESERVE={arena}"
        );
        assert_eq!(c.num("size23"), arena_kib * 1024, "get_size for {arena}");
        assert!(!c.stderr.contains("invalid value"), "{}", c.stderr);
    }
    // A size unit on a plain option is garbage.
    let c = run_child(
        "child_report_options",
        &[
            ("MIMALLOC_PURGE_DELAY", "64M"),
            ("MIMALLOC_SHOW_ERRORS", "1"),
        ],
    );
    c.assert_ok();
    assert_eq!(c.opt(PURGE_DELAY), 10);
    assert!(c
        .stderr
        .contains("environment option mimalloc_purge_delay has an invalid value."));
}

#[test]
fn environment_legacy_names() {
    let c = run_child(
        "child_report_options",
        &[
            ("MIMALLOC_SHOW_ERRORS", "1"),
            ("MIMALLOC_RESET_DELAY", "25"),
            ("MIMALLOC_EAGER_REGION_COMMIT", "0"),
            ("MIMALLOC_RESET_DECOMMITS", "0"),
            ("MIMALLOC_LARGE_OS_PAGES", "1"),
            ("MIMALLOC_ABANDONED_PAGE_RESET", "1"),
            ("MIMALLOC_LIMIT_OS_ALLOC", "1"),
            ("MIMALLOC_DECOMMIT_EXTEND_DELAY", "5"),
        ],
    );
    c.assert_ok();
    assert_eq!(
        c.opt(PURGE_DELAY),
        25,
        "MIMALLOC_RESET_DELAY sets purge_delay"
    );
    assert_eq!(c.opt(ARENA_EAGER_COMMIT), 0);
    assert_eq!(c.opt(PURGE_DECOMMITS), 0);
    assert_eq!(c.opt(ALLOW_LARGE_OS_PAGES), 1);
    assert_eq!(c.opt(ABANDONED_PAGE_PURGE), 1);
    assert_eq!(c.opt(DISALLOW_OS_ALLOC), 1);
    assert_eq!(c.opt(PURGE_EXTEND_DELAY), 5);
    for (legacy, name) in [
        ("reset_delay", "purge_delay"),
        ("eager_region_commit", "arena_eager_commit"),
        ("reset_decommits", "purge_decommits"),
        ("large_os_pages", "allow_large_os_pages"),
        ("abandoned_page_reset", "abandoned_page_purge"),
        ("limit_os_alloc", "disallow_os_alloc"),
        ("decommit_extend_delay", "purge_extend_delay"),
    ] {
        let w = format!(
            "mimalloc: warning: environment option \"mimalloc_{legacy}\" is deprecated -- use \"mimalloc_{name}\" instead."
        );
        assert_eq!(
            c.stderr_count(&w),
            1,
            "expected the deprecation warning {w:?} once in:\n{}",
            c.stderr
        );
    }
}

#[test]
fn environment_primary_name_wins_over_legacy_name() {
    let c = run_child(
        "child_report_options",
        &[
            ("MIMALLOC_SHOW_ERRORS", "1"),
            ("MIMALLOC_PURGE_DELAY", "7"),
            ("MIMALLOC_RESET_DELAY", "25"),
        ],
    );
    c.assert_ok();
    assert_eq!(c.opt(PURGE_DELAY), 7);
    assert!(
        !c.stderr.contains("deprecated"),
        "no warning when the primary name is set:\n{}",
        c.stderr
    );
}

#[test]
fn environment_invalid_values_keep_the_default_with_a_warning() {
    let c = run_child(
        "child_report_options",
        &[
            ("MIMALLOC_SHOW_ERRORS", "1"),
            ("MIMALLOC_PURGE_DELAY", "abc"),
            ("MIMALLOC_MAX_SEGMENT_RECLAIM", "10ms"),
            ("MIMALLOC_ARENA_RESERVE", "10X"),
            ("MIMALLOC_OS_TAG", "0x10"),
        ],
    );
    c.assert_ok();
    assert_eq!(c.opt(PURGE_DELAY), 10);
    assert_eq!(c.opt(MAX_SEGMENT_RECLAIM), 10);
    assert_eq!(c.opt(ARENA_RESERVE), 1024 * 1024);
    assert_eq!(c.opt(OS_TAG), 100);
    for name in [
        "purge_delay",
        "max_segment_reclaim",
        "arena_reserve",
        "os_tag",
    ] {
        let w =
            format!("mimalloc: warning: environment option mimalloc_{name} has an invalid value.");
        assert_eq!(c.stderr_count(&w), 1, "expected {w:?} in:\n{}", c.stderr);
    }
    // Without show_errors the warnings are silent (release builds) ...
    if SHOW_ERRORS_DEFAULT == 0 {
        let c = run_child("child_report_options", &[("MIMALLOC_PURGE_DELAY", "abc")]);
        c.assert_ok();
        assert_eq!(c.opt(PURGE_DELAY), 10);
        assert!(!c.stderr.contains("invalid value"), "{}", c.stderr);
    }
    // ... except for a bad `verbose`, whose warning is always forced out.
    let c = run_child("child_report_options", &[("MIMALLOC_VERBOSE", "loud")]);
    c.assert_ok();
    assert_eq!(c.opt(VERBOSE), 0);
    assert_eq!(
        c.stderr_count(
            "mimalloc: warning: environment option mimalloc_verbose has an invalid value."
        ),
        1,
        "{}",
        c.stderr
    );
    assert!(
        !c.stderr.contains("option 'purge_delay'"),
        "verbose must stay off:\n{}",
        c.stderr
    );
}

// ---------------------------------------------------------------------------------------
// Effects
// ---------------------------------------------------------------------------------------

/// Allocate an 8 MiB (large, in a segment) and a 40 MiB (huge) block, touch them, free
/// them, and report the RSS drop right after the free, after `mi_collect(true)` and after
/// waiting 300 ms and collecting.
#[test]
fn child_purge() {
    if !in_child("child_purge") {
        return;
    }
    unsafe {
        // Warm up: the first segment and arena exist before measuring.
        let w = mi_malloc(100);
        for (tag, size) in [("large", 8 * MIB), ("huge", 40 * MIB)] {
            let p = mi_malloc(size) as *mut u8;
            assert!(!p.is_null());
            for i in (0..size).step_by(4096) {
                *p.add(i) = 1;
            }
            let r0 = rss();
            mi_free(p as *mut c_void);
            let r1 = rss();
            report(&format!("{tag}_free"), r0 as i64 - r1 as i64);
            mi_collect(true);
            let r2 = rss();
            report(&format!("{tag}_collect"), r0 as i64 - r2 as i64);
            std::thread::sleep(std::time::Duration::from_millis(300));
            mi_collect(false);
            let r3 = rss();
            report(&format!("{tag}_later"), r0 as i64 - r3 as i64);
            // The memory is still usable.
            let q = mi_malloc(size) as *mut u8;
            assert!(!q.is_null());
            *q.add(size - 1) = 2;
            mi_free(q as *mut c_void);
            mi_collect(true);
        }
        mi_free(w);
    }
}

#[test]
fn purge_delay_zero_releases_memory_at_once() {
    let c = run_child("child_purge", &[("MIMALLOC_PURGE_DELAY", "0")]);
    c.assert_ok();
    for tag in ["large", "huge"] {
        let drop = c.num(&format!("{tag}_free"));
        assert!(
            drop >= 6 * MIB as i64,
            "purge_delay=0: the RSS fell by only {} KiB right after freeing the {tag} block",
            drop / 1024
        );
    }
}

#[test]
fn purge_delay_negative_never_releases_memory() {
    let c = run_child("child_purge", &[("MIMALLOC_PURGE_DELAY", "-1")]);
    c.assert_ok();
    // The huge block's segment is returned to the OS or an arena; only the large block
    // (in a segment that stays) is guaranteed to stay resident.
    for key in ["large_free", "large_collect", "large_later"] {
        let drop = c.num(key);
        assert!(
            drop < MIB as i64,
            "purge_delay=-1: the RSS fell by {} KiB ({key}) although purging is off",
            drop / 1024
        );
    }
}

#[test]
fn purge_delay_default_releases_memory_later() {
    let c = run_child("child_purge", &[]);
    c.assert_ok();
    let now = c.num("large_free");
    let later = c.num("large_later");
    assert!(
        now < MIB as i64,
        "purge_delay=10: the RSS fell by {} KiB at once",
        now / 1024
    );
    assert!(
        later >= 6 * MIB as i64 || c.num("large_collect") >= 6 * MIB as i64,
        "purge_delay=10: the RSS never fell (now {} KiB, after collect {} KiB, later {} KiB)",
        now / 1024,
        c.num("large_collect") / 1024,
        later / 1024
    );
}

/// Allocate 1 MiB blocks until failure (at most 300) and report what happened.
#[test]
fn child_exhaust() {
    if !in_child("child_exhaust") {
        return;
    }
    unsafe {
        report("arena1", arena_size(1));
        let mut blocks = Vec::new();
        let mut err = 0;
        for _ in 0..300 {
            set_errno(0);
            let p = mi_malloc(MIB - 64); // (padding builds must not round it up)
            if p.is_null() {
                err = errno();
                break;
            }
            *(p as *mut u8) = 1;
            blocks.push(p);
        }
        report("count", blocks.len());
        report("errno", err);
        let start = mi_arena_area(1, std::ptr::null_mut()) as usize;
        let size = arena_size(1);
        let outside = blocks
            .iter()
            .filter(|&&p| (p as usize) < start || (p as usize) >= start + size)
            .count();
        report("outside", outside);
        report("arena2", arena_size(2));
        set_errno(0);
        let big = mi_malloc(100 * MIB);
        report("big", big.is_null() as i32);
        report("big_errno", errno());
        set_errno(0);
        let aligned = mi_malloc_aligned(1000, 64 * MIB);
        report("aligned", aligned.is_null() as i32);
        report("aligned_errno", errno());
        // After freeing, the arena serves again.
        for p in blocks {
            mi_free(p);
        }
        mi_collect(true);
        let again = mi_malloc(MIB);
        report("again", (!again.is_null()) as i32);
        mi_free(again);
    }
}

#[test]
fn disallow_os_alloc_with_a_reserved_arena_fails_cleanly_beyond_it() {
    let c = run_child(
        "child_exhaust",
        &[
            ("MIMALLOC_DISALLOW_OS_ALLOC", "1"),
            ("MIMALLOC_RESERVE_OS_MEMORY", "64MiB"),
        ],
    );
    c.assert_ok();
    assert_eq!(c.num("arena1"), 64 * MIB as i64, "the reserved arena");
    let count = c.num("count");
    assert!(
        count < 300,
        "disallow_os_alloc: {count} MiB allocated beyond a 64 MiB arena (a new arena of {} bytes was reserved from the OS)",
        c.num("arena2")
    );
    assert!(count >= 32, "only {count} MiB fit in the 64 MiB arena");
    assert_eq!(c.num("errno"), libc::ENOMEM as i64);
    assert_eq!(c.num("outside"), 0, "blocks outside the reserved arena");
    assert_eq!(c.num("arena2"), 0, "no further arena may be reserved");
    assert_eq!((c.num("big"), c.num("big_errno")), (1, libc::ENOMEM as i64));
    assert_eq!(
        (c.num("aligned"), c.num("aligned_errno")),
        (1, libc::ENOMEM as i64)
    );
    assert_eq!(c.num("again"), 1);
}

#[test]
fn disallow_os_alloc_without_automatic_arenas_fails_cleanly() {
    let c = run_child(
        "child_exhaust",
        &[
            ("MIMALLOC_DISALLOW_OS_ALLOC", "1"),
            ("MIMALLOC_RESERVE_OS_MEMORY", "64MiB"),
            ("MIMALLOC_ARENA_RESERVE", "0"),
        ],
    );
    c.assert_ok();
    let count = c.num("count");
    assert!((32..300).contains(&count), "count {count}");
    assert_eq!(c.num("errno"), libc::ENOMEM as i64);
    assert_eq!(c.num("outside"), 0);
    assert_eq!(c.num("arena2"), 0);
    assert_eq!((c.num("big"), c.num("big_errno")), (1, libc::ENOMEM as i64));
    assert_eq!(
        (c.num("aligned"), c.num("aligned_errno")),
        (1, libc::ENOMEM as i64)
    );
    assert_eq!(c.num("again"), 1);
}

#[test]
fn child_first_allocation() {
    if !in_child("child_first_allocation") {
        return;
    }
    unsafe {
        report("before1", arena_size(1));
        let p = mi_malloc(100);
        assert!(!p.is_null());
        report("arena1", arena_size(1));
        report("arena2", arena_size(2));
        let mut commit = 0usize;
        mi_process_info(
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut commit,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        report("commit", commit);
        // explicit commit calls (mprotect of reserved memory to read-write)
        report(
            "commit_calls",
            mimalloc::Stats::read().commit_calls as usize,
        );
        let start = mi_arena_area(1, std::ptr::null_mut()) as usize;
        report(
            "in_arena1",
            (start != 0 && (p as usize) >= start && (p as usize) < start + arena_size(1)) as i32,
        );
        mi_free(p);
    }
}

#[test]
fn arena_reserve_sets_the_size_of_the_automatic_arena() {
    for (value, expect) in [
        (None, GIB),
        (Some("64MiB"), 64 * MIB),
        (Some("100M"), 128 * MIB),
        (Some("256m"), 256 * MIB),
    ] {
        let env: Vec<(&str, &str)> = value
            .map(|v| ("MIMALLOC_ARENA_RESERVE", v))
            .into_iter()
            .collect();
        let c = run_child("child_first_allocation", &env);
        c.assert_ok();
        assert_eq!(c.num("before1"), 0, "no arena before the first allocation");
        assert_eq!(c.num("arena1") as usize, expect, "arena_reserve={value:?}");
        assert_eq!(
            c.num("in_arena1"),
            1,
            "the first block comes from the automatic arena"
        );
    }
    // 0 disables automatic arenas; allocation still works.
    let c = run_child("child_first_allocation", &[("MIMALLOC_ARENA_RESERVE", "0")]);
    c.assert_ok();
    assert_eq!(c.num("arena1"), 0);
}

#[test]
fn reserve_os_memory_reserves_an_arena_at_start() {
    let c = run_child(
        "child_first_allocation",
        &[("MIMALLOC_RESERVE_OS_MEMORY", "64MiB")],
    );
    c.assert_ok();
    assert_eq!(
        c.num("before1") as usize,
        64 * MIB,
        "reserved at process start"
    );
    assert_eq!(
        c.num("in_arena1"),
        1,
        "the first block comes from the reserved arena"
    );
    assert_eq!(
        c.num("arena2"),
        0,
        "no automatic arena while the reserved one has room"
    );
}

#[test]
fn disallow_arena_alloc_maps_segments_directly() {
    let c = run_child(
        "child_first_allocation",
        &[("MIMALLOC_DISALLOW_ARENA_ALLOC", "1")],
    );
    c.assert_ok();
    assert_eq!(
        c.num("arena1"),
        0,
        "no automatic arena with disallow_arena_alloc"
    );
}

#[test]
fn arena_eager_commit_decides_whether_the_automatic_arena_is_committed() {
    let eager = run_child(
        "child_first_allocation",
        &[("MIMALLOC_ARENA_EAGER_COMMIT", "1")],
    );
    eager.assert_ok();
    let lazy = run_child(
        "child_first_allocation",
        &[("MIMALLOC_ARENA_EAGER_COMMIT", "0")],
    );
    lazy.assert_ok();
    // An eagerly committed arena is mapped read-write up front: no commit call later. A
    // lazy one is reserved inaccessible, and the block of the first segment is committed
    // when it is claimed.
    assert_eq!(
        eager.num("commit_calls"),
        0,
        "arena_eager_commit=1 commits up front"
    );
    assert!(
        lazy.num("commit_calls") >= 1,
        "arena_eager_commit=0: the first segment's block is committed on demand"
    );
    // Either way the committed statistic counts what is used (doc/stats.md), not the
    // 1 GiB arena: one small allocation commits a segment header and a page.
    for run in [&eager, &lazy] {
        assert!(
            (run.num("commit") as usize) < 4 * MIB,
            "{} KiB committed after one small allocation",
            run.num("commit") / KIB as i64
        );
    }
}

#[test]
fn child_errors() {
    if !in_child("child_errors") {
        return;
    }
    unsafe {
        for _ in 0..3 {
            // api.md §0: reports EOVERFLOW, EOVERFLOW, ENOMEM.
            assert!(mi_malloc(usize::MAX / 2).is_null());
        }
        for _ in 0..5 {
            let mut n = 0usize;
            let _ = mi_reserve_huge_os_pages(0, 0.0, &mut n); // deprecation warning
        }
    }
}

#[test]
fn show_errors_prints_errors_and_warnings() {
    let c = run_child("child_errors", &[("MIMALLOC_SHOW_ERRORS", "1")]);
    c.assert_ok();
    assert_eq!(
        c.stderr_count("mimalloc: error: |allocation request is too large"),
        6,
        "{}",
        c.stderr
    );
    assert_eq!(
        c.stderr_count("mimalloc: error: |unable to allocate memory"),
        3,
        "{}",
        c.stderr
    );
    assert_eq!(
        c.stderr_count("mimalloc: warning: |mi_reserve_huge_os_pages is deprecated: use mi_reserve_huge_os_pages_interleave/at instead"),
        5,
        "{}",
        c.stderr
    );
    let c = run_child("child_errors", &[("MIMALLOC_SHOW_ERRORS", "0")]);
    c.assert_ok();
    assert!(
        !c.stderr.contains("mimalloc:"),
        "show_errors=0 printed:\n{}",
        c.stderr
    );
}

#[test]
fn max_errors_and_max_warnings_limit_the_messages() {
    // C counts before incrementing: at most `max + 1` messages of each kind appear.
    let c = run_child(
        "child_errors",
        &[
            ("MIMALLOC_SHOW_ERRORS", "1"),
            ("MIMALLOC_MAX_ERRORS", "2"),
            ("MIMALLOC_MAX_WARNINGS", "1"),
        ],
    );
    c.assert_ok();
    let errors = c.stderr_count("mimalloc: error:");
    let warnings = c.stderr_count("mimalloc: warning:");
    assert!(
        (2..=3).contains(&errors),
        "max_errors=2 printed {errors} of 9 errors:\n{}",
        c.stderr
    );
    assert!(
        (1..=2).contains(&warnings),
        "max_warnings=1 printed {warnings} of 5 warnings:\n{}",
        c.stderr
    );
    // Negative: unlimited.
    let c = run_child(
        "child_errors",
        &[("MIMALLOC_SHOW_ERRORS", "1"), ("MIMALLOC_MAX_ERRORS", "-1")],
    );
    c.assert_ok();
    assert_eq!(c.stderr_count("mimalloc: error:"), 9);
    // verbose: unlimited as well.
    let c = run_child(
        "child_errors",
        &[("MIMALLOC_VERBOSE", "1"), ("MIMALLOC_MAX_ERRORS", "2")],
    );
    c.assert_ok();
    assert_eq!(
        c.stderr_count("mimalloc: error:"),
        9,
        "verbose lifts max_errors"
    );
}

#[test]
fn child_reclaim_on_free() {
    if !in_child("child_reclaim_on_free") {
        return;
    }
    unsafe {
        let mine = mi_malloc(64);
        assert!(!mine.is_null());
        let blocks: Vec<usize> =
            std::thread::spawn(|| (0..200).map(|_| mi_malloc(64) as usize).collect())
                .join()
                .unwrap();
        // The thread is gone: its segment is abandoned. Free one block here.
        let backing = mi_heap_get_backing();
        report(
            "before",
            mi_heap_contains_block(backing, blocks[1] as *const c_void) as i32,
        );
        mi_free(blocks[0] as *mut c_void);
        report(
            "after",
            mi_heap_contains_block(backing, blocks[1] as *const c_void) as i32,
        );
        for &p in &blocks[1..] {
            mi_free(p as *mut c_void);
        }
        mi_free(mine);
    }
}

#[test]
fn abandoned_reclaim_on_free_takes_over_abandoned_segments() {
    let on = run_child("child_reclaim_on_free", &[]);
    on.assert_ok();
    assert_eq!(on.num("before"), 0);
    assert_eq!(
        on.num("after"),
        1,
        "with abandoned_reclaim_on_free=1 the freeing thread reclaims the segment"
    );
    let off = run_child(
        "child_reclaim_on_free",
        &[("MIMALLOC_ABANDONED_RECLAIM_ON_FREE", "0")],
    );
    off.assert_ok();
    assert_eq!(
        off.num("after"),
        0,
        "with abandoned_reclaim_on_free=0 the segment stays abandoned"
    );
}

#[test]
fn child_leave_blocks_alive() {
    if !in_child("child_leave_blocks_alive") {
        return;
    }
    unsafe {
        for i in 0..1000usize {
            let p = mi_malloc(16 + i * 7);
            *(p as *mut u8) = 1;
        }
        let _ = mi_malloc(20 * MIB);
        let h = mi_heap_new();
        let _ = mi_heap_malloc(h, 5000);
        let t = std::thread::spawn(|| {
            let _ = mi_malloc(300);
        });
        t.join().unwrap();
        report("done", 1);
    }
}

#[test]
fn destroy_on_exit_does_not_crash() {
    let c = run_child(
        "child_leave_blocks_alive",
        &[("MIMALLOC_DESTROY_ON_EXIT", "1")],
    );
    c.assert_ok();
    assert_eq!(c.num("done"), 1);
    assert!(!c.stderr.contains("mimalloc: error"), "{}", c.stderr);
    let c = run_child(
        "child_leave_blocks_alive",
        &[
            ("MIMALLOC_DESTROY_ON_EXIT", "1"),
            ("MIMALLOC_SHOW_STATS", "1"),
            ("MIMALLOC_SHOW_ERRORS", "1"),
        ],
    );
    c.assert_ok();
    assert!(!c.stderr.contains("mimalloc: error"), "{}", c.stderr);
}

#[test]
fn show_stats_prints_statistics_at_exit() {
    let c = run_child("child_leave_blocks_alive", &[("MIMALLOC_SHOW_STATS", "1")]);
    c.assert_ok();
    assert!(c.stderr.contains("heap stats:"), "{}", c.stderr);
    assert!(
        c.stderr
            .lines()
            .any(|l| l.starts_with("   process: user: ")),
        "{}",
        c.stderr
    );
    let c = run_child("child_leave_blocks_alive", &[]);
    c.assert_ok();
    assert!(
        !c.stderr.contains("heap stats:"),
        "statistics printed without show_stats"
    );
}

static STATS_TEXT: Mutex<String> = Mutex::new(String::new());
unsafe extern "C" fn collect_text(msg: *const c_char, _arg: *mut c_void) {
    STATS_TEXT
        .lock()
        .unwrap()
        .push_str(&CStr::from_ptr(msg).to_string_lossy());
}

#[test]
fn child_numa_nodes() {
    if !in_child("child_numa_nodes") {
        return;
    }
    mi_stats_print_out(Some(collect_text), std::ptr::null_mut());
    let text = STATS_TEXT.lock().unwrap().clone();
    let line = text
        .lines()
        .find(|l| l.starts_with("numa nodes:"))
        .unwrap_or("");
    report("numa", line.trim_start_matches("numa nodes:").trim());
}

#[test]
fn use_numa_nodes_sets_the_node_count() {
    let c = run_child("child_numa_nodes", &[("MIMALLOC_USE_NUMA_NODES", "3")]);
    c.assert_ok();
    assert_eq!(c.num("numa"), 3);
    // Detected: the nodes in /sys (at least 1).
    let detected = std::fs::read_dir("/sys/devices/system/node")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with("node") && n[4..].parse::<u32>().is_ok()
                })
                .count()
        })
        .unwrap_or(0)
        .max(1);
    let c = run_child("child_numa_nodes", &[]);
    c.assert_ok();
    assert_eq!(c.num("numa") as usize, detected);
}

#[test]
fn reserve_huge_os_pages_at_start_succeeds_or_warns() {
    let c = run_child(
        "child_first_allocation",
        &[
            ("MIMALLOC_RESERVE_HUGE_OS_PAGES", "1"),
            ("MIMALLOC_SHOW_ERRORS", "1"),
        ],
    );
    c.assert_ok();
    let reserved = c.num("before1") as usize == GIB;
    assert!(
        reserved || c.stderr.contains("failed to reserve 1 GiB huge pages"),
        "neither a 1 GiB arena nor a warning:\n{}",
        c.stderr
    );
}
