//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!`
//! embeds the files at compile time, and Cargo does not otherwise know that
//! a new file in `migrations/` matters.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
