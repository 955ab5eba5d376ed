//! The collections workload with the system allocator (glibc malloc).
#[path = "../workload.rs"]
mod workload;

fn main() {
    workload::run("system");
}
