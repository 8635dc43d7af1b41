//! What each subcommand does, one function per subcommand (part of the `ae-bench`
//! binary): the library computes, these print what a person reads and set the exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use ae_bench::{bench, check, experiment, reproduce, runs, slurm, store, sweep};

use super::args::{
    BenchArgs, CheckArgs, CompareArgs, DataCommand, EvalArgs, HistoryArgs, MergeArgs, Paper,
    ReportArgs, ReproduceArgs, SubmitArgs, SweepArgs, SyntheticSet, TheoryArgs,
};

/// `ae-bench eval`.
pub fn eval(opts: EvalArgs, command_line: String) -> Result<()> {
    let EvalArgs {
        task,
        mut run,
        backend,
    } = opts;
    let file = run
        .experiment
        .take()
        .unwrap_or_else(|| PathBuf::from(format!("experiments/eval-{}.toml", task.name())));
    run.experiment = Some(file);
    // The task list is set first, so that the user's own --set can still refine it.
    run.sets
        .insert(0, format!("eval.tasks=[\"{}\"]", task.name()));
    let outcome = sweep::run(&run.options(backend, command_line))?;
    print_outcome(&outcome)?;
    Ok(())
}

/// `ae-bench sweep`.
pub fn sweep(opts: SweepArgs, command_line: String) -> Result<()> {
    let SweepArgs { run, backend } = opts;
    let outcome = sweep::run(&run.options(backend, command_line))?;
    print_outcome(&outcome)?;
    Ok(())
}

/// `ae-bench history`.
pub fn history(opts: HistoryArgs) -> Result<()> {
    let HistoryArgs { baselines, out } = opts;
    use ae_bench::history;
    let (points, notes) = history::collect(std::path::Path::new("."), &baselines)?;
    anyhow::ensure!(
        !points.is_empty(),
        "no committed version of any baseline under {baselines} (run from the \
         repository root)"
    );
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let md = history::markdown(&points);
    for (name, text) in [
        ("history.csv", history::csv(&points)),
        ("history.md", md.clone()),
    ] {
        store::write_atomic(&out.join(name), |f| {
            Ok(std::io::Write::write_all(f, text.as_bytes())?)
        })?;
    }
    let charts = history::charts(&points, &out)?;
    print!("{md}");
    for n in &notes {
        println!("note: {n}");
    }
    println!(
        "{} values from {} commits; {} chart(s) and the tables in {}",
        points.len(),
        points
            .iter()
            .map(|p| &p.commit)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        charts.len(),
        out.display()
    );
    Ok(())
}

/// `ae-bench theory`.
pub fn theory(opts: TheoryArgs) -> Result<()> {
    let TheoryArgs { run, checks, out } = opts;
    let checks = if checks.is_empty() {
        ae_bench::theory::Check::ALL.to_vec()
    } else {
        checks
    };
    let findings = ae_bench::theory::check_run(&run, &checks)?;
    let table = ae_bench::theory::markdown(&findings);
    print!("{table}");
    if let Some(path) = &out {
        store::write_atomic(path, |f| {
            Ok(std::io::Write::write_all(f, table.as_bytes())?)
        })?;
    }
    let failed = findings.iter().filter(|f| !f.ok).count();
    anyhow::ensure!(
        !findings.is_empty(),
        "{}: no comparison applies (the checks need several code sizes or a PCA row)",
        run.display()
    );
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} theory comparisons fail in {}",
        findings.len(),
        run.display()
    );
    println!("All {} theory comparisons hold.", findings.len());
    Ok(())
}

/// `ae-bench check`.
pub fn check(opts: CheckArgs, command_line: String) -> Result<()> {
    let CheckArgs {
        run,
        baseline,
        sweep: args,
        update_baseline,
        junit,
        markdown,
        min_tolerance,
        tolerance,
    } = opts;
    let run = match run {
        Some(r) => r,
        None => sweep::run(&args.options(None, command_line))?.run_dir,
    };
    let rows: Vec<store::Row> = store::load_cells(&run)?
        .into_iter()
        .flat_map(|c| c.rows)
        .collect();
    anyhow::ensure!(!rows.is_empty(), "{} holds no stored cells", run.display());
    if update_baseline {
        let base = check::baseline_from(&rows, min_tolerance);
        check::write_baseline(&baseline, &base)?;
        println!(
            "Wrote {} baseline entries from {} to {}.",
            base.len(),
            run.display(),
            baseline.display()
        );
        return Ok(());
    }
    let mut base = check::read_baseline(&baseline)?;
    if let Some(rel) = tolerance {
        anyhow::ensure!(
            rel.is_finite() && rel >= 0.0,
            "--tolerance {rel}: expected a relative tolerance >= 0, e.g. 0.05"
        );
        for b in &mut base {
            b.tolerance = rel * b.value.abs();
        }
    }
    let outcomes = check::outcomes(&base, &rows);
    if let Some(path) = &junit {
        let suite = format!("{} vs {}", run.display(), baseline.display());
        let xml = check::junit(&outcomes, &suite);
        store::write_atomic(path, |f| Ok(std::io::Write::write_all(f, xml.as_bytes())?))?;
    }
    if let Some(path) = &markdown {
        let md = check::markdown(&outcomes);
        store::write_atomic(path, |f| Ok(std::io::Write::write_all(f, md.as_bytes())?))?;
    }
    let findings = check::regressions(&base, &rows);
    if findings.is_empty() {
        println!(
            "check passed: {} tracked metrics of {} within tolerance of {}.",
            base.len(),
            run.display(),
            baseline.display()
        );
    } else {
        println!("{}", check::render(&findings));
        anyhow::bail!(
            "{} of {} tracked metrics are worse than {} (or missing); if intended, rerun with --update-baseline",
            findings.len(),
            base.len(),
            baseline.display()
        );
    }
    Ok(())
}

