//! Statistics (`mi_stats_t`), their merge into the process-wide copy, the printed table
//! of `mi_stats_print_out`, the clock and `mi_process_info`.
//!
//! Unlike C mimalloc's release builds, every counter is maintained in every build (the
//! updates are relaxed atomics), so release statistics are accurate. Only the per-size
//! rows (`normal`, `large`, `huge`, `total`, `malloc req` and the per-bin rows) are
//! printed in `debug` builds alone, as C prints them with `MI_STAT > 1` only.

use core::ffi::c_void;
use core::fmt::{self, Write};

use crate::output::{self, OutputFun, StackBuf};
use crate::sync::{AtomicI64, AtomicUsize, Ordering};

// All statistics use Relaxed atomics: they are independent counters, read only for
// reporting, and never guard other memory.

/// An amount that goes up and down: `mi_stat_count_t`.
pub struct StatCount {
    pub allocated: AtomicI64,
    pub freed: AtomicI64,
    pub peak: AtomicI64,
    pub current: AtomicI64,
}

/// A plain copy of a [`StatCount`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatCountValues {
    pub allocated: i64,
    pub freed: i64,
    pub peak: i64,
    pub current: i64,
}

impl StatCount {
    pub const fn new() -> StatCount {
        StatCount {
            allocated: AtomicI64::new(0),
            freed: AtomicI64::new(0),
            peak: AtomicI64::new(0),
            current: AtomicI64::new(0),
        }
    }

    #[inline]
    pub fn increase(&self, n: usize) {
        if n == 0 {
            return;
        }
        let n = n as i64;
        // Relaxed: see the module note.
        let now = self.current.fetch_add(n, Ordering::Relaxed) + n;
        self.peak.fetch_max(now, Ordering::Relaxed);
        self.allocated.fetch_add(n, Ordering::Relaxed);
    }

    #[inline]
    pub fn decrease(&self, n: usize) {
        if n == 0 {
            return;
        }
        let n = n as i64;
        // Relaxed: see the module note.
        self.current.fetch_sub(n, Ordering::Relaxed);
        self.freed.fetch_add(n, Ordering::Relaxed);
    }

    pub fn values(&self) -> StatCountValues {
        // Relaxed: see the module note.
        StatCountValues {
            allocated: self.allocated.load(Ordering::Relaxed),
            freed: self.freed.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
            current: self.current.load(Ordering::Relaxed),
        }
    }

    fn reset(&self) {
        for field in [&self.allocated, &self.freed, &self.peak, &self.current] {
            // Relaxed: see the module note.
            field.store(0, Ordering::Relaxed);
        }
    }

    /// Move these counts into `dst` and zero them. A record counts from zero, so its
    /// `peak` is its highest excursion: `dst` peaks at its current value plus that, which
    /// is exact for a single thread (C mimalloc adds the peaks, which only grows).
    fn drain_into(&self, dst: &StatCount) {
        // Most counts of a short-lived thread are zero: plain loads find those without a
        // locked instruction each (a thread's exit merges some 120 counts).
        // Relaxed (all): see the module note.
        if self.allocated.load(Ordering::Relaxed) == 0
            && self.freed.load(Ordering::Relaxed) == 0
            && self.current.load(Ordering::Relaxed) == 0
            && self.peak.load(Ordering::Relaxed) == 0
        {
            return;
        }
        // Relaxed (all): see the module note. `swap` keeps concurrent updates.
        let allocated = self.allocated.swap(0, Ordering::Relaxed);
        let freed = self.freed.swap(0, Ordering::Relaxed);
        let current = self.current.swap(0, Ordering::Relaxed);
        let peak = self.peak.swap(0, Ordering::Relaxed);
        if allocated == 0 && freed == 0 && current == 0 && peak == 0 {
            return;
        }
        // Relaxed (all): see the module note.
        dst.allocated.fetch_add(allocated, Ordering::Relaxed);
        dst.freed.fetch_add(freed, Ordering::Relaxed);
        let before = dst.current.fetch_add(current, Ordering::Relaxed);
        dst.peak
            .fetch_max(before + peak.max(current), Ordering::Relaxed);
    }
}

/// An event counter with a running total: `mi_stat_counter_t`.
pub struct StatCounter {
    pub total: AtomicI64,
    pub count: AtomicI64,
}

impl StatCounter {
    pub const fn new() -> StatCounter {
        StatCounter {
            total: AtomicI64::new(0),
            count: AtomicI64::new(0),
        }
    }

