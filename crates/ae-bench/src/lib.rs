//! The benchmark harness behind the `ae-bench` command: experiments (TOML) expanded into
//! cells, sweeps over them with resumable run folders, tables, charts, regression checks,
//! paper reproductions and Slurm submission. A library so that its parsers can be fuzzed
//! and its pieces reused; `main.rs` only parses the command line and dispatches.

pub mod artifacts;
pub mod backend;
pub mod bench;
pub mod chart_files;
pub mod check;
pub mod eval_report;
pub mod experiment;
pub mod font;
pub mod gallery;
pub mod history;
pub mod manifest;
pub mod plot;
pub mod provenance;
pub mod report;
pub mod reproduce;
pub mod runs;
pub mod slurm;
pub mod store;
pub mod sweep;
pub mod tasks;
pub mod theory;
pub mod to_target;
