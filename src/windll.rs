//! `DllMain` of `mimalloc.dll` and `mimalloc-override.dll` (Windows, feature
//! `shared_lib`): process start-up and shut-down, and thread teardown at
//! `DLL_THREAD_DETACH` (the fiber-local-storage callback that `init` registers has
//! usually done it already; a second teardown finds the empty heap and returns).
//!
//! mingw's DLL start-up code (`DllMainCRTStartup`) calls this function by name.

use crate::init;
use core::ffi::c_void;

const DLL_PROCESS_DETACH: u32 = 0;
const DLL_PROCESS_ATTACH: u32 = 1;
const DLL_THREAD_DETACH: u32 = 3;

/// The DLL entry point.
///
/// # Safety
/// Called by the Windows loader (under its lock) with the documented arguments.
#[no_mangle]
pub unsafe extern "system" fn DllMain(
    _module: *mut c_void,
    reason: u32,
    reserved: *mut c_void,
) -> i32 {
    match reason {
        DLL_PROCESS_ATTACH => {
            init::process_load();
            #[cfg(feature = "override")]
            crate::win_redirect::install();
        }
        DLL_THREAD_DETACH => init::thread_done(),
        DLL_PROCESS_DETACH => {
            // `reserved` is null when the DLL is unloaded by FreeLibrary (the process
            // goes on: the CRT's functions must be restored) and non-null at process
            // exit (other DLLs' shut-down may still free through the redirect).
            #[cfg(feature = "override")]
            if reserved.is_null() {
                crate::win_redirect::uninstall();
            }
            let _ = reserved;
            init::process_done();
        }
        _ => {}
    }
    1
}
