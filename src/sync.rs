//! The one door through which atomics, interior mutability and thread-local state pass.
//!
//! Keeping them here means a model checker (loom) or an alternative TLS strategy can be
//! swapped in at one place. The default heap pointer is the only thread-local the
//! allocator has; everything else per thread hangs off the heap it points to.

pub use core::sync::atomic::{
    AtomicBool, AtomicI64, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};

use core::cell::UnsafeCell;

/// A word-sized atomic as the lock-free protocols use it (the thread-free list and
/// delayed-free states of a page, a heap's delayed list, the arena bitmaps, the
/// abandoned map). The protocol code is generic over it: the allocator instantiates it
/// with `AtomicUsize` (the same machine code as calling the atomic directly), and under
/// `--cfg loom` the models in `crate::models` instantiate the very same functions with
/// loom's checked atomic, so the model checker explores the code that ships.
pub trait AtomicWord {
    fn load(&self, order: Ordering) -> usize;
    fn swap(&self, val: usize, order: Ordering) -> usize;
    fn compare_exchange_weak(
        &self,
        current: usize,
        new: usize,
        success: Ordering,
        failure: Ordering,
    ) -> Result<usize, usize>;
    fn fetch_or(&self, val: usize, order: Ordering) -> usize;
    fn fetch_and(&self, val: usize, order: Ordering) -> usize;
    fn fetch_add(&self, val: usize, order: Ordering) -> usize;
    fn fetch_sub(&self, val: usize, order: Ordering) -> usize;
    /// Let another thread run while waiting for one (a spin loop's back-off).
    fn yield_now();
}

macro_rules! impl_atomic_word {
    ($t:ty, $yield:expr) => {
        impl_atomic_word!($t, $yield, swap fetch_or fetch_and fetch_add fetch_sub);
    };
    ($t:ty, $yield:expr, $($rmw:ident)*) => {
        impl AtomicWord for $t {
            #[inline(always)]
            fn load(&self, order: Ordering) -> usize {
                <$t>::load(self, order)
            }
            #[inline(always)]
            fn compare_exchange_weak(
                &self,
                current: usize,
                new: usize,
                success: Ordering,
                failure: Ordering,
            ) -> Result<usize, usize> {
                <$t>::compare_exchange_weak(self, current, new, success, failure)
            }
            // the read-modify-writes that take a value: each is the type's own
            $(
                #[inline(always)]
                fn $rmw(&self, val: usize, order: Ordering) -> usize {
                    <$t>::$rmw(self, val, order)
                }
            )*
            #[inline(always)]
            fn yield_now() {
                $yield
            }
        }
    };
}

impl_atomic_word!(AtomicUsize, yield_now());
// The models' atomic: every operation is a point where loom may switch threads, and
// loads may return any value the memory model allows.
#[cfg(all(test, loom))]
impl_atomic_word!(loom::sync::atomic::AtomicUsize, loom::thread::yield_now());

/// A `static` that the allocator mutates under its own protocol (thread ownership or an
/// explicit lock). `Sync` is asserted because every access site documents why it is
/// exclusive.
#[repr(transparent)]
pub struct Racy<T>(UnsafeCell<T>);

// SAFETY: all accesses go through `get()`, whose callers guarantee exclusivity (the data
// is owned by one thread, or is only touched under a lock / once at start-up).
unsafe impl<T> Sync for Racy<T> {}

impl<T> Racy<T> {
    pub const fn new(v: T) -> Self {
        Racy(UnsafeCell::new(v))
    }
    #[inline(always)]
    pub const fn get(&self) -> *mut T {
        self.0.get()
    }
}

/// Identity of the calling thread: the thread pointer. It is non-zero, unique among live
/// threads, and needs no initialisation, so `free` can compare it with a segment's owner
/// before the thread was ever set up.
#[inline(always)]
pub fn thread_id() -> usize {
    #[cfg(all(target_arch = "x86_64", windows))]
    {
        let tid: usize;
        // SAFETY: on x86-64 Windows `gs` addresses the thread's TEB, whose field at 0x30
        // is its own address; reading it has no side effects.
        unsafe {
            core::arch::asm!("mov {}, qword ptr gs:[0x30]", out(reg) tid,
                options(nostack, preserves_flags, readonly, pure));
        }
        tid
    }
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    {
        let tid: usize;
        // SAFETY: on x86-64 Linux `%fs:0` holds the thread control block's self pointer;
        // reading it has no side effects.
        unsafe {
            core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tid,
                options(nostack, preserves_flags, readonly, pure));
        }
        tid
    }
    #[cfg(target_arch = "aarch64")]
    {
        let tid: usize;
        // SAFETY: `tpidr_el0` is the thread pointer register, readable at EL0.
        unsafe {
            core::arch::asm!("mrs {}, tpidr_el0", out(reg) tid,
                options(nostack, preserves_flags, nomem, pure));
        }
        tid
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        // The address of errno is per thread and stable for the thread's life.
        // SAFETY: __errno_location has no preconditions.
        unsafe { libc::__errno_location() as usize }
    }
}

