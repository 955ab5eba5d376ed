//! Messages, warnings and errors, written without ever allocating.
//!
//! Every message is formatted into a fixed stack buffer through `core::fmt::Write` and
//! handed to the default output: until the library constructor ran it only lands in a
//! 32 KiB static buffer (stderr may not be usable yet); `start`, run by the constructor,
//! flushes that buffer to stderr and from then on output goes to stderr *and* the
//! buffer, until the program registers its own output function, which first receives
//! everything buffered so far.
//!
//! The user callbacks (`mi_register_output`, `mi_register_error`,
//! `mi_register_deferred_free`) are kept here as plain addresses in atomics.

use core::ffi::{c_char, c_int, c_void};
use core::fmt::{self, Write};
use core::ptr;

use crate::options::{self, Opt};
use crate::sync::{thread_id, AtomicI64, AtomicPtr, AtomicUsize, Ordering, Racy};
use crate::types::{DEBUG, SECURE};

/// `mi_output_fun`: receives a NUL-terminated message (possibly a partial line).
pub type OutputFun = unsafe extern "C" fn(msg: *const c_char, arg: *mut c_void);
/// `mi_error_fun`: receives one of `EAGAIN`, `EFAULT`, `EINVAL`, `ENOMEM`, `EOVERFLOW`.
pub type ErrorFun = unsafe extern "C" fn(err: c_int, arg: *mut c_void);
/// `mi_deferred_free_fun`.
pub type DeferredFreeFun = unsafe extern "C" fn(force: bool, heartbeat: u64, arg: *mut c_void);

// ---------------------------------------------------------------------------------------
// StackBuf: a fixed-size formatting buffer.
// ---------------------------------------------------------------------------------------

/// A fixed buffer that implements `core::fmt::Write` and silently truncates what does not
/// fit. It holds at most `N - 1` bytes, so it can always be NUL-terminated for C, and it
/// only ever cuts at a character boundary, so its contents stay valid UTF-8.
pub struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    const NON_EMPTY: () = assert!(N > 0, "StackBuf needs room for the NUL terminator");

    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::NON_EMPTY;
        StackBuf {
            buf: [0; N],
            len: 0,
        }
    }

    /// Bytes it can hold (one byte is kept for the terminator).
    pub const fn capacity(&self) -> usize {
        N - 1
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn as_str(&self) -> &str {
        // SAFETY: `write_str` is the only writer and it copies whole UTF-8 characters.
        unsafe { core::str::from_utf8_unchecked(self.as_bytes()) }
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<const N: usize> fmt::Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.capacity() - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(()) // truncation is silent by design: a message must never fail
    }
}

// ---------------------------------------------------------------------------------------
// The early-output buffer.
// ---------------------------------------------------------------------------------------

const EARLY_CAPACITY: usize = 32 * 1024;

/// Output produced before a user output function is registered, NUL-terminable.
static EARLY_BUF: Racy<[u8; EARLY_CAPACITY + 1]> = Racy::new([0; EARLY_CAPACITY + 1]);
/// Bytes claimed in `EARLY_BUF`. Writers claim a range with `fetch_add` and then copy
/// into it; once it reaches `EARLY_CAPACITY` nothing more is buffered.
static EARLY_LEN: AtomicUsize = AtomicUsize::new(0);

fn early_append(bytes: &[u8]) {
    // Relaxed: only a cheap early exit; the claim below decides.
    if bytes.is_empty() || EARLY_LEN.load(Ordering::Relaxed) >= EARLY_CAPACITY {
        return;
    }
    // AcqRel: the claim orders this copy after earlier flushes that closed the buffer.
    let start = EARLY_LEN.fetch_add(bytes.len(), Ordering::AcqRel);
    if start >= EARLY_CAPACITY {
        return;
    }
    let n = bytes.len().min(EARLY_CAPACITY - start);
    // SAFETY: `start..start + n` lies inside the buffer and was claimed by this call
    // alone, so no other writer touches it. A concurrent flush may read it while it is
    // being copied (as in C mimalloc); flushes only happen at start-up and on
    // `mi_register_output`.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), (EARLY_BUF.get() as *mut u8).add(start), n);
    }
}

