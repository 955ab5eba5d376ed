//! The C library: `libmimalloc.a` / `libmimalloc.so` / `mimalloc.o` are made from this
//! static library by CMake. It only pulls in the core with its C ABI and carries the
//! panic handler, which must not be part of what Rust users depend on (see DESIGN.md).
#![cfg_attr(not(test), no_std)]
// (`cargo build --workspace --all-targets` also builds a test harness of this crate,
// with std, which brings its own panic handler.)

// Force the C ABI and override symbols into the archive.
pub use mimalloc::capi;

/// A panic inside the allocator is a bug: write one line to stderr with `write(2)`
/// (nothing may allocate here) and abort.
#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    mimalloc::abort_on_panic(info)
}

/// The precompiled `core` references the unwinding personality routine even though this
/// library never unwinds (`panic = "abort"`); linking the whole archive into a shared
/// library needs the symbol to exist. It is never called.
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}