    /// Count one event of `n`.
    #[inline]
    pub fn increase(&self, n: usize) {
        // Relaxed: see the module note.
        self.total.fetch_add(n as i64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// (total, count)
    pub fn values(&self) -> (i64, i64) {
        // Relaxed: see the module note.
        (
            self.total.load(Ordering::Relaxed),
            self.count.load(Ordering::Relaxed),
        )
    }

    fn reset(&self) {
        // Relaxed: see the module note.
        self.total.store(0, Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
    }

    fn drain_into(&self, dst: &StatCounter) {
        // Relaxed: see the module note (and `StatCount::drain_into` for the pre-check).
        if self.total.load(Ordering::Relaxed) == 0 && self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        // Relaxed: see the module note.
        dst.total
            .fetch_add(self.total.swap(0, Ordering::Relaxed), Ordering::Relaxed);
        dst.count
            .fetch_add(self.count.swap(0, Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// `MI_BIN_HUGE + 1`: one count per size class, bin 0 unused.
pub const STAT_BINS: usize = 74;

/// `mi_stats_t`.
pub struct Stats {
    pub segments: StatCount,
    pub pages: StatCount,
    pub reserved: StatCount,
    pub committed: StatCount,
    pub reset: StatCount,
    pub purged: StatCount,
    pub page_committed: StatCount,
    pub segments_abandoned: StatCount,
    pub pages_abandoned: StatCount,
    pub threads: StatCount,
    pub normal: StatCount,
    pub huge: StatCount,
    pub large: StatCount,
    pub malloc: StatCount,
    pub segments_cache: StatCount,
    pub pages_extended: StatCounter,
    pub mmap_calls: StatCounter,
    pub commit_calls: StatCounter,
    pub reset_calls: StatCounter,
    pub purge_calls: StatCounter,
    pub page_no_retire: StatCounter,
    pub searches: StatCounter,
    pub normal_count: StatCounter,
    pub huge_count: StatCounter,
    pub large_count: StatCounter,
    pub arena_count: StatCounter,
    pub arena_crossover_count: StatCounter,
    pub arena_rollback_count: StatCounter,
    pub normal_bins: [StatCount; STAT_BINS],
}

impl Stats {
    pub const fn new() -> Stats {
        Stats {
            segments: StatCount::new(),
            pages: StatCount::new(),
            reserved: StatCount::new(),
            committed: StatCount::new(),
            reset: StatCount::new(),
            purged: StatCount::new(),
            page_committed: StatCount::new(),
            segments_abandoned: StatCount::new(),
            pages_abandoned: StatCount::new(),
            threads: StatCount::new(),
            normal: StatCount::new(),
            huge: StatCount::new(),
            large: StatCount::new(),
            malloc: StatCount::new(),
            segments_cache: StatCount::new(),
            pages_extended: StatCounter::new(),
            mmap_calls: StatCounter::new(),
            commit_calls: StatCounter::new(),
            reset_calls: StatCounter::new(),
            purge_calls: StatCounter::new(),
            page_no_retire: StatCounter::new(),
            searches: StatCounter::new(),
            normal_count: StatCounter::new(),
            huge_count: StatCounter::new(),
            large_count: StatCounter::new(),
            arena_count: StatCounter::new(),
            arena_crossover_count: StatCounter::new(),
            arena_rollback_count: StatCounter::new(),
            normal_bins: [const { StatCount::new() }; STAT_BINS],
        }
    }

    fn counts(&self) -> [&StatCount; 15] {
        [
            &self.segments,
            &self.pages,
            &self.reserved,
            &self.committed,
            &self.reset,
            &self.purged,
            &self.page_committed,
            &self.segments_abandoned,
            &self.pages_abandoned,
            &self.threads,
            &self.normal,
            &self.huge,
            &self.large,
            &self.malloc,
            &self.segments_cache,
        ]
    }

    fn counters(&self) -> [&StatCounter; 13] {
        [
            &self.pages_extended,
            &self.mmap_calls,
            &self.commit_calls,
            &self.reset_calls,
            &self.purge_calls,
            &self.page_no_retire,
            &self.searches,
            &self.normal_count,
            &self.huge_count,
            &self.large_count,
            &self.arena_count,
            &self.arena_crossover_count,
            &self.arena_rollback_count,
        ]
    }
}

/// The process-wide statistics (`_mi_stats_main`).
pub static STATS_MAIN: Stats = Stats::new();

/// Number of NUMA nodes shown in the `numa nodes` row; set by the OS layer.
pub static NUMA_NODE_COUNT: AtomicUsize = AtomicUsize::new(1);

/// Add `src` into [`STATS_MAIN`] and zero `src` (`mi_stats_merge`).
pub fn merge_into_main(src: &Stats) {
    if core::ptr::eq(src, &STATS_MAIN) {
        return;
    }
    for (s, d) in src.counts().into_iter().zip(STATS_MAIN.counts()) {
        s.drain_into(d);
    }
    for (s, d) in src.counters().into_iter().zip(STATS_MAIN.counters()) {
        s.drain_into(d);
    }
    // (only debug builds count per size class, as C's `MI_STAT > 1`)
    if crate::types::DEBUG > 0 {
        for (s, d) in src.normal_bins.iter().zip(&STATS_MAIN.normal_bins) {
            s.drain_into(d);
        }
    }
}

/// Zero every statistic of `s`.
pub fn reset(s: &Stats) {
    s.counts().iter().for_each(|c| c.reset());
    s.counters().iter().for_each(|c| c.reset());
    s.normal_bins.iter().for_each(|c| c.reset());
}

// ---------------------------------------------------------------------------------------
// Clock and process information.
// ---------------------------------------------------------------------------------------

/// Milliseconds of the performance counter (Windows).
#[cfg(windows)]
pub fn clock_now() -> i64 {
    crate::prim::clock_now_ms()
}

/// Milliseconds of `CLOCK_MONOTONIC`.
#[cfg(not(windows))]
#[allow(clippy::useless_conversion)] // `time_t` and `long` are 32-bit on some targets
pub fn clock_now() -> i64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid out-parameter; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    i64::from(t.tv_sec) * 1000 + i64::from(t.tv_nsec) / 1_000_000
}

/// Clock value at process start (0 = not started yet).
static PROCESS_START: AtomicI64 = AtomicI64::new(0);

/// `_mi_clock_start`: the current clock, which also starts the process's `elapsed`
/// clock if it was not started (process init and `mi_stats_reset` call this).
pub fn clock_start() -> i64 {
    let now = clock_now().max(1);
    // Relaxed: the first caller wins; the value is only reported.
    let _ = PROCESS_START.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    now
}

/// Milliseconds since `start` (a value of [`clock_start`]).
pub fn clock_end(start: i64) -> i64 {
    clock_now() - start
}

/// Milliseconds since the process clock started (0 if it never did).
pub fn elapsed_msecs() -> i64 {
    // Relaxed: see `clock_start`.
    match PROCESS_START.load(Ordering::Relaxed) {
        0 => 0,
        start => clock_end(start).max(0),
    }
}

/// What the OS says about the process (`mi_process_info`); part of [`Stats`](crate::Stats).
///
/// ```
/// let p = mimalloc::Stats::read().process;
/// assert!(p.peak_rss >= p.current_rss && p.current_rss > 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// Milliseconds since the process started.
    pub elapsed_msecs: usize,
    /// User CPU time, in milliseconds.
    pub user_msecs: usize,
    /// System CPU time, in milliseconds.
    pub system_msecs: usize,
    /// Resident memory now, in bytes.
    pub current_rss: usize,
    /// Highest resident memory, in bytes.
    pub peak_rss: usize,
    /// Memory committed by the allocator now, in bytes.
    pub current_commit: usize,
    /// Highest memory committed by the allocator, in bytes.
    pub peak_commit: usize,
    /// Page faults that needed I/O.
    pub page_faults: usize,
}

/// Process times, memory and faults. `current_rss` comes from `/proc/self/statm` (C
/// mimalloc reports the current commit on Linux); it falls back to the commit too.
pub fn process_info() -> ProcessInfo {
    let committed = STATS_MAIN.committed.values();
    let current_commit = committed.current.max(0) as usize;
    let mut info = ProcessInfo {
        elapsed_msecs: elapsed_msecs().clamp(0, isize::MAX as i64) as usize,
        current_commit,
        peak_commit: committed.peak.max(0) as usize,
        current_rss: current_commit,
        peak_rss: committed.peak.max(0) as usize,
        ..ProcessInfo::default()
    };
    #[cfg(windows)]
    if let Some((user, system, faults, rss, peak)) = crate::prim::process_times() {
        info.user_msecs = user;
        info.system_msecs = system;
        info.page_faults = faults;
        info.current_rss = rss;
        info.peak_rss = peak.max(rss);
    }
    #[cfg(not(windows))]
    process_info_os(&mut info);
    info
}

/// User and system time, page faults and resident memory, from `getrusage` and
/// `/proc/self/statm`.
#[cfg(not(windows))]
#[allow(clippy::useless_conversion)] // `time_t` and `suseconds_t` vary by target
fn process_info_os(info: &mut ProcessInfo) {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { core::mem::zeroed() };
    // SAFETY: `usage` is a valid out-parameter.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
        let msecs =
            |tv: libc::timeval| (i64::from(tv.tv_sec) * 1000 + i64::from(tv.tv_usec) / 1000).max(0);
        info.user_msecs = msecs(usage.ru_utime) as usize;
        info.system_msecs = msecs(usage.ru_stime) as usize;
        info.page_faults = usage.ru_majflt.max(0) as usize;
        info.peak_rss = (usage.ru_maxrss.max(0) as usize).saturating_mul(1024); // KiB
    }
    if let Some(rss) = resident_bytes() {
        info.current_rss = rss;
    }
    // The kernel's peak comes from approximate per-CPU counters and can lag the exact
    // current value a little: a peak is never below the present.
    info.peak_rss = info.peak_rss.max(info.current_rss);
}

/// Resident set size from `/proc/self/statm` (second field, in pages), read with raw
/// system calls into a stack buffer.
#[cfg(not(windows))]
fn resident_bytes() -> Option<usize> {
    let mut buf = [0u8; 128];
    let n = read_small_file(c"/proc/self/statm", &mut buf)?;
    let mut fields = buf[..n].split(|&c| c == b' ');
    let resident = parse_decimal(fields.nth(1)?)?;
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page_size > 0).then(|| resident.saturating_mul(page_size as usize))
}

#[cfg_attr(windows, allow(dead_code))]
fn parse_decimal(digits: &[u8]) -> Option<usize> {
    let digits = digits.strip_suffix(b"\n").unwrap_or(digits);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, &c| {
        c.is_ascii_digit()
            .then(|| acc.saturating_mul(10).saturating_add((c - b'0') as usize))
    })
}

/// Read up to `buf.len()` bytes of a file without libc's stdio; keeps `errno`.
#[cfg(not(windows))]
fn read_small_file(path: &core::ffi::CStr, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: reading and restoring this thread's errno.
    let saved_errno = unsafe { *libc::__errno_location() };
    // SAFETY: `path` is NUL-terminated; plain open/read/close system calls on a
    // descriptor we own, reading into `buf` within its length.
    let result = unsafe {
        let fd = libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            None
        } else {
            let mut filled = 0usize;
            while filled < buf.len() {
                let r = libc::syscall(
                    libc::SYS_read,
                    fd,
                    buf.as_mut_ptr().add(filled),
                    buf.len() - filled,
                );
                if r > 0 {
                    filled += r as usize;
                } else if r == 0 || *libc::__errno_location() != libc::EINTR {
                    break;
                }
            }
            libc::syscall(libc::SYS_close, fd);
            Some(filled)
        }
    };
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
    result
}

// ---------------------------------------------------------------------------------------
// Printing.
// ---------------------------------------------------------------------------------------

/// Collects printed text into lines of at most 255 bytes and hands each line to the
/// output once (nice for loggers), like C's 256-byte line buffer.
struct LineWriter {
    out: Option<OutputFun>,
    arg: *mut c_void,
    line: [u8; 256],
    used: usize,
}

impl LineWriter {
    const LINE_MAX: usize = 255;

