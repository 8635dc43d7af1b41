//! `ae-bench slurm`: a sweep as a Slurm job array. Task K of N runs shard K/N into its own
//! folder `<root>/shard-K` (`sweep --run-dir`, so a requeued or resubmitted task continues
//! its own cells); a final job, started when the array has ended (`afterany`, so it also
//! runs after a failed or cancelled task and reports what is missing), merges the shards,
//! draws the tables and charts and, given a baseline, runs `check`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::experiment::{Experiment, Shard};
use crate::store;

/// What `slurm submit` was asked for; stored as `<root>/slurm.json` so that
/// `--resume ROOT` resubmits the same sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlurmSpec {
    /// Experiment file.
    pub experiment: PathBuf,
    /// `--set` overrides.
    pub sets: Vec<String>,
    /// `--model` selection.
    pub models: Vec<String>,
    /// Data root.
    pub data_dir: Option<PathBuf>,
    /// Backend override (`--backend`).
    pub backend: Option<String>,
    /// Array tasks (= shards).
    pub tasks: usize,
    /// Partition (`-p`).
    pub partition: Option<String>,
    /// Time limit per task (`-t`).
    pub time: Option<String>,
    /// CPUs per task; the task's sweep uses exactly these.
    pub cpus_per_task: usize,
    /// GPUs per task (`--gpus-per-task`), for `--backend cuda`.
    pub gpus_per_task: Option<usize>,
    /// Requeue tasks on preemption or node failure (`--requeue`).
    pub requeue: bool,
    /// Baseline the merged run is checked against.
    pub baseline: Option<PathBuf>,
}

/// The scripts of one submission.
#[derive(Debug, Clone)]
pub struct Scripts {
    /// The array job.
    pub array: String,
    /// The merge job (submitted with a dependency on the array).
    pub merge: String,
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn path_str(p: &Path) -> String {
    quote(&p.display().to_string())
}

/// The sbatch scripts for `spec`, writing under `root`, running `exe`.
pub fn scripts(spec: &SlurmSpec, root: &Path, exe: &Path) -> Scripts {
    let root_s = path_str(root);
    let mut header = String::from("#!/usr/bin/env bash\n");
    let mut directive = |d: String| header.push_str(&format!("#SBATCH {d}\n"));
    directive(format!("--cpus-per-task={}", spec.cpus_per_task));
    if let Some(p) = &spec.partition {
        directive(format!("--partition={}", quote(p)));
    }
    if let Some(t) = &spec.time {
        directive(format!("--time={}", quote(t)));
    }
    if let Some(g) = spec.gpus_per_task {
        directive(format!("--gpus-per-task={g}"));
    }
    let mut sweep_args = vec![
        "--experiment".to_string(),
        path_str(&spec.experiment),
        "--jobs".into(),
        "1".into(),
    ];
    for s in &spec.sets {
        sweep_args.extend(["--set".into(), quote(s)]);
    }
    for m in &spec.models {
        sweep_args.extend(["--model".into(), quote(m)]);
    }
    if let Some(d) = &spec.data_dir {
        sweep_args.extend(["--data-dir".into(), path_str(d)]);
    }
    if let Some(b) = &spec.backend {
        sweep_args.extend(["--backend".into(), quote(b)]);
    }
    let mut array = header.clone();
    array.push_str(&format!(
        "#SBATCH --job-name=ae-bench-sweep\n#SBATCH --array=1-{n}\n#SBATCH --output={root_s}/logs/task-%a.log\n",
        n = spec.tasks
    ));
    if spec.requeue {
        // Preemption or a lost node puts the task back in the queue; SIGTERM 60 s before
        // the end lets the sweep stop at a cell boundary.
        // Append, so the log of a requeued task keeps what its first run printed.
        array.push_str(
            "#SBATCH --requeue\n#SBATCH --signal=B:TERM@60\n#SBATCH --open-mode=append\n",
        );
    }
    array.push_str(&format!(
        "set -euo pipefail\n\
         # Task K runs shard K/N into its own folder; a rerun of the task continues it.\n\
         exec {exe} sweep --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --run-dir {root_s}/shard-\"$SLURM_ARRAY_TASK_ID\" {args}\n",
        exe = path_str(exe),
        n = spec.tasks,
        args = sweep_args.join(" ")
    ));
    let mut merge = header;
    merge.push_str(&format!(
        "#SBATCH --job-name=ae-bench-merge\n#SBATCH --output={root_s}/logs/merge.log\n\
         set -euo pipefail\n\
         {exe} merge {root_s}/shard-* --out {root_s}/merged\n",
        exe = path_str(exe)
    ));
    if let Some(b) = &spec.baseline {
        merge.push_str(&format!(
            "{exe} check --run \"$(ls -d {root_s}/merged/*-merged* | tail -1)\" --baseline {b}\n",
            exe = path_str(exe),
            b = path_str(b)
        ));
    }
    Scripts { array, merge }
}

/// Runs a command and returns its standard output; the error names the command.
fn run(cmd: &mut Command) -> Result<String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {shown} (is Slurm installed and on PATH?)"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `sbatch --parsable` prints `jobid[;cluster]`.
fn parsable_id(out: &str) -> Result<String> {
    let id = out.split(';').next().unwrap_or("").trim();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch --parsable printed {out:?}, not a job id");
    }
    Ok(id.to_string())
}

