//! Rebuilds the crate when any dashboard file is added, changed or removed:
//! the files are embedded at compile time, and a new file is not otherwise
//! noticed by cargo.

fn main() {
    println!("cargo:rerun-if-changed=dashboard");
}
