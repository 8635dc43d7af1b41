//! A sweep killed with SIGKILL while a cell trains continues that cell from its training
//! checkpoint on `--resume` and stores what the uninterrupted sweep stores.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const EXPERIMENT: &str = r#"
name = "kill"
datasets = ["mnist"]
code_sizes = [8]
seeds = [0]
models = [{ kind = "deep", arch = { hidden = [64], activation = "relu", code_activation = "linear" } }]
[train]
batch_size = 50
epochs = 8
train_limit = 3000
[eval]
batch_size = 500
test_limit = 500
"#;

fn data_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

fn sweep(dir: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ae-bench"));
    c.arg("sweep")
        .arg("--experiment")
        .arg(dir.join("e.toml"))
        .arg("--data-dir")
        .arg(data_root())
        .arg("--jobs")
        .arg("1")
        .args(extra)
        .env("RAYON_NUM_THREADS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

/// The only run folder under `root`.
fn run_dir(root: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

/// The stored cell's metrics that training determines (not its timings).
fn trained_metrics(run: &Path) -> Vec<(String, String)> {
    let cells: Vec<PathBuf> = std::fs::read_dir(run.join("cells"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cells.len(), 1, "{cells:?}");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cells[0]).unwrap()).unwrap();
    let mut out: Vec<(String, String)> = record["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let m = r["metric"].as_str().unwrap_or("");
            m.starts_with("test_") || m == "final_train_loss" || m.starts_with("curve")
        })
        .map(|r| (r["metric"].to_string(), r["value"].to_string()))
        .collect();
    out.sort();
    assert!(out.len() > 8, "{out:?}");
    out
}

#[test]
fn killed_mid_cell_and_resumed_equals_uninterrupted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.toml"), EXPERIMENT).unwrap();

    let whole_root = dir.path().join("whole");
    let st = sweep(dir.path(), &["--out", whole_root.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let whole = trained_metrics(&run_dir(&whole_root));

    let root = dir.path().join("killed");
    let mut child = sweep(dir.path(), &["--out", root.to_str().unwrap()])
        .spawn()
        .unwrap();
    // Killed as soon as the first epoch's checkpoint is on disk.
    let t = Instant::now();
    let ckpt = loop {
        let found = std::fs::read_dir(&root).ok().and_then(|mut d| {
            let run = d.next()?.ok()?.path();
            std::fs::read_dir(run.join("checkpoints"))
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "msgpack"))
        });
        if let Some(p) = found {
            break p;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "no checkpoint appeared"
        );
        assert!(child.try_wait().unwrap().is_none(), "the sweep ended first");
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let run = run_dir(&root);
    assert!(
        !run.join("cells").is_dir() || std::fs::read_dir(run.join("cells")).unwrap().count() == 0,
        "the cell finished before the kill: the test proves nothing"
    );
    assert!(ckpt.is_file());

    let st = sweep(dir.path(), &["--resume", run.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(trained_metrics(&run), whole);
    assert!(!ckpt.exists(), "the finished cell's checkpoint is removed");

    // A checkpoint that is not one fails its cell, naming the file; the sweep exits 1.
    std::fs::remove_dir_all(run.join("cells")).unwrap();
    std::fs::write(&ckpt, b"not msgpack").unwrap();
    let out = sweep(dir.path(), &["--resume", run.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("not a training checkpoint"), "{text}");
}
