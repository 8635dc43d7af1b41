//! What every chart shares: the series colours and the shapes of plotted data.

use std::collections::BTreeMap;

use plotters::prelude::*;

/// Twelve strong, mutually distinct colours (Tableau 10 plus two); Palette99 beyond.
const SERIES_COLORS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(90, 90, 90),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 128),
    RGBColor(128, 0, 0),
];

/// The colour of the `i`-th series of a chart.
pub fn series_color(i: usize) -> RGBAColor {
    match SERIES_COLORS.get(i) {
        Some(c) => c.to_rgba(),
        None => Palette99::pick(i).to_rgba(),
    }
}

pub(super) type Series = BTreeMap<String, Vec<(f64, f64)>>;

/// Raw values grouped as dataset -> series -> x -> values (one per seed), averaged into
/// plottable points.
pub(super) type Grouped = BTreeMap<String, BTreeMap<String, Epochs>>;

/// x (code size or epoch) -> one value per seed.
pub(super) type Epochs = BTreeMap<u32, Vec<f64>>;