/// What a submission did.
#[derive(Debug)]
pub struct Submitted {
    /// Array job id and merge job id (`None` on a dry run).
    pub jobs: Option<(String, String)>,
    /// The scripts.
    pub scripts: Scripts,
}

/// Writes the scripts into `root` and, unless `dry_run`, submits the array and the merge
/// job. `root` is created (a new submission) or reused (`--resume`: only missing cells run,
/// as each task's `sweep --run-dir` keeps its stored cells).
pub fn submit(spec: &SlurmSpec, root: &Path, dry_run: bool) -> Result<Submitted> {
    if spec.tasks == 0 {
        bail!("--tasks 0: a job array needs at least one task");
    }
    if spec.cpus_per_task == 0 {
        bail!("--cpus-per-task 0: each task needs at least one CPU");
    }
    // The experiment must load (and every cell's config check) before anything is queued.
    let exp = Experiment::load_with(&spec.experiment, &spec.sets)?;
    let cells = exp.cells().len();
    if spec.tasks > cells {
        bail!(
            "--tasks {}: the experiment has only {cells} cells; use at most {cells} tasks",
            spec.tasks
        );
    }
    std::fs::create_dir_all(root.join("logs"))
        .with_context(|| format!("cannot create {}", root.display()))?;
    let exe = std::env::current_exe().context("cannot find this executable's path")?;
    let scripts = scripts(spec, root, &exe);
    let write = |name: &str, text: &str| {
        store::write_atomic(&root.join(name), |f| {
            Ok(std::io::Write::write_all(f, text.as_bytes())?)
        })
    };
    write("sweep.sbatch", &scripts.array)?;
    write("merge.sbatch", &scripts.merge)?;
    write("slurm.json", &serde_json::to_string_pretty(spec)?)?;
    if dry_run {
        return Ok(Submitted {
            jobs: None,
            scripts,
        });
    }
    let array = parsable_id(&run(Command::new("sbatch")
        .arg("--parsable")
        .arg(root.join("sweep.sbatch")))?)?;
    let merge = parsable_id(&run(Command::new("sbatch")
        .arg("--parsable")
        .arg(format!("--dependency=afterany:{array}"))
        .arg(root.join("merge.sbatch")))?)?;
    write(
        "jobs.json",
        &serde_json::json!({ "array": array, "merge": merge }).to_string(),
    )?;
    Ok(Submitted {
        jobs: Some((array, merge)),
        scripts,
    })
}

