//! Random numbers: a ChaCha20 generator keyed from the OS (heap cookies, free-list keys,
//! hint addresses), plus a cheap 64-bit mixer for per-page shuffling.
//!
//! The 512-bit state is the standard ChaCha layout, except that words 12–13 are a 64-bit
//! block counter and words 14–15 a 64-bit nonce (the address of the generator, so every
//! heap has its own stream). Seeding uses `getrandom(GRND_NONBLOCK)`, then
//! `/dev/urandom`, and if both fail a weak seed from the clock and address-space layout.

use crate::sync::{AtomicBool, Ordering};

const ROUNDS: usize = 20;
/// "expand 32-byte k" as four little-endian words.
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// A ChaCha20 random generator (`mi_random_ctx_t`).
#[derive(Clone)]
pub struct Random {
    input: [u32; 16],
    output: [u32; 16],
    available: usize,
    weak: bool,
}

impl Random {
    /// An unseeded generator, for static initialisers; call [`Random::init`] before use.
    pub const fn empty() -> Random {
        Random {
            input: [0; 16],
            output: [0; 16],
            available: 0,
            weak: false,
        }
    }

    /// Seed from the OS, with this generator's address as the nonce. Falls back to a
    /// weak seed (and warns) if the OS gives no randomness.
    pub fn init(&mut self) {
        self.init_ex(false);
    }

    /// Seed from the clock and addresses only, without asking the OS (for use before the
    /// OS may be called safely).
    pub fn init_weak(&mut self) {
        self.init_ex(true);
    }

    /// Re-seed from the OS if the current seed is weak.
    pub fn reinit_if_weak(&mut self) {
        if self.weak {
            self.init();
        }
    }

    /// Whether the seed came from the weak fallback instead of the OS.
    pub fn is_weak(&self) -> bool {
        self.weak
    }

    fn init_ex(&mut self, use_weak: bool) {
        let mut key = [0u8; 32];
        let weak = use_weak || !os_random_buf(&mut key);
        if weak {
            if !use_weak {
                crate::output::warning(format_args!("unable to use secure randomness\n"));
            }
            let mut x = os_random_weak(0) as u64;
            for word in key.chunks_exact_mut(4) {
                x = shuffle(x);
                word.copy_from_slice(&(x as u32).to_le_bytes());
            }
        }
        let nonce = self as *const Random as usize as u64;
        self.set_key(&key, nonce);
        self.weak = weak;
    }

    fn set_key(&mut self, key: &[u8; 32], nonce: u64) {
        *self = Random::empty();
        self.input[..4].copy_from_slice(&SIGMA);
        for (word, bytes) in self.input[4..12].iter_mut().zip(key.chunks_exact(4)) {
            *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        self.set_nonce(nonce);
    }

    fn set_nonce(&mut self, nonce: u64) {
        self.input[12] = 0;
        self.input[13] = 0;
        self.input[14] = nonce as u32;
        self.input[15] = (nonce >> 32) as u32;
    }

    /// A generator for a new thread's heap: the process key (`seed_process_key`) with a
    /// nonce never used before, so the new thread costs no system call; its first block
    /// is computed when first asked for. Falls back to seeding from the OS while the
    /// process key is not set up.
    pub fn new_stream() -> Random {
        // Acquire: pairs with the release in `seed_process_key`: the key is written.
        if !PROCESS_KEY_READY.load(Ordering::Acquire) {
            let mut r = Random::empty();
            r.init();
            return r;
        }
        // Relaxed: only uniqueness matters (each value is handed out once).
        let nonce = STREAM_NONCE.fetch_add(1, Ordering::Relaxed);
        let mut r = Random::empty();
        // SAFETY: the key is written once before `PROCESS_KEY_READY` is set (and again
        // only in a fork child, which has one thread).
        r.input = unsafe { *PROCESS_KEY.get() };
        r.set_nonce(nonce);
        r.weak = PROCESS_KEY_WEAK.load(Ordering::Relaxed);
        r
    }

    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)] // an endless generator, not an iterator
    pub fn next(&mut self) -> u64 {
        let high = self.next32() as u64;
        let low = self.next32() as u64;
        (high << 32) | low
    }

    fn next32(&mut self) -> u32 {
        if self.available == 0 {
            self.refill();
        }
        let i = 16 - self.available;
        let x = self.output[i];
        self.output[i] = 0; // handed-out output is not kept around
        self.available -= 1;
        x
    }

    /// Compute the next block into `output` and advance the counter (it carries into
    /// the nonce words only after 2^64 blocks).
    fn refill(&mut self) {
        self.output = chacha_block(&self.input);
        self.available = 16;
        let (counter, carry) = self.input[12].overflowing_add(1);
        self.input[12] = counter;
        if carry {
            let (high, carry) = self.input[13].overflowing_add(1);
            self.input[13] = high;
            if carry {
                self.input[14] = self.input[14].wrapping_add(1);
            }
        }
    }
}