    fn flush(&mut self) {
        if self.used > 0 {
            output::output_bytes(self.out, self.arg, &self.line[..self.used]);
            self.used = 0;
        }
    }
}

impl fmt::Write for LineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &c in s.as_bytes() {
            if self.used >= Self::LINE_MAX {
                self.flush();
            }
            self.line[self.used] = c;
            self.used += 1;
            if c == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

/// Text of `mi_printf_amount`: `unit > 0` bytes (`n * unit`, base 1024, `B`), `unit == 0`
/// a decimal count (base 1000), `unit < 0` a binary count (base 1024).
fn amount_text(n: i64, unit: i64) -> StackBuf<32> {
    let mut text = StackBuf::new();
    let suffix = if unit <= 0 { " " } else { "B" };
    let base: i64 = if unit == 0 { 1000 } else { 1024 };
    let n = if unit > 0 { n.saturating_mul(unit) } else { n };
    let magnitude_of = n.unsigned_abs();
    if magnitude_of < base as u64 {
        // One byte prints nothing: it is the unit column of byte-sized rows.
        if n != 1 || suffix != "B" {
            let _ = write!(text, "{}   {:<3}", n, if n == 0 { "" } else { suffix });
        }
    } else {
        let mut divider = base;
        let mut magnitude = "K";
        if magnitude_of >= (divider * base) as u64 {
            divider *= base;
            magnitude = "M";
        }
        if magnitude_of >= (divider * base) as u64 {
            divider *= base;
            magnitude = "G";
        }
        let tenths = n / (divider / 10);
        let binary = if base == 1024 { "i" } else { "" };
        let mut unit_text = StackBuf::<8>::new();
        let _ = write!(unit_text, "{magnitude}{binary}{suffix}");
        let _ = write!(
            text,
            "{}.{} {:<3}",
            tenths / 10,
            (tenths % 10).abs(),
            unit_text.as_str()
        );
    }
    text
}

fn print_amount(w: &mut LineWriter, n: i64, unit: i64) {
    let _ = write!(w, "{:>12}", amount_text(n, unit).as_str());
}

fn print_count(w: &mut LineWriter, n: i64, unit: i64) {
    if unit == 1 {
        let _ = write!(w, "{:>12}", " ");
    } else {
        print_amount(w, n, 0);
    }
}

/// Values as printed: release builds never show a negative amount (C 2.1.7 does, for
/// counters it only half maintains); debug builds show the raw values to expose bugs.
fn shown(v: StatCountValues) -> StatCountValues {
    if cfg!(feature = "debug") {
        return v;
    }
    StatCountValues {
        allocated: v.allocated.max(0),
        freed: v.freed.max(0),
        peak: v.peak.max(0),
        current: v.current.max(0),
    }
}

/// A count row (`mi_stat_print_ex`); `unfreed_note` replaces "not all freed".
fn print_count_row(
    w: &mut LineWriter,
    stat: StatCountValues,
    label: &str,
    unit: i64,
    unfreed_note: Option<&str>,
) {
    let stat = shown(stat);
    let _ = write!(w, "{label:>10}:");
    if unit == 0 {
        print_amount(w, stat.peak, 1);
        print_amount(w, stat.allocated, 1);
        let _ = write!(w, "{:>11}", " "); // no freed column
        print_amount(w, stat.current, 1);
        let _ = w.write_str("\n");
        return;
    }
    if unit > 0 {
        print_amount(w, stat.peak, unit);
        print_amount(w, stat.allocated, unit);
        print_amount(w, stat.freed, unit);
        print_amount(w, stat.current, unit);
        print_amount(w, unit, 1);
        print_count(w, stat.allocated, unit);
    } else {
        print_amount(w, stat.peak, -1);
        print_amount(w, stat.allocated, -1);
        print_amount(w, stat.freed, -1);
        print_amount(w, stat.current, -1);
        if unit == -1 {
            let _ = write!(w, "{:24}", "");
        } else {
            print_amount(w, -unit, 1);
            print_count(w, stat.allocated / -unit, 0);
        }
    }
    if stat.allocated > stat.freed {
        let _ = writeln!(w, "  {}", unfreed_note.unwrap_or("not all freed"));
    } else {
        let _ = w.write_str("  ok\n");
    }
}

fn print_peak_row(w: &mut LineWriter, stat: StatCountValues, label: &str) {
    let _ = write!(w, "{label:>10}:");
    print_amount(w, shown(stat).peak, 1);
    let _ = w.write_str("\n");
}

fn print_counter_row(w: &mut LineWriter, counter: &StatCounter, label: &str) {
    let _ = write!(w, "{label:>10}:");
    print_amount(w, counter.values().0.max(0), -1);
    let _ = w.write_str("\n");
}

fn print_average_row(w: &mut LineWriter, counter: &StatCounter, label: &str) {
    let (total, count) = counter.values();
    let tenths = if count == 0 {
        0
    } else {
        total.saturating_mul(10) / count
    };
    let _ = writeln!(w, "{label:>10}: {:>5}.{} avg", tenths / 10, tenths % 10);
}

fn print_header(w: &mut LineWriter) {
    let _ = writeln!(
        w,
        "{:>10}: {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}",
        "heap stats", "peak   ", "total   ", "freed   ", "current   ", "unit   ", "count   "
    );
}

/// Block size of a size class (the table of internals.md §3).
fn bin_block_size(bin: usize) -> i64 {
    let words: i64 = match bin {
        0 => 1,
        1..=8 => bin as i64,
        73 => 16384 + 1,
        74.. => 16384 + 2,
        _ => {
            // Four classes per power of two: bin = 4*b + sub - 3 covers word sizes up to
            // (5 + sub) << (b - 2).
            let k = bin + 3;
            let (b, sub) = (k / 4, k % 4);
            ((5 + sub) << (b - 2)) as i64
        }
    };
    words * 8
}

/// Rows only C's `MI_STAT > 1` (debug) builds print: per bin, per size kind, requests.
fn print_size_rows(w: &mut LineWriter, stats: &Stats) {
    let mut any_bin = false;
    for (bin, count) in stats.normal_bins.iter().enumerate() {
        let values = count.values();
        if values.allocated > 0 {
            any_bin = true;
            let mut label = StackBuf::<16>::new();
            let _ = write!(label, "normal {bin:3}");
            print_count_row(w, values, label.as_str(), bin_block_size(bin), None);
        }
    }
    if any_bin {
        let _ = w.write_str("\n");
        print_header(w);
    }
    let average_unit = |count: &StatCount, counter: &StatCounter| {
        let (_, n) = counter.values();
        if n == 0 {
            1
        } else {
            -(count.values().allocated / n)
        }
    };
    let kinds = [
        (&stats.normal, &stats.normal_count, "normal"),
        (&stats.large, &stats.large_count, "large"),
        (&stats.huge, &stats.huge_count, "huge"),
    ];
    let mut total = StatCountValues::default();
    for (count, counter, label) in kinds {
        let values = count.values();
        print_count_row(w, values, label, average_unit(count, counter), None);
        total.allocated += values.allocated;
        total.freed += values.freed;
        total.peak += values.peak;
        total.current += values.current;
    }
    print_count_row(w, total, "total", 1, None);
    print_count_row(w, stats.malloc.values(), "malloc req", 1, None);
    let _ = w.write_str("\n");
}

/// Print `stats` as the table of `mi_stats_print_out`, one output call per line.
/// `out = None` is the default output.
pub fn print_out(stats: &Stats, out: Option<OutputFun>, arg: *mut c_void) {
    let mut w = LineWriter {
        out,
        arg,
        line: [0; 256],
        used: 0,
    };
    print_header(&mut w);
    if cfg!(feature = "debug") {
        print_size_rows(&mut w, stats);
    }
    print_count_row(&mut w, stats.reserved.values(), "reserved", 1, Some(""));
    print_count_row(&mut w, stats.committed.values(), "committed", 1, Some(""));
    print_peak_row(&mut w, stats.reset.values(), "reset");
    print_peak_row(&mut w, stats.purged.values(), "purged");
    print_count_row(&mut w, stats.page_committed.values(), "touched", 1, None);
    print_count_row(&mut w, stats.segments.values(), "segments", -1, None);
    print_count_row(
        &mut w,
        stats.segments_abandoned.values(),
        "-abandoned",
        -1,
        None,
    );
    print_count_row(&mut w, stats.segments_cache.values(), "-cached", -1, None);
    print_count_row(&mut w, stats.pages.values(), "pages", -1, None);
    print_count_row(
        &mut w,
        stats.pages_abandoned.values(),
        "-abandoned",
        -1,
        None,
    );
    print_counter_row(&mut w, &stats.pages_extended, "-extended");
    print_counter_row(&mut w, &stats.page_no_retire, "-noretire");
    print_counter_row(&mut w, &stats.arena_count, "arenas");
    print_counter_row(&mut w, &stats.arena_crossover_count, "-crossover");
    print_counter_row(&mut w, &stats.arena_rollback_count, "-rollback");
    print_counter_row(&mut w, &stats.mmap_calls, "mmaps");
    print_counter_row(&mut w, &stats.commit_calls, "commits");
    print_counter_row(&mut w, &stats.reset_calls, "resets");
    print_counter_row(&mut w, &stats.purge_calls, "purges");
    print_count_row(&mut w, stats.threads.values(), "threads", -1, None);
    print_average_row(&mut w, &stats.searches, "searches");
    // Relaxed: a reported number.
    let numa_nodes = NUMA_NODE_COUNT.load(Ordering::Relaxed);
    let _ = writeln!(w, "{:>10}: {:>5}", "numa nodes", numa_nodes);
    print_process_rows(&mut w, &process_info());
    w.flush();
}

fn print_process_rows(w: &mut LineWriter, info: &ProcessInfo) {
    let elapsed = info.elapsed_msecs;
    let _ = writeln!(
        w,
        "{:>10}: {:>5}.{:03} s",
        "elapsed",
        elapsed / 1000,
        elapsed % 1000
    );
    let (user, system) = (info.user_msecs, info.system_msecs);
    let _ = write!(
        w,
        "{:>10}: user: {}.{:03} s, system: {}.{:03} s, faults: {}, rss: {}",
        "process",
        user / 1000,
        user % 1000,
        system / 1000,
        system % 1000,
        info.page_faults,
        amount_text(info.peak_rss as i64, 1).as_str()
    );
    if info.peak_commit > 0 {
        let _ = write!(
            w,
            ", commit: {}",
            amount_text(info.peak_commit as i64, 1).as_str()
        );
    }
    let _ = w.write_str("\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::string::String;
    use std::sync::Mutex;
    use std::vec::Vec;

    fn amount(n: i64, unit: i64) -> String {
        String::from(amount_text(n, unit).as_str())
    }

    #[test]
    fn amounts() {
        assert_eq!(amount(0, 1), "0      ");
        assert_eq!(amount(1, 1), "");
        assert_eq!(amount(1, -1), "1      ");
        assert_eq!(amount(512, 1), "512   B  ");
        assert_eq!(amount(1 << 30, 1), "1.0 GiB");
        // C divides by `divider / 10` = 102, so exactly 64 KiB prints as 64.2.
        assert_eq!(amount(65536, 1), "64.2 KiB");
        assert_eq!(amount(3 << 20, -1), "3.0 Mi ");
        assert_eq!(amount(30_000, 0), "30.0 K  ");
        assert_eq!(amount(999, 0), "999      ");
        assert_eq!(amount(-2048, 1), "-2.0 KiB");
        assert_eq!(amount(-1536, 1), "-1.5 KiB");
        assert_eq!(amount(5 << 40, 1), "5120.0 GiB"); // nothing above G
    }

    #[test]
    fn bin_sizes_match_the_table() {
        let table: [(usize, i64); 16] = [
            (0, 8),
            (1, 8),
            (3, 24),
            (8, 64),
            (9, 80),
            (12, 128),
            (13, 160),
            (17, 320),
            (24, 1024),
            (40, 16384),
            (47, 57344),
            (52, 131072),
            (53, 163840),
            (72, 4194304),
            (73, 131080),
            (74, 131088),
        ];
        for (bin, size) in table {
            assert_eq!(bin_block_size(bin), size, "bin {bin}");
        }
    }

    #[test]
    fn count_and_counter_updates() {
        let c = StatCount::new();
        c.increase(10);
        c.increase(5);
        c.decrease(12);
        c.increase(1);
        assert_eq!(
            c.values(),
            StatCountValues {
                allocated: 16,
                freed: 12,
                peak: 15,
                current: 4
            }
        );
        let k = StatCounter::new();
        k.increase(3);
        k.increase(4);
        assert_eq!(k.values(), (7, 2));
    }

    #[test]
    fn merge_moves_and_zeroes() {
        let thread = Stats::new();
        thread.searches.increase(2);
        thread.normal_bins[5].increase(3);
        thread.segments_cache.increase(4);
        thread.segments_cache.decrease(1);
        let before_bins = STATS_MAIN.normal_bins[5].values();
        let before_cache = STATS_MAIN.segments_cache.values();
        merge_into_main(&thread);
        assert_eq!(thread.searches.values(), (0, 0));
        assert_eq!(thread.segments_cache.values(), StatCountValues::default());
        let after_bins = STATS_MAIN.normal_bins[5].values();
        // (only debug builds count, and so merge, per size class)
        if crate::types::DEBUG > 0 {
            assert_eq!(thread.normal_bins[5].values(), StatCountValues::default());
            assert_eq!(after_bins.allocated - before_bins.allocated, 3);
        } else {
            assert_eq!(after_bins, before_bins);
        }
        let after_cache = STATS_MAIN.segments_cache.values();
        assert_eq!(after_cache.current - before_cache.current, 3);
        assert!(after_cache.peak >= before_cache.current + 4);
        merge_into_main(&STATS_MAIN); // merging into itself changes nothing
        assert_eq!(STATS_MAIN.normal_bins[5].values(), after_bins);
        let s = Stats::new();
        s.huge.increase(9);
        s.arena_count.increase(1);
        reset(&s);
        assert_eq!(s.huge.values(), StatCountValues::default());
        assert_eq!(s.arena_count.values(), (0, 0));
    }

    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
    /// Held by every test that collects into `LINES`.
    static SERIAL: Mutex<()> = Mutex::new(());

    unsafe extern "C" fn collect(msg: *const core::ffi::c_char, arg: *mut c_void) {
        assert_eq!(arg as usize, 42);
        // SAFETY: the output contract passes a NUL-terminated string.
        let line = unsafe { CStr::from_ptr(msg) }.to_str().unwrap();
        LINES.lock().unwrap().push(String::from(line));
    }

    /// The verified release sample of internals.md §13.1 ('$' = end of line).
    const RELEASE_SAMPLE: &str = "\
heap stats:     peak       total       freed     current        unit       count   $
  reserved:     1.0 GiB     1.0 GiB     0           1.0 GiB                          $
 committed:     1.0 GiB     1.0 GiB     0           1.0 GiB                          $
     reset:     0      $
    purged:     0      $
   touched:    64.2 KiB    64.2 KiB     0          64.2 KiB                          not all freed$
  segments:     1           1           0           1                                not all freed$
-abandoned:     0           0           0           0                                ok$
   -cached:     0           0           0           0                                ok$
     pages:     0           0           0           0                                ok$
-abandoned:     0           0           0           0                                ok$
 -extended:     0      $
 -noretire:     0      $
    arenas:     1      $
-crossover:     0      $
 -rollback:     0      $
     mmaps:     0      $
   commits:     0      $
    resets:     0      $
    purges:     0      $
   threads:     0           0           0           0                                ok$
  searches:     0.0 avg$
numa nodes:     1$";

    #[test]
    fn table_matches_the_release_sample() {
        let _serial = SERIAL.lock().unwrap();
        let s = Stats::new();
        s.reserved.increase(1 << 30);
        s.committed.increase(1 << 30);
        s.page_committed.increase(65536);
        s.segments.increase(1);
        s.arena_count.increase(1);
        LINES.lock().unwrap().clear();
        print_out(&s, Some(collect), 42 as *mut c_void);
        let lines = LINES.lock().unwrap().clone();
        let debug_rows = if cfg!(feature = "debug") { 6 } else { 0 };
        let expected: Vec<String> = RELEASE_SAMPLE
            .lines()
            .map(|l| std::format!("{}\n", l.trim_end_matches('$')))
            .collect();
        assert_eq!(lines[0], expected[0]);
        assert_eq!(
            &lines[1 + debug_rows..expected.len() + debug_rows],
            &expected[1..]
        );
        let tail = &lines[expected.len() + debug_rows..];
        assert_eq!(tail.len(), 2);
        assert!(tail[0].starts_with("   elapsed: "), "{:?}", tail[0]);
        assert!(tail[0].ends_with(" s\n"));
        assert!(tail[1].starts_with("   process: user: "), "{:?}", tail[1]);
        assert!(tail[1].contains(", system: ") && tail[1].contains(", rss: "));
    }

    #[test]
    fn negative_and_average_rows() {
        let _serial = SERIAL.lock().unwrap();
        let mut w = LineWriter {
            out: Some(collect),
            arg: 42 as *mut c_void,
            line: [0; 256],
            used: 0,
        };
        LINES.lock().unwrap().clear();
        let odd = StatCountValues {
            allocated: 2,
            freed: 5,
            peak: 1,
            current: -3,
        };
        print_count_row(&mut w, odd, "threads", -1, None);
        let searches = StatCounter::new();
        searches.increase(3);
        searches.increase(4);
        print_average_row(&mut w, &searches, "searches");
        let bins = StatCountValues {
            allocated: 374,
            freed: 374,
            peak: 256,
            current: 0,
        };
        print_count_row(&mut w, bins, "normal   1", 8, None);
        let lines = LINES.lock().unwrap().clone();
        if cfg!(feature = "debug") {
            assert!(lines[0].contains("-3   "));
        } else {
            assert!(!lines[0].contains('-'), "{:?}", lines[0]);
        }
        assert_eq!(lines[1], "  searches:     3.5 avg\n");
        assert_eq!(
            lines[2],
            "normal   1:     2.0 KiB     2.9 KiB     2.9 KiB     0           8   B     374        ok\n"
        );
    }

    #[test]
    fn long_lines_are_split_at_255() {
        let _serial = SERIAL.lock().unwrap();
        let mut w = LineWriter {
            out: Some(collect),
            arg: 42 as *mut c_void,
            line: [0; 256],
            used: 0,
        };
        LINES.lock().unwrap().clear();
        let _ = w.write_str(&"y".repeat(300));
        let _ = w.write_str("\n");
        let lines = LINES.lock().unwrap().clone();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 255);
        assert_eq!(lines[1].len(), 46);
    }

    #[test]
    fn clock_and_process_info() {
        let start = clock_start();
        assert!(start > 0);
        assert!(clock_end(start) >= 0);
        let info = process_info();
        assert!(info.peak_rss > 0);
        assert!(info.current_rss > 0);
        assert!(resident_bytes().unwrap() > 0);
        assert_eq!(parse_decimal(b"123\n"), Some(123));
        assert_eq!(parse_decimal(b"12a"), None);
    }
}
