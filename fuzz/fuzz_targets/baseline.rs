//! A baseline CSV; a valid one is checked against a run that matches it and one 10 %
//! worse, and both reports (JUnit, Markdown) are rendered.
#![no_main]

use std::path::Path;

use ae_bench::check::{junit, markdown, outcomes, parse_baseline};
use ae_bench::store::Row;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(baseline) = parse_baseline(Path::new("fuzz.csv"), data) else {
        return;
    };
    assert!(!baseline.is_empty(), "a valid baseline tracks something");
    for factor in [1.0, 1.1] {
        let rows: Vec<Row> = baseline
            .iter()
            .map(|b| Row {
                dataset: b.dataset.clone(),
                model: b.model.clone(),
                code_size: b.code_size,
                seed: 0,
                backend: b.backend.clone(),
                metric: b.metric.clone(),
                value: b.value * factor,
                status: ae_bench::store::Status::Ok,
                detail: String::new(),
            })
            .collect();
        let out = outcomes(&baseline, &rows);
        let _ = junit(&out, "fuzz");
        let _ = markdown(&out);
    }
});
