//! The allocator's options: [`Opt`], read from `MIMALLOC_<NAME>` environment variables
//! or set from the program with [`set`].
//!
//! ```
//! use mimalloc::options::{self, Opt};
//!
//! if options::get(Opt::PurgeDelay) < 100 {
//!     options::set(Opt::PurgeDelay, 100);
//! }
//! ```
//!
//! (Inside: the option table with defaults, and the parsing of the environment.)
//! Every option has a value and a state in static atomics. An option is read from the
//! environment on its first `get` and once more by `output::start` (the library
//! constructor). The environment is scanned through `environ` directly, never `getenv`,
//! because options are needed before the C runtime is fully set up. While the library
//! is still "preloading" an option missing from the environment stays unread, so a later
//! `get` looks again.

use core::ffi::{c_char, c_long};

use crate::sync::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

/// The options of `mimalloc.h` (`mi_option_t`, with the same numbering). Each is
/// read once from the environment variable `MIMALLOC_<NAME>` (for example
/// `MIMALLOC_PURGE_DELAY=100`) unless set from the program first; see
/// `doc/options.md` for what each does.
///
/// ```
/// use mimalloc::options::{self, Opt};
///
/// options::set(Opt::PurgeDelay, 50);
/// assert_eq!(options::get(Opt::PurgeDelay), 50);
/// assert_eq!(Opt::PurgeDelay.name(), "purge_delay");
/// ```
#[repr(i32)]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum Opt {
    /// Print error messages (`MIMALLOC_SHOW_ERRORS`; on in debug builds).
    ShowErrors = 0,
    /// Print statistics at process exit (`MIMALLOC_SHOW_STATS`).
    ShowStats,
    /// Print verbose messages (`MIMALLOC_VERBOSE`; 2: also trace messages).
    Verbose,
    /// Commit segments eagerly (`MIMALLOC_EAGER_COMMIT`, default 1).
    EagerCommit,
    /// Commit arenas eagerly: 0 never, 1 always, 2 when the OS overcommits (default).
    ArenaEagerCommit,
    /// Purge by decommitting (`MADV_DONTNEED`, default 1) rather than resetting (`MADV_FREE`).
    PurgeDecommits,
    /// Use large (2 MiB) OS pages where possible (default 0).
    AllowLargeOsPages,
    /// Reserve this many 1 GiB huge pages at start-up, spread over the NUMA nodes.
    ReserveHugeOsPages,
    /// Reserve the huge pages on this NUMA node only (default -1: spread).
    ReserveHugeOsPagesAt,
    /// Reserve this much OS memory at start-up (KiB; `get_size` gives bytes).
    ReserveOsMemory,
    /// No effect (kept for the numbering).
    DeprecatedSegmentCache,
    /// No effect (kept for the numbering).
    DeprecatedPageReset,
    /// Purge the free memory of an exiting thread's segments at once (default 0).
    AbandonedPagePurge,
    /// No effect (kept for the numbering).
    DeprecatedSegmentReset,
    /// Number of a thread's first segments committed lazily (default 1).
    EagerCommitDelay,
    /// Milliseconds before freed memory is purged (default 10; 0 at once, -1 never).
    PurgeDelay,
    /// Number of NUMA nodes to assume (0: ask the OS).
    UseNumaNodes,
    /// Never map OS memory beyond the arenas (default 0).
    DisallowOsAlloc,
    /// The tag of mappings on macOS (no effect on Linux).
    OsTag,
    /// Print at most this many error messages (default 32).
    MaxErrors,
    /// Print at most this many warnings (default 32).
    MaxWarnings,
    /// Percentage of abandoned segments a thread visits when it needs memory (default 10).
    MaxSegmentReclaim,
    /// Release all memory at process exit, even with live blocks (default 0).
    DestroyOnExit,
    /// Size of each arena reserved on demand (KiB; default 1 GiB).
    ArenaReserve,
    /// Freed arena memory is purged after `PurgeDelay` times this (default 10).
    ArenaPurgeMult,
    /// Milliseconds each further free pushes a pending purge back (default 1).
    PurgeExtendDelay,
    /// A free into an abandoned segment takes the segment over (default 1).
    AbandonedReclaimOnFree,
    /// Never allocate from arenas (default 0).
    DisallowArenaAlloc,
    /// Milliseconds to wait and retry when the OS is out of memory (default 400; Windows only).
    RetryOnOom,
}

