//! Charts (plotters), drawn only from stored rows; every chart also as SVG, vector PDF and
//! the CSV of its points (`chart_files`).
//!
//! Files: `style` (colours, data shapes), `code_size` (error vs code size), `curves`
//! (per-epoch curves), `grid` (image grids). Children never import from here.

mod code_size;
mod curves;
mod grid;
mod style;
#[cfg(test)]
mod tests;

pub use code_size::{HINTON_PCA30, Reference, error_vs_code_size};
pub use curves::{CurveKind, FINE_TUNING, TRAINING, curves, training_curves};
pub use grid::image_grid;
pub use style::series_color;

pub(crate) use crate::font::register_font;
