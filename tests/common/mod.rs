//! Helpers shared by the integration tests: running one helper test of the same binary
//! in a child process, with a clean `MIMALLOC_*` environment, for state that is read
//! only at start-up (options) or is process-wide (hooks, statistics).
#![allow(dead_code)]

use std::process::{Command, Output};

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * KIB;
pub const GIB: usize = 1024 * MIB;

/// `MI_PADDING` is on: debug, secure level 3 or more, Valgrind/ASAN tracking or explicit
/// padding, unless `no_padding` forces it off.
pub const PADDING: bool = (cfg!(feature = "debug")
    || cfg!(any(feature = "secure", feature = "secure3"))
    || cfg!(feature = "padding")
    || cfg!(feature = "track_valgrind")
    || cfg!(feature = "track_asan"))
    && !cfg!(feature = "no_padding");
/// The bytes of padding after every block.
pub const PAD: usize = if PADDING { 8 } else { 0 };

/// Set in a child to the name of the helper test it must run.
pub const CHILD_ENV: &str = "MI_TEST_CHILD";

/// Whether this process is the child that runs helper `name`.
pub fn in_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(name)
}

/// Run helper test `name` of this binary in a child process with no inherited
/// `MIMALLOC_*` variables plus `env`.
pub fn spawn_child(name: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"]);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy()
            .to_ascii_lowercase()
            .starts_with("mimalloc_")
        {
            cmd.env_remove(k);
        }
    }
    cmd.env(CHILD_ENV, name);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("cannot run the test binary")
}

/// As `spawn_child`, requiring that the helper passes. Returns (stdout, stderr).
pub fn run_child_ok(name: &str, env: &[(&str, &str)]) -> (String, String) {
    let out = spawn_child(name, env);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "child {name} failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// This thread's errno.
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

pub fn set_errno(e: i32) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = e }
}

/// Serialises the tests of one binary that touch process-wide state (arenas, options,
/// hooks, statistics); a test that panicked while holding it does not poison the rest.
static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
