//! Compile the C shim that implements the C++ `operator new` failure protocol (see
//! shim/shim.c); it is bundled into the static library.
fn main() {
    println!("cargo:rerun-if-changed=shim/shim.c");
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
    build.compile("mimalloc_new_handler");
}