/// `ae-bench report`.
pub fn report(opts: ReportArgs) -> Result<()> {
    let ReportArgs { run } = opts;
    let cells = store::load_cells(&run)?;
    let info = ae_bench::manifest::RunManifest::read(&run)?;
    let name = match info.name() {
        "" => "run",
        n => n,
    };
    let command = info.command.as_str();
    // Stored cells are the source of truth; a run without them (e.g. copied tables
    // only) is redrawn from its Parquet table.
    if cells.is_empty() {
        let rows = store::read_parquet(&run.join("results.parquet")).with_context(|| {
            format!("{} holds neither cells/ nor results.parquet", run.display())
        })?;
        sweep::write_tables_and_charts(&run, name, command, &rows)?;
        println!(
            "Redrew {}/ from {} rows of results.parquet (no pictures: no cells/).",
            run.display(),
            rows.len()
        );
    } else {
        sweep::write_outputs(&run, name, command, &cells)?;
        println!("Redrew {}/ from {} cells.", run.display(), cells.len());
    }
    Ok(())
}

/// `ae-bench reproduce`.
pub fn reproduce(opts: ReproduceArgs, command_line: String) -> Result<()> {
    let ReproduceArgs {
        paper: Paper::Hinton2006,
        budget,
        rows,
        resume,
        pretrain_epochs,
        fine_tune_epochs,
        train_limit,
        seed,
        backend,
        out,
        data_dir,
        table_only,
    } = opts;
    let mut b = reproduce::Budget::new(budget);
    if !rows.is_empty() {
        let mut rows = rows;
        rows.sort();
        rows.dedup();
        b.rows = rows;
    }
    let custom = pretrain_epochs.is_some() || fine_tune_epochs.is_some() || train_limit.is_some();
    if let Some(e) = pretrain_epochs {
        b.rbm.epochs = e;
        b.stacked.epochs = e;
    }
    if let Some(e) = fine_tune_epochs {
        b.fine_tune.epochs = e;
        b.adam.epochs = e;
    }
    if let Some(n) = train_limit {
        b.train_limit = n;
    }
    if custom {
        b.name = format!("{}-custom", b.name);
    }
    if table_only {
        println!("{}", reproduce::write_paper_file(&out, &b)?);
        return Ok(());
    }
    let outcome = reproduce::run(&reproduce::ReproduceOptions {
        budget: b,
        paper_root: out.clone(),
        out_root: out,
        data_dir,
        backend,
        seed,
        resume,
        command: command_line,
    })?;
    println!("{}", outcome.table);
    println!("Results: {}/", outcome.run_dir.display());
    Ok(())
}

/// `ae-bench merge`.
pub fn merge(opts: MergeArgs, command_line: String) -> Result<()> {
    let MergeArgs { runs: sources, out } = opts;
    let m = runs::merge(&sources, &out, &command_line)?;
    if !m.duplicates.is_empty() {
        println!(
            "note: {} cell(s) appeared in more than one source; kept the first ok record of each: {}",
            m.duplicates.len(),
            m.duplicates.join(", ")
        );
    }
    if m.builds.len() > 1 {
        println!(
            "note: the cells were computed by {} builds of ae-bench ({}); run.json's \
             `cell_sources` says which folder, so which build, each came from",
            m.builds.len(),
            m.builds.join(", ")
        );
    }
    println!("Merged {} cells into {}/", m.cells, m.dir.display());
    Ok(())
}