#[inline(always)]
fn quarter_round(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
}

/// The ChaCha block function: 20 rounds, then the input added back in.
fn chacha_block(input: &[u32; 16]) -> [u32; 16] {
    let mut x = *input;
    for _ in 0..ROUNDS / 2 {
        // a column round, then a diagonal round
        quarter_round(&mut x, 0, 4, 8, 12);
        quarter_round(&mut x, 1, 5, 9, 13);
        quarter_round(&mut x, 2, 6, 10, 14);
        quarter_round(&mut x, 3, 7, 11, 15);
        quarter_round(&mut x, 0, 5, 10, 15);
        quarter_round(&mut x, 1, 6, 11, 12);
        quarter_round(&mut x, 2, 7, 8, 13);
        quarter_round(&mut x, 3, 4, 9, 14);
    }
    for (out, inp) in x.iter_mut().zip(input) {
        *out = out.wrapping_add(*inp);
    }
    x
}

/// The splitmix64 finaliser (`_mi_random_shuffle`); 0 is first mapped to 17 so that it
/// never gets stuck at zero.
#[inline]
pub fn shuffle(x: u64) -> u64 {
    let mut x = if x == 0 { 17 } else { x };
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    x
}

/// A weak random value from address-space layout and the clock (`_mi_os_random_weak`).
pub fn os_random_weak(extra: usize) -> usize {
    // ASLR randomises where this function and the stack are.
    let code = os_random_weak as *const () as usize as u64;
    let stack = &extra as *const usize as u64;
    let mut x = code ^ stack.rotate_left(32) ^ extra as u64 ^ crate::stats::clock_now() as u64;
    let rounds = ((x ^ (x >> 17)) & 0x0f) + 1;
    for _ in 0..rounds {
        x = shuffle(x);
    }
    x as usize
}

/// The process key: the ChaCha input (constants and a 256-bit key from the OS) from
/// which `Random::new_stream` derives one stream per new thread, each with its own
/// nonce. One system call for the process instead of one per thread; the streams are as
/// independent as streams of separately keyed generators, to anyone who does not know
/// the key.
static PROCESS_KEY: crate::sync::Racy<[u32; 16]> = crate::sync::Racy::new([0; 16]);
static PROCESS_KEY_READY: AtomicBool = AtomicBool::new(false);
static PROCESS_KEY_WEAK: AtomicBool = AtomicBool::new(false);
/// The next stream nonce. Streams of the process key never share a nonce; the main heap
/// and arenas use generators keyed separately.
static STREAM_NONCE: crate::sync::AtomicU64 = crate::sync::AtomicU64::new(1);

/// Key the per-thread streams from the OS: at process start, and again in a fork child
/// (else parent and child would hand their new threads the same random numbers).
pub fn seed_process_key() {
    let mut r = Random::empty();
    r.init();
    // SAFETY: called at process start before threads other than the caller allocate, or
    // in a fork child (one thread); readers wait for `PROCESS_KEY_READY`. A concurrent
    // reader in the first case would see the flag false and seed from the OS itself.
    unsafe { *PROCESS_KEY.get() = r.input };
    // Relaxed: published by the release store below.
    PROCESS_KEY_WEAK.store(r.weak, Ordering::Relaxed);
    // Release: a reader that sees `true` sees the key.
    PROCESS_KEY_READY.store(true, Ordering::Release);
}

