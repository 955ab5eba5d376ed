//! The collections workload with the `mimalloc` crate (C mimalloc) as the global allocator.
#[path = "../workload.rs"]
mod workload;

#[global_allocator]
static GLOBAL: c_mimalloc::MiMalloc = c_mimalloc::MiMalloc;

fn main() {
    workload::run("mimalloc (C)");
}
