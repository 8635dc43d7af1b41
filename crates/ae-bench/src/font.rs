//! The charts' one font: DejaVu Sans, embedded so that PNG, SVG-derived PDF and every
//! machine render the same glyphs, with or without system fonts.

use std::sync::Once;

use plotters::style::FontStyle;

/// DejaVu Sans (TrueType).
pub(crate) static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Makes "sans-serif" mean [`FONT`] for plotters' bitmap backend (once per process).
pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded file is a valid TrueType font; a failure here would be a build bug.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}