/// Bytes currently buffered (never more than the capacity).
fn early_filled() -> usize {
    // Acquire: pairs with the writers' claims so the claimed prefix is what we read.
    EARLY_LEN.load(Ordering::Acquire).min(EARLY_CAPACITY)
}

/// Copy the buffered output to stderr; buffering continues.
fn early_flush_to_stderr(upto: usize) {
    if upto == 0 {
        return;
    }
    // SAFETY: `upto <= EARLY_CAPACITY` bytes of the buffer were claimed (see
    // `early_append` about concurrent writers).
    let text = unsafe { core::slice::from_raw_parts(EARLY_BUF.get() as *const u8, upto) };
    crate::prim::write_stderr(text);
    if text[upto - 1] != b'\n' {
        early_append(b"\n"); // so what follows starts on a line of its own
    }
}

/// Hand everything buffered to a user output function and stop buffering.
fn early_flush_to_user(out: OutputFun, arg: *mut c_void) {
    // AcqRel: claiming the whole capacity closes the buffer to further appends.
    let end = EARLY_LEN
        .fetch_add(EARLY_CAPACITY, Ordering::AcqRel)
        .min(EARLY_CAPACITY);
    if end == 0 {
        return;
    }
    let base = EARLY_BUF.get() as *mut u8;
    // SAFETY: `end <= EARLY_CAPACITY`, and the buffer has one extra byte for the NUL.
    // Nothing is appended any more, so `out` sees a stable string.
    unsafe {
        *base.add(end) = 0;
        out(base as *const c_char, arg);
    }
}

// ---------------------------------------------------------------------------------------
// The default output.
// ---------------------------------------------------------------------------------------

/// Values of `DEFAULT_OUT` besides a user function's address (never this small).
const DEST_BUFFER_ONLY: usize = 0;
const DEST_STDERR_AND_BUFFER: usize = 1;
const DEST_STDERR: usize = 2;