/// Set once `getrandom` turned out not to exist (ENOSYS) or be forbidden (EPERM).
static NO_GETRANDOM: AtomicBool = AtomicBool::new(false);

/// Fill `buf` with OS randomness: `BCryptGenRandom` (Windows).
#[cfg(windows)]
pub fn os_random_buf(buf: &mut [u8]) -> bool {
    let _ = &NO_GETRANDOM;
    crate::prim::random_buf(buf)
}

/// Fill `buf` with OS randomness: `getrandom` without blocking, else `/dev/urandom`.
/// Uses raw system calls only, and leaves `errno` as it was.
#[cfg(not(windows))]
pub fn os_random_buf(buf: &mut [u8]) -> bool {
    // SAFETY: reading this thread's errno.
    let saved_errno = unsafe { *libc::__errno_location() };
    let ok = getrandom_fill(buf) || urandom_fill(buf);
    // SAFETY: restoring this thread's errno.
    unsafe { *libc::__errno_location() = saved_errno };
    ok
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn getrandom_fill(buf: &mut [u8]) -> bool {
    // Relaxed: a cache of a fact about the kernel; racing probes give the same answer.
    if NO_GETRANDOM.load(Ordering::Relaxed) {
        return false;
    }
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the range `filled..` of `buf` is writable for its length.
        let r = unsafe {
            libc::syscall(
                libc::SYS_getrandom,
                buf.as_mut_ptr().add(filled),
                buf.len() - filled,
                libc::GRND_NONBLOCK,
            )
        };
        if r > 0 {
            filled += r as usize;
            continue;
        }
        // SAFETY: reading this thread's errno.
        let err = unsafe { *libc::__errno_location() };
        match err {
            libc::EINTR => continue,
            libc::ENOSYS | libc::EPERM => {
                // Relaxed: see above.
                NO_GETRANDOM.store(true, Ordering::Relaxed);
                return false;
            }
            // EAGAIN: the pool is not initialised yet (early boot); urandom won't block.
            _ => return false,
        }
    }
    true
}

