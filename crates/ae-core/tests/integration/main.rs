//! ae-core's integration tests as one test binary: each `tests/*.rs` file used to be its
//! own binary, linked and monomorphised over burn separately, which made
//! `cargo test --workspace --release` compile the same generic code five times.

mod backends;
mod beyond;
mod checkpoint;
mod common;
mod early_stopping;
mod zoo;
