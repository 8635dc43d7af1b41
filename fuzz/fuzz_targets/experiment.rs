//! Experiment TOML followed by `--set` overrides, NUL-separated; a loaded experiment
//! expands into cells whose keys are distinct.
#![no_main]

use ae_bench::experiment::Experiment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let toml = parts.next().unwrap_or_default();
    let sets: Vec<String> = parts.map(str::to_string).collect();
    if let Ok(exp) = Experiment::parse_with(toml, &sets) {
        let cells = exp.cells();
        let keys: std::collections::HashSet<String> = cells.iter().map(|c| c.key()).collect();
        assert_eq!(keys.len(), cells.len(), "two cells share a key");
    }
});
