//! What a paper needs beside each chart: its plotted data as CSV (to redraw the figure in
//! the paper's own style) and a vector PDF converted from the chart's SVG by svg2pdf, with
//! the charts' embedded font, so the PDF looks the same on a machine without fonts.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};

use crate::store::write_atomic;

/// One plotted point: (panel, series, x, y).
pub type Point<'a> = (&'a str, &'a str, f64, f64);

/// Writes `<stem>.csv` with one row per plotted point: `panel,series,x,y`.
pub fn write_csv<'a>(stem: &Path, points: impl IntoIterator<Item = Point<'a>>) -> Result<PathBuf> {
    let path = stem.with_extension("csv");
    write_atomic(&path, |f| {
        let mut w = csv::Writer::from_writer(f);
        w.write_record(["panel", "series", "x", "y"])?;
        for (panel, series, x, y) in points {
            w.write_record([panel, series, &x.to_string(), &y.to_string()])?;
        }
        w.flush()?;
        Ok(())
    })?;
    Ok(path)
}

/// The fonts the SVGs name ("sans-serif"): the embedded DejaVu Sans, loaded once.
fn options() -> &'static svg2pdf::usvg::Options<'static> {
    static OPTIONS: OnceLock<svg2pdf::usvg::Options<'static>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut o = svg2pdf::usvg::Options::default();
        let db = o.fontdb_mut();
        db.load_font_data(crate::font::FONT.to_vec());
        db.set_sans_serif_family("DejaVu Sans");
        o
    })
}

/// Converts `<stem>.svg` (already written) into `<stem>.pdf`.
pub fn write_pdf(stem: &Path) -> Result<PathBuf> {
    let svg_path = stem.with_extension("svg");
    let pdf_path = stem.with_extension("pdf");
    let svg = std::fs::read_to_string(&svg_path)
        .with_context(|| format!("cannot read {}", svg_path.display()))?;
    let pdf = svg_to_pdf(&svg).with_context(|| format!("converting {}", svg_path.display()))?;
    write_atomic(&pdf_path, |f| Ok(std::io::Write::write_all(f, &pdf)?))?;
    Ok(pdf_path)
}

/// An SVG document as a one-page PDF of the same size, text as embedded glyphs.
pub fn svg_to_pdf(svg: &str) -> Result<Vec<u8>> {
    let tree = svg2pdf::usvg::Tree::from_str(svg, options())?;
    svg2pdf::to_pdf(
        &tree,
        svg2pdf::ConversionOptions::default(),
        svg2pdf::PageOptions::default(),
    )
    .map_err(|e| anyhow!("svg2pdf: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_svg_becomes_a_pdf_with_its_text() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">
            <rect x="10" y="10" width="50" height="30" fill="blue"/>
            <text x="20" y="80" font-family="sans-serif" font-size="14">mnist k=30</text>
        </svg>"#;
        let pdf = svg_to_pdf(svg).unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("%%EOF"), "truncated PDF");
        // The glyphs travel with the file: the embedded font is in it.
        assert!(text.contains("DejaVu"), "the font is not embedded");
        // The page has the SVG's size (200 x 100 pt).
        assert!(text.contains("/MediaBox [0 0 200 100]"), "page size");
    }

    #[test]
    fn chart_data_round_trips_through_csv() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("chart");
        let path = write_csv(
            &stem,
            [
                ("mnist", "pca", 2.0, 45.5),
                ("mnist, k=2", "deep (val)", 3.0, 1e-3),
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(
            text,
            "panel,series,x,y\nmnist,pca,2,45.5\n\"mnist, k=2\",deep (val),3,0.001\n"
        );
    }
}
