//! Another Rust library in the same program as mimalloc: a `std` static library with
//! its own copy of `core`, `alloc` and `std` (compiled by the same toolchain, so the
//! same symbol names as the Rust code inside libmimalloc.a / mimalloc.o). Linking both
//! must not meet duplicate symbols: mimalloc keeps only its API global.

use std::ffi::CString;
use std::os::raw::c_char;

/// Sum of 0..n computed through heap allocations (a Vec, a String, a HashMap).
#[no_mangle]
pub extern "C" fn neighbour_sum(n: u64) -> u64 {
    let v: Vec<u64> = (0..n).collect();
    let s = format!("{}", v.iter().sum::<u64>());
    let mut m = std::collections::HashMap::new();
    m.insert(s.clone(), v.len());
    s.parse::<u64>().unwrap_or(0) + (m.len() as u64 - 1)
}

/// A heap-allocated C string from Rust's allocator (the system malloc, so mimalloc's
/// when it overrides malloc); released with `neighbour_free`.
#[no_mangle]
pub extern "C" fn neighbour_string() -> *mut c_char {
    CString::new("hello from the neighbour").unwrap().into_raw()
}

/// # Safety
/// `p` must come from `neighbour_string`.
#[no_mangle]
pub unsafe extern "C" fn neighbour_free(p: *mut c_char) {
    drop(CString::from_raw(p));
}