/// `_mi_option_last`.
pub(crate) const OPTION_LAST: i32 = 29;
const OPTION_COUNT: usize = OPTION_LAST as usize;

impl Opt {
    /// All options in numeric order.
    ///
    /// ```
    /// use mimalloc::options::{self, Opt};
    ///
    /// for o in Opt::ALL {
    ///     println!("MIMALLOC_{} = {}", o.name().to_uppercase(), options::get(o));
    /// }
    /// ```
    pub const ALL: [Opt; OPTION_COUNT] = [
        Opt::ShowErrors,
        Opt::ShowStats,
        Opt::Verbose,
        Opt::EagerCommit,
        Opt::ArenaEagerCommit,
        Opt::PurgeDecommits,
        Opt::AllowLargeOsPages,
        Opt::ReserveHugeOsPages,
        Opt::ReserveHugeOsPagesAt,
        Opt::ReserveOsMemory,
        Opt::DeprecatedSegmentCache,
        Opt::DeprecatedPageReset,
        Opt::AbandonedPagePurge,
        Opt::DeprecatedSegmentReset,
        Opt::EagerCommitDelay,
        Opt::PurgeDelay,
        Opt::UseNumaNodes,
        Opt::DisallowOsAlloc,
        Opt::OsTag,
        Opt::MaxErrors,
        Opt::MaxWarnings,
        Opt::MaxSegmentReclaim,
        Opt::DestroyOnExit,
        Opt::ArenaReserve,
        Opt::ArenaPurgeMult,
        Opt::PurgeExtendDelay,
        Opt::AbandonedReclaimOnFree,
        Opt::DisallowArenaAlloc,
        Opt::RetryOnOom,
    ];

    /// The option with C value `i`, if it is one.
    pub(crate) fn from_i32(i: i32) -> Option<Opt> {
        usize::try_from(i)
            .ok()
            .and_then(|i| Opt::ALL.get(i).copied())
    }

    /// The name used in the environment variable (lower case, without `mimalloc_`).
    ///
    /// ```
    /// assert_eq!(mimalloc::options::Opt::ShowStats.name(), "show_stats");
    /// ```
    pub fn name(self) -> &'static str {
        DESCRIPTIONS[self as usize].name
    }

    /// Size options are stored in KiB so that `long` does not overflow.
    /// The old name of the option, still read from the environment (with a warning).
    pub(crate) fn legacy_name(self) -> Option<&'static str> {
        DESCRIPTIONS[self as usize].legacy_name
    }

    pub(crate) fn has_size_in_kib(self) -> bool {
        matches!(self, Opt::ReserveOsMemory | Opt::ArenaReserve)
    }
}

struct Description {
    name: &'static str,
    legacy_name: Option<&'static str>,
    default: i64,
}

const fn desc(name: &'static str, default: i64) -> Description {
    Description {
        name,
        legacy_name: None,
        default,
    }
}

const fn desc_legacy(name: &'static str, legacy: &'static str, default: i64) -> Description {
    Description {
        name,
        legacy_name: Some(legacy),
        default,
    }
}

const SHOW_ERRORS_DEFAULT: i64 = if cfg!(any(feature = "debug", feature = "show_errors")) {
    1
} else {
    0
};
const EAGER_COMMIT_DELAY_DEFAULT: i64 = if cfg!(target_os = "netbsd") { 0 } else { 1 };
/// 1 GiB on 64-bit, 128 MiB on 32-bit (in KiB).
const ARENA_RESERVE_DEFAULT: i64 = if cfg!(target_pointer_width = "64") {
    1024 * 1024
} else {
    128 * 1024
};

