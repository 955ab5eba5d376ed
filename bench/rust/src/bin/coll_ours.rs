//! The collections workload with mimalloc-rs as the global allocator.
#[path = "../workload.rs"]
mod workload;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    workload::run("mimalloc-rs");
}
