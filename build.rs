//! With the `c_shim` feature (the C library's build), compile the C shim (shim/): the C++
//! `operator new` failure protocol and the weak symbols Rust cannot define. It is bundled
//! into the crate, so whatever links the crate with the feature has it: the C library
//! and, in a workspace build, the tests. Without the feature nothing is compiled, and no
//! C compiler is needed.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "c_shim")]
    shim::build();
}

#[cfg(feature = "c_shim")]
mod shim {
    use std::process::Command;

    pub fn build() {
        println!("cargo:rerun-if-changed=shim/shim.c");
        println!("cargo:rerun-if-changed=shim/nothrow.cpp");
        let mut build = cc::Build::new();
        build
            .file("shim/shim.c")
            .flag("-fexceptions")
            .flag_if_supported("-fno-builtin-malloc")
            .pic(true)
            .opt_level(2);
        if std::env::var_os("CARGO_FEATURE_OVERRIDE").is_some() {
            build.define("MI_RS_OVERRIDE", None);
        }
        build.compile("mimalloc_shim");

        // The C++ part must not make the library depend on libstdc++: no C++ standard
        // library is linked, and its runtime references are weakened below.
        cc::Build::new()
            .cpp(true)
            .cpp_link_stdlib(None)
            .file("shim/nothrow.cpp")
            .flag("-fno-rtti")
            .pic(true)
            .opt_level(2)
            .compile("mimalloc_shim_cxx");
        let out = std::env::var("OUT_DIR").unwrap();
        let archive = format!("{out}/libmimalloc_shim_cxx.a");
        let mut objcopy =
            Command::new(std::env::var("OBJCOPY").unwrap_or_else(|_| "objcopy".into()));
        for sym in [
            "__gxx_personality_v0",
            "__cxa_begin_catch",
            "__cxa_end_catch",
            "_Unwind_Resume",
            "__cxa_call_terminate",
            "_ZSt9terminatev",
        ] {
            objcopy.arg(format!("--weaken-symbol={sym}"));
        }
        let status = objcopy
            .arg(&archive)
            .status()
            .expect("objcopy is needed to build the C shim");
        assert!(status.success(), "objcopy failed on {archive}");
    }
}