/// Indexed by `Opt as usize`; the order is checked by a test.
const DESCRIPTIONS: [Description; OPTION_COUNT] = [
    desc("show_errors", SHOW_ERRORS_DEFAULT),
    desc("show_stats", 0),
    desc("verbose", 0),
    desc("eager_commit", 1),
    desc_legacy("arena_eager_commit", "eager_region_commit", 2),
    desc_legacy("purge_decommits", "reset_decommits", 1),
    desc_legacy("allow_large_os_pages", "large_os_pages", 0),
    desc("reserve_huge_os_pages", 0),
    desc("reserve_huge_os_pages_at", -1),
    desc("reserve_os_memory", 0),
    desc("deprecated_segment_cache", 0),
    desc("deprecated_page_reset", 0),
    desc_legacy("abandoned_page_purge", "abandoned_page_reset", 0),
    desc("deprecated_segment_reset", 0),
    desc("eager_commit_delay", EAGER_COMMIT_DELAY_DEFAULT),
    desc_legacy("purge_delay", "reset_delay", 10),
    desc("use_numa_nodes", 0),
    desc_legacy("disallow_os_alloc", "limit_os_alloc", 0),
    desc("os_tag", 100),
    desc("max_errors", 32),
    desc("max_warnings", 32),
    desc("max_segment_reclaim", 10),
    desc("destroy_on_exit", 0),
    desc("arena_reserve", ARENA_RESERVE_DEFAULT),
    desc("arena_purge_mult", 10),
    desc_legacy("purge_extend_delay", "decommit_extend_delay", 1),
    desc("abandoned_reclaim_on_free", 1),
    desc("disallow_arena_alloc", 0),
    desc("retry_on_oom", 400),
];

/// Not read yet (or not found while preloading).
const UNINIT: usize = 0;
/// Not in the environment (or invalid there): the default applies.
const DEFAULTED: usize = 1;
/// Set explicitly or from the environment; the default no longer applies.
const INITIALIZED: usize = 2;

static VALUES: [AtomicI64; OPTION_COUNT] = default_values();
static STATES: [AtomicUsize; OPTION_COUNT] = [const { AtomicUsize::new(UNINIT) }; OPTION_COUNT];

const fn default_values() -> [AtomicI64; OPTION_COUNT] {
    let mut values = [const { AtomicI64::new(0) }; OPTION_COUNT];
    let mut i = 0;
    while i < OPTION_COUNT {
        values[i] = AtomicI64::new(DESCRIPTIONS[i].default);
        i += 1;
    }
    values
}

// Options are plain configuration: each value and state is an independent word, and C
// mimalloc documents concurrent initialisation races as benign (a racing reader sees the
// default or the environment's value, both valid). Hence Relaxed throughout.

/// The current value of `o`, read from the environment on first use
/// (`mi_option_get`).
///
/// ```
/// use mimalloc::options::{self, Opt};
///
/// assert!(options::get(Opt::MaxErrors) >= 0);
/// ```
#[inline]
pub fn get(o: Opt) -> i64 {
    let i = o as usize;
    // Relaxed: see above.
    if STATES[i].load(Ordering::Relaxed) == UNINIT {
        init_from_env(o);
    }
    // Relaxed: see above.
    VALUES[i].load(Ordering::Relaxed)
}

/// Whether `o` is not zero (`mi_option_is_enabled`).
///
/// ```
/// use mimalloc::options::{self, Opt};
///
/// options::set_enabled(Opt::ShowErrors, true);
/// assert!(options::is_enabled(Opt::ShowErrors));
/// ```
#[inline]
pub fn is_enabled(o: Opt) -> bool {
    get(o) != 0
}

/// `mi_option_get_clamp`.
pub(crate) fn get_clamp(o: Opt, min: i64, max: i64) -> i64 {
    let x = get(o);
    if x < min {
        min
    } else if x > max {
        max
    } else {
        x
    }
}

