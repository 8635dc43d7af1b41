//! Tables and charts of the evaluation tasks, drawn from stored rows and pictures, with
//! the published reference points beside our numbers.
//!
//! Files: `tables` (summary.md sections), `panels` (line and bar panels), `charts` (what
//! each task draws, from rows and pictures). Children never import from here.

mod charts;
mod panels;
mod tables;

pub use charts::draw_all;
pub use tables::{DEEP_SVDD_MNIST, summary_sections};
