//! The `ae-bench` binary's command line: `args` (what clap parses) and `commands`
//! (what each subcommand does). The library (`lib.rs`) never imports from here.

pub mod args;
pub mod commands;