/// The value of `o` as a size: the options kept in KiB (`ReserveOsMemory`,
/// `ArenaReserve`) in bytes, others as they are; negative values as 0
/// (`mi_option_get_size`).
///
/// ```
/// use mimalloc::options::{self, Opt};
///
/// options::set(Opt::ArenaReserve, 256 * 1024); // KiB
/// assert_eq!(options::get_size(Opt::ArenaReserve), 256 << 20);
/// ```
pub fn get_size(o: Opt) -> usize {
    let x = get(o).max(0) as u64;
    let bytes = if o.has_size_in_kib() {
        x.saturating_mul(1024)
    } else {
        x
    };
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// Set `o` to `v`; the value wins over the environment from now on
/// (`mi_option_set`). Most options are read when memory is first mapped or purged,
/// so set them early, before the first allocations they should affect.
///
/// ```
/// use mimalloc::options::{self, Opt};
///
/// options::set(Opt::PurgeDelay, 100); // purge unused memory after 100 ms
/// assert_eq!(options::get(Opt::PurgeDelay), 100);
/// ```
pub fn set(o: Opt, v: i64) {
    let i = o as usize;
    // Relaxed: see above.
    VALUES[i].store(v, Ordering::Relaxed);
    STATES[i].store(INITIALIZED, Ordering::Relaxed);
}

/// Set `o` to `v` unless it was set already or is given in the environment
/// (`mi_option_set_default`).
///
/// ```
/// use mimalloc::options::{self, Opt};
///
/// options::set(Opt::MaxWarnings, 5);
/// options::set_default(Opt::MaxWarnings, 7); // too late: it was set
/// assert_eq!(options::get(Opt::MaxWarnings), 5);
/// ```
pub fn set_default(o: Opt, v: i64) {
    let i = o as usize;
    // Relaxed: see above.
    if STATES[i].load(Ordering::Relaxed) != INITIALIZED {
        VALUES[i].store(v, Ordering::Relaxed);
    }
}

/// Set `o` to 1 or 0 (`mi_option_set_enabled`).
///
/// ```
/// use mimalloc::options::{self, Opt};
///
/// options::set_enabled(Opt::Verbose, false);
/// assert!(!options::is_enabled(Opt::Verbose));
/// ```
pub fn set_enabled(o: Opt, b: bool) {
    set(o, b as i64);
}

/// Set `o` to 1 or 0 unless it was set already or is given in the environment
/// (`mi_option_set_enabled_default`).
///
/// ```
/// use mimalloc::options::{self, Opt};
///
/// options::set_enabled_default(Opt::AbandonedReclaimOnFree, true);
/// ```
pub fn set_enabled_default(o: Opt, b: bool) {
    set_default(o, b as i64);
}

// ---------------------------------------------------------------------------------------
// Preloading.
// ---------------------------------------------------------------------------------------

/// True until the library constructor ran (and again from process exit on).
static PRELOADING: AtomicBool = AtomicBool::new(true);

pub(crate) fn is_preloading() -> bool {
    // Relaxed: a hint for how careful to be; set at start-up and exit only.
    PRELOADING.load(Ordering::Relaxed)
}

pub(crate) fn set_preloading(b: bool) {
    // Relaxed: see `is_preloading`.
    PRELOADING.store(b, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------
// The environment.
// ---------------------------------------------------------------------------------------

#[cfg(not(windows))]
extern "C" {
    static environ: *const *const c_char;
}

/// C mimalloc copies a value into a 65-byte buffer: at most 64 characters count.
const ENV_VALUE_MAX: usize = 64;
/// Entries of `environ` inspected at most.
const ENV_SCAN_MAX: usize = 10_000;
const ENV_PREFIX: &[u8] = b"mimalloc_";

/// The value of an environment variable, truncated to `ENV_VALUE_MAX` bytes.
struct EnvValue {
    bytes: [u8; ENV_VALUE_MAX],
    len: usize,
}

impl EnvValue {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Find `mimalloc_<option>` in `env`, comparing case-insensitively.
///
/// # Safety
/// `env` is null or points to a null-terminated array of NUL-terminated strings that
/// stays valid during the call.
#[cfg_attr(windows, allow(dead_code))]
unsafe fn find_in_env(env: *const *const c_char, option: &str) -> Option<EnvValue> {
    if env.is_null() {
        return None;
    }
    let name_len = ENV_PREFIX.len() + option.len();
    let name_byte = |j: usize| {
        if j < ENV_PREFIX.len() {
            ENV_PREFIX[j]
        } else {
            option.as_bytes()[j - ENV_PREFIX.len()]
        }
    };
    for i in 0..ENV_SCAN_MAX {
        // SAFETY: the array is null-terminated and we stop at the null entry.
        let entry = unsafe { *env.add(i) } as *const u8;
        if entry.is_null() {
            break;
        }
        let matches = (0..name_len).all(|j| {
            // SAFETY: `entry` is NUL-terminated and `all` stops at the first byte that
            // differs from the name, which a NUL always does (names contain none).
            unsafe { *entry.add(j) }.eq_ignore_ascii_case(&name_byte(j))
        });
        // SAFETY: all `name_len` bytes matched non-NUL name bytes, so the string goes on.
        if !matches || unsafe { *entry.add(name_len) } != b'=' {
            continue;
        }
        let mut value = EnvValue {
            bytes: [0; ENV_VALUE_MAX],
            len: 0,
        };
        // SAFETY: the string continues after '='; we stop at its NUL.
        let mut p = unsafe { entry.add(name_len + 1) };
        while value.len < ENV_VALUE_MAX {
            // SAFETY: `p` has not passed the terminating NUL.
            let c = unsafe { *p };
            if c == 0 {
                break;
            }
            value.bytes[value.len] = c;
            value.len += 1;
            // SAFETY: `c` was not the NUL, so the next byte is still in the string.
            p = unsafe { p.add(1) };
        }
        return Some(value);
    }
    None
}

/// Windows: `GetEnvironmentVariableA("MIMALLOC_<OPTION>")` (names compare without case).
#[cfg(windows)]
fn lookup_env(option: &str) -> Option<EnvValue> {
    let mut name = [0u8; 64];
    let len = ENV_PREFIX.len() + option.len();
    if len >= name.len() {
        return None;
    }
    name[..ENV_PREFIX.len()].copy_from_slice(ENV_PREFIX);
    name[ENV_PREFIX.len()..len].copy_from_slice(option.as_bytes());
    let mut value = EnvValue {
        bytes: [0; ENV_VALUE_MAX],
        len: 0,
    };
    value.len = crate::prim::getenv(&name[..=len], &mut value.bytes)?;
    Some(value)
}

#[cfg(not(windows))]
fn lookup_env(option: &str) -> Option<EnvValue> {
    // SAFETY: `environ` is the C runtime's environment: null or a null-terminated array
    // of C strings. (A concurrent `setenv` could replace it, as for C mimalloc.)
    unsafe { find_in_env(environ, option) }
}

#[cold]
#[inline(never)]
fn init_from_env(o: Opt) {
    let i = o as usize;
    let desc = &DESCRIPTIONS[i];
    let mut found = lookup_env(desc.name);
    if found.is_none() {
        if let Some(legacy) = desc.legacy_name {
            found = lookup_env(legacy);
            if found.is_some() {
                // Relaxed: a report for `output`, see `EnvProblems`.
                ENV_LEGACY_NAME.fetch_or(1 << i, Ordering::Relaxed);
            }
        }
    }
    let Some(raw) = found else {
        // While preloading stay unread, so the environment is consulted again later.
        if !is_preloading() {
            // Relaxed: see above.
            STATES[i].store(DEFAULTED, Ordering::Relaxed);
        }
        return;
    };
    match parse_value(raw.as_bytes(), o.has_size_in_kib()) {
        Some(v) => {
            // Relaxed: see above.
            VALUES[i].store(v, Ordering::Relaxed);
            STATES[i].store(INITIALIZED, Ordering::Relaxed);
        }
        None => {
            // Relaxed: see above.
            STATES[i].store(DEFAULTED, Ordering::Relaxed);
            // Relaxed: a report for `output`, see `EnvProblems`.
            ENV_INVALID.fetch_or(1 << i, Ordering::Relaxed);
        }
    }
}

/// What reading the environment found wrong: options given under their deprecated name
/// or with a value that does not parse (bit `o as usize` of each mask).
///
/// Options only record these: telling the user is `output`'s job, and `output` reads
/// options (whether `verbose` and `show_errors` are on), so options must not call it.
/// The library constructor reads every option and then reports what was recorded
/// (`output::start`), and every later message reports what is still pending first; an
/// option is read from the environment at most once after the constructor began, so
/// nothing is recorded after that report that a later message would not carry.
pub(crate) struct EnvProblems {
    /// Options found only under their legacy name.
    pub legacy_name: u64,
    /// Options whose environment value is invalid (they keep their default).
    pub invalid: u64,
}

const _: () = assert!(OPTION_COUNT <= 64, "one bit per option in EnvProblems");

static ENV_LEGACY_NAME: AtomicU64 = AtomicU64::new(0);
static ENV_INVALID: AtomicU64 = AtomicU64::new(0);

/// Take the problems recorded so far (each is reported once).
pub(crate) fn take_env_problems() -> EnvProblems {
    // Relaxed: independent report bits; whoever swaps a bit out reports it.
    EnvProblems {
        legacy_name: ENV_LEGACY_NAME.swap(0, Ordering::Relaxed),
        invalid: ENV_INVALID.swap(0, Ordering::Relaxed),
    }
}

/// Whether any problem waits to be reported (one load on the message path).
#[inline]
pub(crate) fn has_env_problems() -> bool {
    // Relaxed: see `take_env_problems`.
    ENV_LEGACY_NAME.load(Ordering::Relaxed) | ENV_INVALID.load(Ordering::Relaxed) != 0
}

/// `MI_MAX_ALLOC_SIZE`: 64 KiB × (2^32 − 2) on 64-bit, `PTRDIFF_MAX` on 32-bit.
const MAX_ALLOC_SIZE: u64 = if cfg!(target_pointer_width = "64") {
    65536 * ((1u64 << 32) - 2)
} else {
    isize::MAX as u64
};

/// `LONG_MIN`/`LONG_MAX` of C (`long` is 32-bit on 32-bit targets).
#[allow(clippy::unnecessary_cast)]
const LONG_MIN: i64 = c_long::MIN as i64;
#[allow(clippy::unnecessary_cast)]
const LONG_MAX: i64 = c_long::MAX as i64;

/// Parse an environment value as C mimalloc does; `None` if it is invalid.
fn parse_value(raw: &[u8], size_in_kib: bool) -> Option<i64> {
    let mut upper = [0u8; ENV_VALUE_MAX];
    let len = raw.len().min(ENV_VALUE_MAX);
    for (u, r) in upper.iter_mut().zip(&raw[..len]) {
        *u = r.to_ascii_uppercase();
    }
    let text = &upper[..len];
    // Any substring of these lists counts ("", "on", "e", "f", ...).
    if text.is_empty() || contains(b"1;TRUE;YES;ON", text) {
        return Some(1);
    }
    if contains(b"0;FALSE;NO;OFF", text) {
        return Some(0);
    }
    let (number, mut end) = parse_long(text);
    let mut value = number;
    if size_in_kib {
        const KIB: u64 = 1024;
        let mut size = number.max(0) as u64;
        let mut overflow = false;
        let mut scale = |factor: u64| match size.checked_mul(factor) {
            Some(s) => size = s,
            None => overflow = true,
        };
        match text.get(end) {
            Some(b'K') => end += 1,
            Some(b'M') => {
                scale(KIB);
                end += 1;
            }
            Some(b'G') => {
                scale(KIB * KIB);
                end += 1;
            }
            Some(b'T') => {
                scale(KIB * KIB * KIB);
                end += 1;
            }
            _ => size = size.div_ceil(KIB), // plain bytes, rounded up to KiB
        }
        if text[end..].starts_with(b"IB") {
            end += 2;
        } else if text.get(end) == Some(&b'B') {
            end += 1;
        }
        // `size` is in KiB: cap the amount at MI_MAX_ALLOC_SIZE bytes.
        if overflow || size > MAX_ALLOC_SIZE / KIB {
            size = MAX_ALLOC_SIZE / KIB;
        }
        value = size.min(LONG_MAX as u64) as i64;
    }
    (end == text.len()).then_some(value)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() <= haystack.len() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// `strtol(text, &end, 10)`: the value (saturated to `long`) and the index where parsing
/// stopped; the index is 0 when there are no digits.
fn parse_long(text: &[u8]) -> (i64, usize) {
    let mut i = 0;
    while i < text.len() && matches!(text[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let negative = match text.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits_start = i;
    let mut magnitude: u64 = 0;
    while i < text.len() && text[i].is_ascii_digit() {
        magnitude = magnitude
            .saturating_mul(10)
            .saturating_add((text[i] - b'0') as u64);
        i += 1;
    }
    if i == digits_start {
        return (0, 0);
    }
    let signed = if negative {
        -(magnitude as i128)
    } else {
        magnitude as i128
    };
    let value = signed.clamp(LONG_MIN as i128, LONG_MAX as i128) as i64;
    (value, i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::vec::Vec;

    #[test]
    fn table_matches_the_enum() {
        let names = [
            "show_errors",
            "show_stats",
            "verbose",
            "eager_commit",
            "arena_eager_commit",
            "purge_decommits",
            "allow_large_os_pages",
            "reserve_huge_os_pages",
            "reserve_huge_os_pages_at",
            "reserve_os_memory",
            "deprecated_segment_cache",
            "deprecated_page_reset",
            "abandoned_page_purge",
            "deprecated_segment_reset",
            "eager_commit_delay",
            "purge_delay",
            "use_numa_nodes",
            "disallow_os_alloc",
            "os_tag",
            "max_errors",
            "max_warnings",
            "max_segment_reclaim",
            "destroy_on_exit",
            "arena_reserve",
            "arena_purge_mult",
            "purge_extend_delay",
            "abandoned_reclaim_on_free",
            "disallow_arena_alloc",
            "retry_on_oom",
        ];
        assert_eq!(names.len(), OPTION_LAST as usize);
        for (i, name) in names.iter().enumerate() {
            let o = Opt::from_i32(i as i32).unwrap();
            assert_eq!(o as usize, i);
            assert_eq!(o.name(), *name);
        }
        assert_eq!(Opt::from_i32(-1), None);
        assert_eq!(Opt::from_i32(OPTION_LAST), None);
        assert_eq!(Opt::RetryOnOom as i32, 28);
        assert_eq!(Opt::ArenaReserve as i32, 23);
    }

    #[test]
    fn defaults() {
        let d = |o: Opt| DESCRIPTIONS[o as usize].default;
        assert_eq!(
            d(Opt::ShowErrors),
            cfg!(any(feature = "debug", feature = "show_errors")) as i64
        );
        assert_eq!(d(Opt::ArenaEagerCommit), 2);
        assert_eq!(d(Opt::ReserveHugeOsPagesAt), -1);
        assert_eq!(d(Opt::PurgeDelay), 10);
        assert_eq!(d(Opt::OsTag), 100);
        assert_eq!(d(Opt::MaxErrors), 32);
        assert_eq!(d(Opt::ArenaReserve), 1 << 20);
        assert_eq!(d(Opt::RetryOnOom), 400);
        let legacy: Vec<_> = DESCRIPTIONS.iter().filter_map(|d| d.legacy_name).collect();
        assert_eq!(
            legacy,
            [
                "eager_region_commit",
                "reset_decommits",
                "large_os_pages",
                "abandoned_page_reset",
                "reset_delay",
                "limit_os_alloc",
                "decommit_extend_delay"
            ]
        );
    }

    #[test]
    fn booleans_are_substrings() {
        for s in [
            "", "1", "on", "ON", "yes", "true", "e", "o", "n", ";", "1;t", "Es",
        ] {
            assert_eq!(parse_value(s.as_bytes(), false), Some(1), "{s:?}");
        }
        for s in ["0", "no", "off", "false", "f", "FALSE", "0;f", "al"] {
            assert_eq!(parse_value(s.as_bytes(), false), Some(0), "{s:?}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_value(b"42", false), Some(42));
        assert_eq!(parse_value(b"-1", false), Some(-1));
        assert_eq!(parse_value(b"+7", false), Some(7));
        assert_eq!(parse_value(b"  12", false), Some(12));
        assert_eq!(parse_value(b"10ms", false), None);
        assert_eq!(parse_value(b"abc", false), None);
        assert_eq!(parse_value(b"-", false), None);
        assert_eq!(parse_value(b"0x10", false), None);
        assert_eq!(parse_value(b"99999999999999999999", false), Some(LONG_MAX));
        assert_eq!(parse_value(b"-99999999999999999999", false), Some(LONG_MIN));
        // A size unit on a plain option is garbage.
        assert_eq!(parse_value(b"64M", false), None);
    }

    #[test]
    fn sizes_in_kib() {
        let kib = |s: &str| parse_value(s.as_bytes(), true);
        assert_eq!(kib("64M"), Some(64 * 1024));
        assert_eq!(kib("64MiB"), Some(64 * 1024));
        assert_eq!(kib("64mb"), Some(64 * 1024));
        assert_eq!(kib("1g"), Some(1024 * 1024));
        assert_eq!(kib("2T"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(kib("100k"), Some(100));
        assert_eq!(kib("1000"), Some(1)); // bytes, rounded up
        assert_eq!(kib("1024"), Some(1));
        assert_eq!(kib("1025"), Some(2));
        assert_eq!(kib("4096B"), Some(4));
        assert_eq!(kib("-5M"), Some(0));
        assert_eq!(kib("10X"), None);
        assert_eq!(kib("10MiBs"), None);
        assert_eq!(kib("1000000T"), Some((MAX_ALLOC_SIZE / 1024) as i64));
        assert_eq!(
            kib("99999999999999999999G"),
            Some((MAX_ALLOC_SIZE / 1024) as i64)
        );
    }

    #[test]
    fn values_longer_than_64_are_cut() {
        let long = std::format!("{}x", "1".repeat(64)); // 'x' falls outside the 64 bytes
                                                        // 64 ones overflow `long`: saturates, and the trailing x is never seen.
        assert_eq!(parse_value(long.as_bytes(), false), Some(LONG_MAX));
    }

    fn env_block(entries: &[&str]) -> (Vec<CString>, Vec<*const c_char>) {
        let owned: Vec<CString> = entries.iter().map(|e| CString::new(*e).unwrap()).collect();
        let mut ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(core::ptr::null());
        (owned, ptrs)
    }

    #[test]
    fn environment_lookup_is_case_insensitive_first_match() {
        let (_owned, env) = env_block(&[
            "PATH=/bin",
            "MIMALLOC_VERBOSEX=9",
            "MIMALLOC_VERBOS=8",
            "MiMalloc_Verbose=on",
            "MIMALLOC_VERBOSE=0",
            "mimalloc_arena_reserve=",
        ]);
        // SAFETY: `env` is a null-terminated array of C strings kept alive by `_owned`.
        let v = unsafe { find_in_env(env.as_ptr(), "verbose") }.unwrap();
        assert_eq!(v.as_bytes(), b"on");
        // SAFETY: as above.
        let v = unsafe { find_in_env(env.as_ptr(), "arena_reserve") }.unwrap();
        assert_eq!(v.as_bytes(), b"");
        // SAFETY: as above.
        assert!(unsafe { find_in_env(env.as_ptr(), "show_stats") }.is_none());
        // SAFETY: a null environment is allowed.
        assert!(unsafe { find_in_env(core::ptr::null(), "verbose") }.is_none());
    }

    #[test]
    fn environment_value_is_truncated() {
        let entry = std::format!("MIMALLOC_OS_TAG={}", "7".repeat(100));
        let (_owned, env) = env_block(&[&entry]);
        // SAFETY: `env` is a null-terminated array of C strings kept alive by `_owned`.
        let v = unsafe { find_in_env(env.as_ptr(), "os_tag") }.unwrap();
        assert_eq!(v.len, ENV_VALUE_MAX);
    }

    // The tests below touch the global table; each uses options of its own.

    #[test]
    fn set_and_set_default() {
        let o = Opt::DeprecatedSegmentCache;
        set_default(o, 77);
        assert_eq!(get(o), 77);
        set(o, 5);
        set_default(o, 99);
        assert_eq!(get(o), 5);
        set_enabled(o, false);
        assert!(!is_enabled(o));
        set_enabled_default(o, true);
        assert!(!is_enabled(o));
    }

    #[test]
    fn clamp_and_size() {
        set(Opt::DeprecatedSegmentReset, 500);
        assert_eq!(get_clamp(Opt::DeprecatedSegmentReset, 0, 100), 100);
        assert_eq!(get_clamp(Opt::DeprecatedSegmentReset, 600, 700), 600);
        assert_eq!(get_size(Opt::DeprecatedSegmentReset), 500);
        set(Opt::DeprecatedSegmentReset, -3);
        assert_eq!(get_size(Opt::DeprecatedSegmentReset), 0);
        if std::env::var_os("MIMALLOC_ARENA_RESERVE").is_none() {
            assert_eq!(get_size(Opt::ArenaReserve), 1 << 30);
        }
        set(Opt::ReserveOsMemory, 3);
        assert_eq!(get_size(Opt::ReserveOsMemory), 3072);
    }

    #[test]
    fn missing_options_stay_unread_while_preloading() {
        // The test process itself has no constructor: preloading is whatever other tests
        // left. Exercise the state machine directly on an option nobody sets.
        let o = Opt::UseNumaNodes;
        if std::env::var_os("MIMALLOC_USE_NUMA_NODES").is_some() {
            return;
        }
        let was = is_preloading();
        set_preloading(true);
        // Relaxed: read back on the same thread.
        STATES[o as usize].store(UNINIT, Ordering::Relaxed);
        assert_eq!(get(o), 0);
        // Relaxed: read back on the same thread.
        assert_eq!(STATES[o as usize].load(Ordering::Relaxed), UNINIT);
        set_preloading(false);
        assert_eq!(get(o), 0);
        // Relaxed: read back on the same thread.
        assert_eq!(STATES[o as usize].load(Ordering::Relaxed), DEFAULTED);
        set_preloading(was);
    }
}