/// The stored spec of an earlier submission.
pub fn load_spec(root: &Path) -> Result<SlurmSpec> {
    let p = root.join("slurm.json");
    let text = std::fs::read_to_string(&p).with_context(|| {
        format!(
            "{} is not a Slurm run root (no readable slurm.json)",
            root.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("corrupt {}", p.display()))
}

/// Cells done / failed / expected per task, and Slurm's view of the jobs when available.
pub fn status(root: &Path) -> Result<String> {
    let spec = load_spec(root)?;
    let exp = Experiment::load_with(&spec.experiment, &spec.sets)?;
    let all = exp.cells();
    let mut out = format!(
        "{}: {} cells in {} tasks\n\n| task | cells | done | failed | missing |\n|---:|---:|---:|---:|---:|\n",
        root.display(),
        all.len(),
        spec.tasks
    );
    let (mut done_all, mut failed_all) = (0, 0);
    for k in 1..=spec.tasks {
        let mine = Shard { k, n: spec.tasks }.select(all.clone());
        let keys: Vec<String> = mine.iter().map(|c| c.key()).collect();
        let stored = store::load_cells(&root.join(format!("shard-{k}"))).unwrap_or_default();
        let ok = stored
            .iter()
            .filter(|c| keys.contains(&c.key) && c.rows.iter().all(|r| r.status.is_ok()))
            .count();
        let failed = stored
            .iter()
            .filter(|c| keys.contains(&c.key) && c.rows.iter().any(|r| !r.status.is_ok()))
            .count();
        done_all += ok;
        failed_all += failed;
        out.push_str(&format!(
            "| {k} | {} | {ok} | {failed} | {} |\n",
            keys.len(),
            keys.len() - ok - failed
        ));
    }
    out.push_str(&format!(
        "\n{done_all} done, {failed_all} failed, {} missing.\n",
        all.len() - done_all - failed_all
    ));
    if let Ok(text) = std::fs::read_to_string(root.join("jobs.json"))
        && let Ok(ids) = serde_json::from_str::<serde_json::Value>(&text)
    {
        let ids: Vec<&str> = ["array", "merge"]
            .iter()
            .filter_map(|k| ids[*k].as_str())
            .collect();
        match run(Command::new("squeue")
            .args(["-h", "-o", "%i %j %T %R", "-j"])
            .arg(ids.join(",")))
        {
            Ok(q) if !q.is_empty() => out.push_str(&format!("\nsqueue:\n{q}\n")),
            Ok(_) => out.push_str(&format!(
                "\nsqueue: jobs {} are no longer queued\n",
                ids.join(", ")
            )),
            Err(e) => out.push_str(&format!("\n(squeue unavailable: {e})\n")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SlurmSpec {
        SlurmSpec {
            experiment: "experiments/smoke.toml".into(),
            sets: vec!["train.epochs=1".into(), "seeds=[0, 1]".into()],
            models: vec![],
            data_dir: Some("/shared/data".into()),
            backend: Some("cuda".into()),
            tasks: 4,
            partition: Some("gpu".into()),
            time: Some("02:00:00".into()),
            cpus_per_task: 8,
            gpus_per_task: Some(1),
            requeue: true,
            baseline: Some("results/baselines/smoke.csv".into()),
        }
    }

    #[test]
    fn scripts_carry_every_option_and_quote_arguments() {
        let s = scripts(&spec(), Path::new("/runs/x y"), Path::new("/opt/ae-bench"));
        for needle in [
            "#SBATCH --array=1-4",
            "#SBATCH --cpus-per-task=8",
            "#SBATCH --partition=gpu",
            "#SBATCH --time=02:00:00",
            "#SBATCH --gpus-per-task=1",
            "#SBATCH --requeue",
            "#SBATCH --signal=B:TERM@60",
            "#SBATCH --output='/runs/x y'/logs/task-%a.log",
            "sweep --shard \"$SLURM_ARRAY_TASK_ID/4\" --run-dir '/runs/x y'/shard-\"$SLURM_ARRAY_TASK_ID\"",
            "--set train.epochs=1 --set 'seeds=[0, 1]'",
            "--data-dir /shared/data --backend cuda",
        ] {
            assert!(s.array.contains(needle), "{needle}\n{}", s.array);
        }
        assert!(
            s.merge
                .contains("merge '/runs/x y'/shard-* --out '/runs/x y'/merged"),
            "{}",
            s.merge
        );
        assert!(s.merge.contains("check --run") && s.merge.contains("results/baselines/smoke.csv"));
        let mut plain = spec();
        plain.requeue = false;
        plain.baseline = None;
        let s = scripts(&plain, Path::new("/r"), Path::new("/b"));
        assert!(!s.array.contains("--requeue") && !s.merge.contains("check"));
    }

    #[test]
    fn parsable_ids_are_checked() {
        assert_eq!(parsable_id("1234").unwrap(), "1234");
        assert_eq!(parsable_id("1234;cluster").unwrap(), "1234");
        assert!(parsable_id("Submitted batch job 12").is_err());
        assert!(parsable_id("").is_err());
    }
}