// ---------------------------------------------------------------------------------------
// The thread-local default heap pointer.
//
// Initial-exec TLS (the default, as C mimalloc's `-ftls-model=initial-exec`): one 8-byte
// `.tdata` slot defined in assembly and addressed through its GOT TP-offset, so a read is
// two instructions and never calls `__tls_get_addr` (which can allocate). The slot's
// initial image holds the address of the empty heap (a load-time relocation, applied
// before the dynamic linker copies the image into any thread's TLS block, also for
// threads that exist when the library is dlopen'ed), so a thread starts out pointing at
// the empty heap and the fast path reads the slot without a null test.
//
// With the feature `local_dynamic_tls` (CMake `MI_LOCAL_DYNAMIC_TLS=ON`, for libraries
// loaded late with dlopen) or on other architectures, a pthread key is used instead; its
// value starts at 0, which the accessors' callers read as "the empty heap".
// ---------------------------------------------------------------------------------------

#[cfg(all(
    target_arch = "x86_64",
    target_os = "linux",
    not(feature = "local_dynamic_tls")
))]
mod tls {
    // The slot itself, `_mi_rs_heap_default`, is defined next to the empty heap it
    // starts out pointing at (`state::HEAP_EMPTY`); here it is only named.

    /// The slot starts out holding the empty heap's address, never 0.
    pub const STARTS_AT_EMPTY_HEAP: bool = true;

    #[inline(always)]
    pub fn get() -> usize {
        let v: usize;
        // SAFETY: reads this thread's slot via its initial-exec TP offset; the slot is
        // 8 bytes of TLS defined above.
        unsafe {
            core::arch::asm!(
                "mov {v}, qword ptr [rip + _mi_rs_heap_default@GOTTPOFF]",
                "mov {v}, qword ptr fs:[{v}]",
                v = out(reg) v,
                options(nostack, preserves_flags, readonly),
            );
        }
        v
    }

    #[inline(always)]
    pub fn set(v: usize) {
        // SAFETY: writes this thread's own slot (see `get`).
        unsafe {
            core::arch::asm!(
                "mov {t}, qword ptr [rip + _mi_rs_heap_default@GOTTPOFF]",
                "mov qword ptr fs:[{t}], {v}",
                t = out(reg) _,
                v = in(reg) v,
                options(nostack, preserves_flags),
            );
        }
    }

    pub const MODEL: &str = "initial-exec";
}

// Windows: a `TlsAlloc` index read from the TEB (src/sync_windows.rs).
#[cfg(windows)]
#[path = "sync_windows.rs"]
mod tls;

#[cfg(not(any(
    windows,
    all(
        target_arch = "x86_64",
        target_os = "linux",
        not(feature = "local_dynamic_tls")
    )
)))]
mod tls {
    use super::{AtomicUsize, Ordering};

    /// The slot (a key's value) starts out 0, standing for the empty heap.
    pub const STARTS_AT_EMPTY_HEAP: bool = false;

    // Key + 1, so 0 means "not created yet".
    static KEY: AtomicUsize = AtomicUsize::new(0);

    fn key() -> Option<libc::pthread_key_t> {
        // Relaxed: the key is created once during process init (which happens-before any
        // thread that could observe it through thread creation).
        let k = KEY.load(Ordering::Relaxed);
        if k == 0 {
            None
        } else {
            Some((k - 1) as libc::pthread_key_t)
        }
    }

    #[inline]
    pub fn get() -> usize {
        match key() {
            // SAFETY: the key was created by `pthread_key_create`.
            Some(k) => unsafe { libc::pthread_getspecific(k) as usize },
            None => 0,
        }
    }

    pub fn set(v: usize) {
        let k = match key() {
            Some(k) => k,
            None => {
                let mut k: libc::pthread_key_t = 0;
                // SAFETY: plain key creation; no destructor (thread teardown uses its own key).
                if unsafe { libc::pthread_key_create(&mut k, None) } != 0 {
                    return;
                }
                // Relaxed: racing creators at process start are benign (one key wins,
                // the other leaks one key slot).
                KEY.store(k as usize + 1, Ordering::Relaxed);
                k
            }
        };
        // SAFETY: valid key; the value is an opaque pointer.
        unsafe { libc::pthread_setspecific(k, v as *const libc::c_void) };
    }

    pub const MODEL: &str = "pthread key";
}

/// Whether a thread's default-heap slot starts out holding the empty heap's address
/// (initial-exec TLS); otherwise it starts out 0, which stands for the empty heap.
pub const TLS_STARTS_AT_EMPTY_HEAP: bool = tls::STARTS_AT_EMPTY_HEAP;

/// Raw value of this thread's default-heap slot (a heap address, or 0 for the empty
/// heap unless `TLS_STARTS_AT_EMPTY_HEAP`).
#[inline(always)]
pub fn tls_heap_get() -> usize {
    tls::get()
}

/// Set this thread's default-heap slot.
#[inline(always)]
pub fn tls_heap_set(v: usize) {
    tls::set(v)
}

/// Name of the TLS access model in use, for verbose output.
pub const TLS_MODEL: &str = tls::MODEL;

#[inline]
pub fn yield_now() {
    #[cfg(not(windows))]
    // SAFETY: sched_yield has no preconditions.
    unsafe {
        libc::sched_yield();
    }
    #[cfg(windows)]
    tls::yield_now();
}