/// `ae-bench compare`.
pub fn compare(opts: CompareArgs) -> Result<()> {
    let CompareArgs { a, b, metrics } = opts;
    let (ra, rb) = (runs::rows_of(&a)?, runs::rows_of(&b)?);
    let chosen: Vec<(&str, bool)> = if metrics.is_empty() {
        runs::COMPARED.to_vec()
    } else {
        metrics
            .iter()
            .map(|m| {
                let lower = runs::COMPARED
                    .iter()
                    .find(|(n, _)| n == m)
                    .is_none_or(|(_, l)| *l);
                (m.as_str(), lower)
            })
            .collect()
    };
    let (na, nb) = (a.display().to_string(), b.display().to_string());
    print!("{}", runs::compare(&ra, &rb, &chosen, (&na, &nb)));
    Ok(())
}

/// `ae-bench bench`.
pub fn bench(opts: BenchArgs) -> Result<()> {
    let BenchArgs {
        backend,
        workload,
        steps,
        warmup,
        threads,
        out,
        to_target,
        model,
        epochs,
        batch,
        lr,
        seed,
        images,
    } = opts;
    if let Some(target) = to_target {
        let spec = ae_bench::to_target::TargetSpec {
            model,
            epochs,
            batch,
            lr,
            threads,
            seed,
            images,
        };
        return time_to_target(&spec, target, out);
    }
    let spec = bench::BenchSpec {
        backends: backend,
        workloads: if workload.is_empty() {
            bench::Workload::ALL.to_vec()
        } else {
            workload
        },
        steps,
        warmup,
        threads,
    };
    let rows = bench::run(&spec, |r| {
        eprintln!(
            "{:<28} {:<8} {:>10.0} examples/s",
            r.workload.name(),
            r.backend,
            r.rate()
        )
    })?;
    bench::write_csv(&rows, std::io::stdout().lock())?;
    if let Some(path) = out {
        let mut csv = Vec::new();
        bench::write_csv(&rows, &mut csv)?;
        std::fs::write(&path, csv).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `ae-bench bench --to-target`.
fn time_to_target(
    spec: &ae_bench::to_target::TargetSpec,
    target: f64,
    out: Option<PathBuf>,
) -> Result<()> {
    use ae_bench::to_target;
    if !(target.is_finite() && target > 0.0) {
        anyhow::bail!("--to-target: expected a positive test SSE per image, got {target}");
    }
    let rows = to_target::run(spec, |r| {
        eprintln!(
            "epoch {:>3}  test SSE {:.4}  train {:.1} s  wall {:.1} s",
            r.epoch, r.test_sse, r.train_seconds, r.wall_seconds
        )
    })?;
    let mut csv = Vec::new();
    to_target::write_csv(spec, &rows, &mut csv)?;
    std::io::stdout().lock().write_all(&csv)?;
    if let Some(path) = out {
        std::fs::write(&path, &csv).with_context(|| format!("writing {}", path.display()))?;
    }
    match to_target::reached(&rows, target) {
        Some(r) => eprintln!(
            "reached test SSE {:.4} <= {target} at epoch {} of {}: {:.1} s wall ({:.1} s training)",
            r.test_sse, r.epoch, spec.epochs, r.wall_seconds, r.train_seconds
        ),
        None => eprintln!(
            "not reached: test SSE {:.4} after {} epochs (target {target})",
            rows.last().map_or(f64::NAN, |r| r.test_sse),
            spec.epochs
        ),
    }
    Ok(())
}

/// `ae-bench slurm submit`.
pub fn slurm_submit(opts: SubmitArgs) -> Result<()> {
    let SubmitArgs {
        experiment,
        sets,
        models,
        data_dir,
        out,
        backend,
        tasks,
        partition,
        time,
        cpus_per_task,
        gpus_per_task,
        requeue,
        baseline,
        dry_run,
        resume,
    } = opts;
    let (spec, root) = match resume {
        Some(root) => (slurm::load_spec(&root)?, root),
        None => {
            let experiment = experiment.unwrap_or_else(|| PathBuf::from("experiments/smoke.toml"));
            let name = experiment::Experiment::load_with(&experiment, &sets)?.name;
            let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
            let spec = slurm::SlurmSpec {
                experiment: abs(experiment),
                sets,
                models,
                data_dir: data_dir.map(abs),
                backend: backend.map(|b| b.name().to_string()),
                tasks,
                partition,
                time,
                cpus_per_task,
                gpus_per_task,
                requeue,
                baseline: baseline.map(abs),
            };
            let root = sweep::new_run_dir(&out, &format!("{name}-slurm"))?;
            (spec, abs(root))
        }
    };
    let s = slurm::submit(&spec, &root, dry_run)?;
    match s.jobs {
        None => {
            println!("# {}/sweep.sbatch\n{}", root.display(), s.scripts.array);
            println!(
                "# {}/merge.sbatch (sbatch --dependency=afterany:<array>)\n{}",
                root.display(),
                s.scripts.merge
            );
            println!("Dry run: nothing submitted. Scripts in {}/", root.display());
        }
        Some((array, merge)) => {
            println!(
                "Submitted array job {array} ({} tasks) and merge job {merge}.",
                spec.tasks
            );
            println!(
                "Run root: {}/  (ae-bench slurm status {})",
                root.display(),
                root.display()
            );
        }
    }
    Ok(())
}

pub fn data(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Fetch {
            dataset,
            dest,
            mirror,
        } => {
            let mirrors: Vec<&str> = if mirror.is_empty() {
                dataset.mirrors().to_vec()
            } else {
                mirror.iter().map(String::as_str).collect()
            };
            let bar = ProgressBar::new(0).with_style(
                ProgressStyle::with_template(
                    "{msg:28} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let dir = ae_data::fetch::fetch(dataset, &dest, &mirrors, &mut |file, done, total| {
                bar.set_message(file.to_string());
                bar.set_length(total.unwrap_or(done));
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            println!("{dataset}: verified files in {}/", dir.display());
        }
        DataCommand::Make { dataset, dest } => make_synthetic(dataset, &dest)?,
        DataCommand::Verify { dataset, data_dir } => {
            let ds = dataset.load(data_dir.as_deref())?;
            println!(
                "{dataset}: {} train + {} test images of {}x{} in {}/, checksums OK",
                ds.train.len(),
                ds.test.len(),
                ds.train.height,
                ds.train.width,
                ds.dir.display()
            );
        }
    }
    Ok(())
}

/// `ae-bench data make`: generates the set, then compares each file's SHA-256 with
/// `SHA256SUMS` in its folder (written when absent), so a changed generator is caught.
fn make_synthetic(set: SyntheticSet, dest: &Path) -> Result<()> {
    let dir = match set {
        SyntheticSet::Curves => dest.join("curves"),
    };
    let t = std::time::Instant::now();
    let made = ae_data::curves::write(&dir, &mut |done, total| {
        eprintln!("curves: {done}/{total} images");
    })?;
    let sums_path = dir.join("SHA256SUMS");
    let lines: String = made
        .iter()
        .map(|(p, sum)| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            format!("{sum}  {}\n", name.trim_end_matches(".gz"))
        })
        .collect();
    match std::fs::read_to_string(&sums_path) {
        Ok(want) if want == lines => println!(
            "curves: {} files in {}/ match SHA256SUMS ({:.0} s)",
            made.len(),
            dir.display(),
            t.elapsed().as_secs_f64()
        ),
        Ok(want) => anyhow::bail!(
            "the generated curves differ from {} (expected:\n{want}generated:\n{lines}); \
             the generator changed: regenerate every run made from the old files",
            sums_path.display()
        ),
        Err(_) => {
            std::fs::write(&sums_path, &lines)?;
            println!(
                "curves: wrote {} files and {}",
                made.len(),
                sums_path.display()
            );
        }
    }
    Ok(())
}

/// Prints a finished sweep's summary and where its files are.
fn print_outcome(outcome: &sweep::SweepOutcome) -> Result<()> {
    // What a person reads in a terminal: the tables and notes, not the chart links
    // (those are in summary.md, beside the charts).
    let summary = std::fs::read_to_string(outcome.run_dir.join("summary.md"))?;
    print!("{}", ae_bench::report::terminal_summary(&summary));
    println!(
        "{} cells ok, {} failed, {} rows{}.",
        outcome.ok,
        outcome.failed,
        outcome.rows.len(),
        if outcome.skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped (not found): {}", outcome.skipped.join(", "))
        }
    );
    println!("Results: {}/", outcome.run_dir.display());
    println!(
        "  summary.md (tables and every chart), results.csv, results.parquet, run.json, *.png/*.svg"
    );
    let failed = failed_cells(&outcome.rows);
    if !failed.is_empty() {
        println!("\nFailed cells (the others finished and are stored):");
        for f in &failed {
            println!("  {f}");
        }
        anyhow::bail!(
            "{} cell(s) failed; rerun them with `--resume {}` after fixing the cause",
            failed.len(),
            outcome.run_dir.display()
        );
    }
    Ok(())
}

/// One line per failed cell: what it was and why it failed.
fn failed_cells(rows: &[store::Row]) -> Vec<String> {
    rows.iter()
        .filter(|r| !r.status.is_ok() && r.metric == "failed")
        .map(|r| {
            format!(
                "{} {} k={} {} seed {}: {}",
                r.dataset, r.model, r.code_size, r.backend, r.seed, r.detail
            )
        })
        .collect()
}