/// Where output without an explicit function goes.
static DEFAULT_OUT: AtomicUsize = AtomicUsize::new(DEST_BUFFER_ONLY);
static DEFAULT_OUT_ARG: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// Called once from `start`: flush the early output to stderr and from now on
/// write to stderr as well as the buffer. A no-op if the program already registered an
/// output function.
pub fn add_stderr_output() {
    let buffered = early_filled();
    // AcqRel: publish the switch; a concurrent `register_output` wins the race.
    if DEFAULT_OUT
        .compare_exchange(
            DEST_BUFFER_ONLY,
            DEST_STDERR_AND_BUFFER,
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
    {
        early_flush_to_stderr(buffered);
    }
}

/// `mi_register_output`: `None` restores plain stderr (and ends buffering); a function
/// first receives all output buffered so far.
pub fn register_output(f: Option<OutputFun>, arg: *mut c_void) {
    // Relaxed + Release below: readers load the destination with Acquire and then the
    // argument, so a reader that sees the new function also sees its argument.
    DEFAULT_OUT_ARG.store(arg, Ordering::Relaxed);
    DEFAULT_OUT.store(f.map_or(DEST_STDERR, |f| f as usize), Ordering::Release);
    if let Some(f) = f {
        early_flush_to_user(f, arg);
    }
}

/// Write to the default output. The caller holds the print guard.
fn write_default(bytes: &[u8]) {
    // Acquire: see `register_output`.
    let dest = DEFAULT_OUT.load(Ordering::Acquire);
    match dest {
        DEST_BUFFER_ONLY => early_append(bytes),
        DEST_STDERR_AND_BUFFER => {
            crate::prim::write_stderr(bytes);
            early_append(bytes);
        }
        DEST_STDERR => crate::prim::write_stderr(bytes),
        f => {
            // SAFETY: every other value was stored from an `OutputFun` in
            // `register_output`.
            let f = unsafe { core::mem::transmute::<usize, OutputFun>(f) };
            // Relaxed: ordered by the Acquire load of the destination above.
            let arg = DEFAULT_OUT_ARG.load(Ordering::Relaxed);
            call_output(f, arg, bytes);
        }
    }
}

/// Call a C output function with NUL-terminated pieces of at most 511 bytes.
fn call_output(f: OutputFun, arg: *mut c_void, bytes: &[u8]) {
    let mut chunk = [0u8; 512];
    for piece in bytes.chunks(chunk.len() - 1) {
        chunk[..piece.len()].copy_from_slice(piece);
        chunk[piece.len()] = 0;
        // SAFETY: `chunk` is NUL-terminated and outlives the call; `f` is the caller's
        // registered or explicitly passed output function.
        unsafe { f(chunk.as_ptr() as *const c_char, arg) };
    }
}

/// As [`output`], for byte strings (statistics lines are cut at 255 bytes).
pub fn output_bytes(out: Option<OutputFun>, arg: *mut c_void, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    match out {
        Some(f) => call_output(f, arg, bytes),
        None => {
            if let Some(_guard) = PrintGuard::enter() {
                write_default(bytes);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Re-entrance guard.
//
// Printing can re-enter itself: a user output function or a `Display` impl may allocate,
// and that allocation may report a message. C mimalloc keeps a thread-local flag; we have
// no thread-locals at this layer, so a small table holds the ids of the threads that are
// printing right now. A thread finding its own id there drops the nested message.
// ---------------------------------------------------------------------------------------

const PRINTING_SLOTS: usize = 16;
static PRINTING_THREADS: [AtomicUsize; PRINTING_SLOTS] =
    [const { AtomicUsize::new(0) }; PRINTING_SLOTS];

struct PrintGuard {
    slot: usize,
}

impl PrintGuard {
    /// `None` if this thread is already printing, or (rarely) if more than
    /// `PRINTING_SLOTS` threads print at once: dropping a message beats blocking.
    fn enter() -> Option<PrintGuard> {
        let me = thread_id();
        // Relaxed: only this thread ever stores `me`, and it sees its own stores.
        if PRINTING_THREADS
            .iter()
            .any(|s| s.load(Ordering::Relaxed) == me)
        {
            return None;
        }
        for (slot, owner) in PRINTING_THREADS.iter().enumerate() {
            // Relaxed: the slot guards no data, only identifies the printing thread.
            if owner
                .compare_exchange(0, me, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                return Some(PrintGuard { slot });
            }
        }
        None
    }
}

impl Drop for PrintGuard {
    fn drop(&mut self) {
        // Relaxed: see `enter`.
        PRINTING_THREADS[self.slot].store(0, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------
// Messages.
// ---------------------------------------------------------------------------------------

/// Formatting buffer of one message (as C mimalloc).
const MESSAGE_MAX: usize = 512;
/// Room for the prefix and the thread id.
const PREFIX_MAX: usize = 64;

/// Thread id of the main thread; 0 until process init sets it (then every thread counts
/// as the main one, like C's `_mi_is_main_thread`).
static MAIN_THREAD_ID: AtomicUsize = AtomicUsize::new(0);

pub fn set_main_thread_id(tid: usize) {
    // Relaxed: it only selects a message prefix.
    MAIN_THREAD_ID.store(tid, Ordering::Relaxed);
}

fn is_main_thread() -> bool {
    // Relaxed: see `set_main_thread_id`.
    let main = MAIN_THREAD_ID.load(Ordering::Relaxed);
    main == 0 || main == thread_id()
}

/// Format `args` behind `prefix` (and `thread 0x<id>: ` for non-main threads when
/// `tag_thread`) and write it to the default output as one piece. `add_newline` ends the
/// text with a newline if it lacks one.
fn emit(prefix: &str, tag_thread: bool, args: fmt::Arguments, add_newline: bool) {
    let Some(_guard) = PrintGuard::enter() else {
        return;
    };
    let mut message = StackBuf::<MESSAGE_MAX>::new();
    let _ = message.write_fmt(args);
    let mut line = StackBuf::<{ PREFIX_MAX + MESSAGE_MAX + 1 }>::new();
    let _ = line.write_str(prefix);
    if tag_thread && !is_main_thread() {
        let _ = write!(line, "thread 0x{}: ", Hex(thread_id()));
    }
    let _ = line.write_str(message.as_str());
    if add_newline && !line.as_bytes().ends_with(b"\n") {
        let _ = line.write_str("\n");
    }
    write_default(line.as_bytes());
}

/// `_mi_options_init`, from the library constructor (once preloading is over): starts
/// writing messages to stderr (flushing the early buffer), reads every option (listing
/// them when `verbose`, with what was wrong in the environment) and loads the
/// error/warning limits.
pub(crate) fn start() {
    add_stderr_output();
    for o in Opt::ALL {
        let value = options::get(o);
        report_env_problems();
        let unit = if o.has_size_in_kib() { "KiB" } else { "" };
        verbose(format_args!("option '{}': {} {}\n", o.name(), value, unit));
    }
    set_message_limits(options::get(Opt::MaxErrors), options::get(Opt::MaxWarnings));
}

/// Warn about the options the environment gave under a deprecated name or with an
/// invalid value (`options::EnvProblems`), once each.
#[cold]
fn report_env_problems() {
    let found = options::take_env_problems();
    for o in Opt::ALL {
        let bit = 1u64 << o as usize;
        if found.legacy_name & bit != 0 {
            if let Some(legacy) = o.legacy_name() {
                warning(format_args!(
                    "environment option \"mimalloc_{}\" is deprecated -- use \"mimalloc_{}\" instead.\n",
                    legacy,
                    o.name()
                ));
            }
        }
        if found.invalid & bit != 0 {
            let args = format_args!(
                "environment option mimalloc_{} has an invalid value.\n",
                o.name()
            );
            if o == Opt::Verbose && !options::is_enabled(Opt::Verbose) {
                // A bad `mimalloc_verbose` would otherwise go unnoticed: show it as if
                // verbose were on (not counted against `max_warnings`).
                emit("mimalloc: warning: ", true, args, true);
            } else {
                warning(args);
            }
        }
    }
}

/// `_mi_verbose_message`: shown when the `verbose` option is at least 1.
pub fn verbose(args: fmt::Arguments) {
    if options::has_env_problems() {
        report_env_problems();
    }
    if !options::is_enabled(Opt::Verbose) {
        return;
    }
    emit("mimalloc: ", false, args, true);
}

/// Message limits; until `start` loads `max_errors`/`max_warnings` they are 16.
static MAX_ERRORS: AtomicI64 = AtomicI64::new(16);
static MAX_WARNINGS: AtomicI64 = AtomicI64::new(16);
static ERRORS_SHOWN: AtomicUsize = AtomicUsize::new(0);
static WARNINGS_SHOWN: AtomicUsize = AtomicUsize::new(0);

/// Set the number of errors and warnings printed (negative = unlimited).
pub fn set_message_limits(max_errors: i64, max_warnings: i64) {
    // Relaxed: independent limits; a racing message may use the old one.
    MAX_ERRORS.store(max_errors, Ordering::Relaxed);
    MAX_WARNINGS.store(max_warnings, Ordering::Relaxed);
}

/// Errors and warnings show with `verbose`, or with `show_errors` while the count is in
/// limit. As in C mimalloc the count is compared before incrementing, so `max + 1`
/// messages of each kind get out.
fn should_show(shown: &AtomicUsize, max: &AtomicI64) -> bool {
    if options::has_env_problems() {
        report_env_problems();
    }
    if options::is_enabled(Opt::Verbose) {
        return true;
    }
    options::is_enabled(Opt::ShowErrors) && within_limit(shown, max)
}

fn within_limit(shown: &AtomicUsize, max: &AtomicI64) -> bool {
    // Relaxed: a limit, not a synchronisation point.
    let max = max.load(Ordering::Relaxed);
    // Relaxed: only counts messages.
    max < 0 || (shown.fetch_add(1, Ordering::Relaxed) as i64) <= max
}

/// `_mi_warning_message`.
pub fn warning(args: fmt::Arguments) {
    if should_show(&WARNINGS_SHOWN, &MAX_WARNINGS) {
        emit("mimalloc: warning: ", true, args, true);
    }
}

static ERROR_FN: AtomicUsize = AtomicUsize::new(0);
static ERROR_ARG: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// `mi_register_error`: `None` restores the default handler.
pub fn register_error(f: Option<ErrorFun>, arg: *mut c_void) {
    // Relaxed + Release: as in `register_output`.
    ERROR_ARG.store(arg, Ordering::Relaxed);
    ERROR_FN.store(f.map_or(0, |f| f as usize), Ordering::Release);
}

/// `_mi_error_message`: print (if enabled and within limits), then call the registered
/// error handler, or the default one, which may abort.
pub fn error(err: i32, args: fmt::Arguments) {
    if should_show(&ERRORS_SHOWN, &MAX_ERRORS) {
        emit("mimalloc: error: ", true, args, true);
    }
    // Acquire: see `register_error`.
    let handler = ERROR_FN.load(Ordering::Acquire);
    if handler != 0 {
        // SAFETY: non-zero values were stored from an `ErrorFun` in `register_error`.
        let handler = unsafe { core::mem::transmute::<usize, ErrorFun>(handler) };
        // Relaxed: ordered by the Acquire load above.
        let arg = ERROR_ARG.load(Ordering::Relaxed);
        // SAFETY: calling the function the program registered, with its argument.
        unsafe { handler(err, arg) };
    } else {
        default_error_handler(err);
    }
}

fn default_error_handler(err: i32) {
    let abort_on_corruption = DEBUG > 0 || SECURE >= 1;
    let abort_on_oom = cfg!(feature = "xmalloc");
    if (abort_on_corruption && err == libc::EFAULT)
        || (abort_on_oom && (err == libc::ENOMEM || err == libc::EOVERFLOW))
    {
        // SAFETY: abort has no preconditions and never returns.
        unsafe { libc::abort() };
    }
}

static DEFERRED_FN: AtomicUsize = AtomicUsize::new(0);
static DEFERRED_ARG: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// `mi_register_deferred_free`: `None` unregisters.
pub fn register_deferred_free(f: Option<DeferredFreeFun>, arg: *mut c_void) {
    // Relaxed + Release: as in `register_output`.
    DEFERRED_ARG.store(arg, Ordering::Relaxed);
    DEFERRED_FN.store(f.map_or(0, |f| f as usize), Ordering::Release);
}

/// The registered deferred-free callback and its argument, if any.
pub fn deferred_free_hook() -> Option<(DeferredFreeFun, *mut c_void)> {
    // Acquire: see `register_deferred_free`.
    let f = DEFERRED_FN.load(Ordering::Acquire);
    if f == 0 {
        return None;
    }
    // SAFETY: non-zero values were stored from a `DeferredFreeFun`.
    let f = unsafe { core::mem::transmute::<usize, DeferredFreeFun>(f) };
    // Relaxed: ordered by the Acquire load above.
    Some((f, DEFERRED_ARG.load(Ordering::Relaxed)))
}

// ---------------------------------------------------------------------------------------
// C-style number formatting for messages.
// ---------------------------------------------------------------------------------------

/// Formats a number as mimalloc's `%x`: upper-case hex, at least two digits.
#[derive(Clone, Copy)]
pub struct Hex(pub usize);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}", self.0)
    }
}

/// `mimalloc: <text>` when `verbose` ≥ 1.
#[macro_export]
#[doc(hidden)]
macro_rules! mi_verbose {
    ($($arg:tt)+) => { $crate::output::verbose(format_args!($($arg)+)) };
}

/// `mimalloc: warning: [thread 0x..: ]<text>` (with `show_errors` or `verbose`).
#[macro_export]
#[doc(hidden)]
macro_rules! mi_warning {
    ($($arg:tt)+) => { $crate::output::warning(format_args!($($arg)+)) };
}

/// `mi_error!(errno, "...")`: print and call the error handler.
#[macro_export]
#[doc(hidden)]
macro_rules! mi_error {
    ($err:expr, $($arg:tt)+) => { $crate::output::error($err, format_args!($($arg)+)) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::string::String;
    use std::sync::Mutex;

    #[test]
    fn stackbuf_truncates_at_char_boundary() {
        let mut b = StackBuf::<8>::new();
        assert_eq!(b.capacity(), 7);
        write!(b, "abc").unwrap();
        assert_eq!(b.as_str(), "abc");
        write!(b, "d€€").unwrap(); // 'd' (1) + '€' (3) fit, the second '€' does not
        assert_eq!(b.as_str(), "abcd€");
        write!(b, "xyz").unwrap();
        assert_eq!(b.as_str(), "abcd€");
        assert_eq!(b.as_bytes(), "abcd€".as_bytes());
        b.clear();
        assert!(b.as_bytes().is_empty());
        write!(b, "{:>5}", 42).unwrap();
        assert_eq!(b.as_str(), "   42");
    }

    static CAPTURE: Mutex<String> = Mutex::new(String::new());
    /// Held by the tests that write to the default output.
    static SERIAL: Mutex<()> = Mutex::new(());

    unsafe extern "C" fn capture(msg: *const c_char, arg: *mut c_void) {
        assert_eq!(arg as usize, 0x1234);
        // SAFETY: the output contract passes a NUL-terminated string.
        let s = unsafe { CStr::from_ptr(msg) }.to_str().unwrap();
        CAPTURE.lock().unwrap().push_str(s);
    }

    #[test]
    fn explicit_output_gets_nul_terminated_chunks() {
        static PIECES: Mutex<std::vec::Vec<usize>> = Mutex::new(std::vec::Vec::new());
        unsafe extern "C" fn count(msg: *const c_char, _arg: *mut c_void) {
            // SAFETY: NUL-terminated by contract.
            let n = unsafe { CStr::from_ptr(msg) }.to_bytes().len();
            PIECES.lock().unwrap().push(n);
        }
        let long = "x".repeat(1200);
        output_bytes(Some(count), ptr::null_mut(), long.as_bytes());
        assert_eq!(*PIECES.lock().unwrap(), [511, 511, 178]);
    }

    #[test]
    fn guard_refuses_reentry_on_the_same_thread() {
        let outer = PrintGuard::enter().expect("first entry");
        assert!(PrintGuard::enter().is_none());
        let other = std::thread::spawn(|| PrintGuard::enter().is_some())
            .join()
            .unwrap();
        assert!(other, "another thread may print concurrently");
        drop(outer);
        assert!(PrintGuard::enter().is_some());
    }

    #[test]
    fn c_style_hex() {
        assert_eq!(std::format!("{}", Hex(0xa)), "0A");
        assert_eq!(std::format!("{}", Hex(0xbeef)), "BEEF");
    }

    #[test]
    fn deferred_free_registration() {
        unsafe extern "C" fn hook(_force: bool, _beat: u64, _arg: *mut c_void) {}
        assert!(deferred_free_hook().is_none());
        register_deferred_free(Some(hook), 7 as *mut c_void);
        let (f, arg) = deferred_free_hook().unwrap();
        assert_eq!(f as usize, hook as *const () as usize);
        assert_eq!(arg as usize, 7);
        register_deferred_free(None, ptr::null_mut());
        assert!(deferred_free_hook().is_none());
    }

    #[test]
    fn error_handler_receives_code() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        static SEEN: AtomicUsize = AtomicUsize::new(0);
        unsafe extern "C" fn on_error(err: c_int, arg: *mut c_void) {
            // Relaxed: read back on the same thread.
            SEEN.store(err as usize + arg as usize, Ordering::Relaxed);
        }
        register_error(Some(on_error), 100 as *mut c_void);
        error(libc::EOVERFLOW, format_args!("too large {}", 1));
        // Relaxed: read back on the same thread.
        assert_eq!(SEEN.load(Ordering::Relaxed), 175);
        register_error(None, ptr::null_mut());
        error(libc::EINVAL, format_args!("no abort for EINVAL"));
    }

    #[test]
    fn message_counting_limits() {
        let shown = AtomicUsize::new(0);
        let max = AtomicI64::new(2);
        assert_eq!((0..10).filter(|_| within_limit(&shown, &max)).count(), 3);
        let unlimited = AtomicI64::new(-1);
        assert_eq!(
            (0..10).filter(|_| within_limit(&shown, &unlimited)).count(),
            10
        );
    }

    /// One test walks through the global output states in order, since they are
    /// process-wide: buffer only → stderr + buffer → user function.
    #[test]
    fn early_buffer_then_user_output() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        // Start from the state before the constructor (which may have run in this
        // process already).
        // Relaxed (both): test set-up on this thread.
        DEFAULT_OUT.store(DEST_BUFFER_ONLY, Ordering::Relaxed);
        EARLY_LEN.store(0, Ordering::Relaxed);
        emit("", false, format_args!("early {}\n", 1), false);
        add_stderr_output();
        // Relaxed: read back on the same thread.
        assert_eq!(DEFAULT_OUT.load(Ordering::Relaxed), DEST_STDERR_AND_BUFFER);
        emit("", false, format_args!("later {}\n", 2), false);
        register_output(Some(capture), 0x1234 as *mut c_void);
        {
            let got = CAPTURE.lock().unwrap();
            let early = got.find("early 1\n").expect("buffered output delivered");
            let later = got
                .find("later 2\n")
                .expect("output after stderr was added");
            assert!(early < later);
        }
        CAPTURE.lock().unwrap().clear();
        // Other tests of the crate may print too (with `show_errors`): look for ours.
        // No thread has id 1, so every thread is tagged.
        emit("", false, format_args!("direct {}", 3), false);
        // Relaxed: read back on the same thread.
        let main_thread = MAIN_THREAD_ID.load(Ordering::Relaxed);
        set_main_thread_id(1);
        emit("mimalloc: warning: ", true, format_args!("w{}", 4), true);
        let t = std::thread::spawn(|| {
            emit("mimalloc: error: ", true, format_args!("e"), true);
            thread_id()
        })
        .join()
        .unwrap();
        set_main_thread_id(main_thread);
        let got = CAPTURE.lock().unwrap().clone();
        let warning = std::format!("mimalloc: warning: thread 0x{:X}: w4\n", thread_id());
        let error = std::format!("mimalloc: error: thread 0x{:X}: e\n", t);
        assert!(got.contains("direct 3"), "{got:?}");
        assert!(got.contains(&warning), "{got:?}");
        assert!(got.contains(&error), "{got:?}");
        register_output(None, ptr::null_mut());
        // Relaxed: read back on the same thread.
        assert_eq!(DEFAULT_OUT.load(Ordering::Relaxed), DEST_STDERR);
    }
}