#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
fn getrandom_fill(_buf: &mut [u8]) -> bool {
    let _ = &NO_GETRANDOM;
    false
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn urandom_fill(buf: &mut [u8]) -> bool {
    let path = c"/dev/urandom";
    // SAFETY: a NUL-terminated path; raw open/read/close on a descriptor we own, reading
    // within `buf`.
    unsafe {
        let fd = libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return false;
        }
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
        filled == buf.len()
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
fn urandom_fill(buf: &mut [u8]) -> bool {
    // SAFETY: a NUL-terminated path; open/read/close on a descriptor we own.
    unsafe {
        let fd = libc::open(c"/dev/urandom".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let mut filled = 0usize;
        while filled < buf.len() {
            let r = libc::read(fd, buf.as_mut_ptr().add(filled).cast(), buf.len() - filled);
            if r > 0 {
                filled += r as usize;
            } else if r == 0 || *libc::__errno_location() != libc::EINTR {
                break;
            }
        }
        libc::close(fd);
        filled == buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7539 §2.1.1.
    #[test]
    fn quarter_round_vector() {
        let mut x = [0u32; 16];
        x[0] = 0x1111_1111;
        x[1] = 0x0102_0304;
        x[2] = 0x9b8d_6f43;
        x[3] = 0x0123_4567;
        quarter_round(&mut x, 0, 1, 2, 3);
        assert_eq!(
            &x[..4],
            &[0xea2a_92f4, 0xcb1c_f8ce, 0x4581_472e, 0x5881_c4bb]
        );
    }

    fn rfc_key() -> [u8; 32] {
        core::array::from_fn(|i| i as u8)
    }

    /// RFC 7539 §2.3.2: key 00..1f, nonce 000000090000004a00000000, block counter 1.
    #[test]
    fn block_vector() {
        let mut r = Random::empty();
        r.set_key(&rfc_key(), 0);
        // The RFC has a 32-bit counter and a 96-bit nonce; lay them out in our words.
        r.input[12] = 1;
        r.input[13] = 0x0900_0000;
        r.input[14] = 0x4a00_0000;
        r.input[15] = 0;
        let out = chacha_block(&r.input);
        let expected: [u32; 16] = [
            0xe4e7_f110,
            0x1559_3bd1,
            0x1fdd_0f50,
            0xc471_20a3,
            0xc7f4_d1c7,
            0x0368_c033,
            0x9aaa_2204,
            0x4e6c_d4c3,
            0x4664_82d2,
            0x09aa_9f07,
            0x05d7_c214,
            0xa202_8bd9,
            0xd19c_12b5,
            0xb94e_16de,
            0xe883_d0cb,
            0x4e3c_50a2,
        ];
        assert_eq!(out, expected);
    }

    /// RFC 7539 appendix A.1, test vector 1: all-zero key, nonce and counter.
    #[test]
    fn zero_key_keystream() {
        let mut r = Random::empty();
        r.set_key(&[0; 32], 0);
        let expected_bytes: [u8; 16] = [
            0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90, 0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86,
            0xbd, 0x28,
        ];
        let mut got = [0u8; 16];
        for word in got.chunks_exact_mut(4) {
            word.copy_from_slice(&r.next32().to_le_bytes());
        }
        assert_eq!(got, expected_bytes);
        // next() joins two words, the first in the high half.
        let mut a = Random::empty();
        a.set_key(&[0; 32], 0);
        let w0 = a.clone().next32() as u64;
        assert_eq!(a.next() >> 32, w0);
    }

    #[test]
    fn counter_advances_per_block() {
        let mut r = Random::empty();
        r.set_key(&rfc_key(), 7);
        let first: [u64; 8] = core::array::from_fn(|_| r.next());
        assert_eq!(r.input[12], 1);
        let second = r.next();
        assert_eq!(r.input[12], 2);
        assert!(!first.contains(&second));
        r.input[12] = u32::MAX;
        r.refill();
        assert_eq!((r.input[12], r.input[13]), (0, 1));
    }

    #[test]
    fn new_streams_differ() {
        seed_process_key();
        let mut a = Random::new_stream();
        let mut b = Random::new_stream();
        // The same key, different nonces: different streams.
        assert_eq!(a.input[..12], b.input[..12]);
        assert_ne!(a.input[14..], b.input[14..]);
        assert_ne!(a.next(), b.next());
        assert!(!a.is_weak());
    }

    #[test]
    fn os_seeding() {
        let mut r = Random::empty();
        r.init();
        assert!(!r.is_weak(), "this machine has getrandom or /dev/urandom");
        let mut s = Random::empty();
        s.init();
        assert_ne!(r.next(), s.next());
        let mut buf = [0u8; 64];
        assert!(urandom_fill(&mut buf));
        assert!(buf.iter().any(|&b| b != 0));
        // SAFETY: setting this thread's errno, to check it is kept.
        unsafe { *libc::__errno_location() = 1234 };
        assert!(os_random_buf(&mut buf));
        // SAFETY: reading this thread's errno.
        assert_eq!(unsafe { *libc::__errno_location() }, 1234);
    }

    #[test]
    fn weak_seeding() {
        let mut r = Random::empty();
        r.init_weak();
        assert!(r.is_weak());
        let x = r.next();
        assert_ne!(x, r.next());
        r.reinit_if_weak();
        assert!(!r.is_weak());
        assert_ne!(os_random_weak(1), 0);
    }

    #[test]
    fn shuffle_is_splitmix_finaliser() {
        assert_eq!(shuffle(0), shuffle(17));
        // splitmix64's first output for seed 0 is the finaliser of 0x9e3779b97f4a7c15.
        assert_eq!(shuffle(0x9e37_79b9_7f4a_7c15), 0xe220_a839_7b1d_cdaf);
        assert_ne!(shuffle(1), 1);
    }
}
