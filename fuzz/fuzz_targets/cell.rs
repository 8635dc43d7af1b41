//! A cell record (JSON); a valid one's rows go through the summary tables (Markdown and
//! LaTeX).
#![no_main]

use std::path::Path;

use ae_bench::report::{summary_latex, summary_markdown};
use ae_bench::store::parse_cell;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cell) = parse_cell(Path::new("cells/fuzz.json"), text) {
        let _ = summary_markdown("fuzz", "fuzz", &cell.rows);
        let _ = summary_latex("fuzz", "fuzz", &cell.rows);
    }
});
