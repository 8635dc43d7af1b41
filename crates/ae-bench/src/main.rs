//! `ae-bench`: the command-line harness of the autoencoder benchmark.

use std::path::PathBuf;

use ae_data::DatasetKind;
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use ae_bench::backend::BackendKind;
use ae_bench::{bench, check, experiment, reproduce, runs, slurm, store, sweep};

#[derive(Debug, Parser)]
#[command(
    name = "ae-bench",
    version,
    about = "Train, evaluate and compare autoencoders on MNIST-format data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What a sweep runs and where it writes.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Experiment file [default: experiments/smoke.toml; for `eval TASK`:
    /// experiments/eval-TASK.toml].
    #[arg(long)]
    experiment: Option<PathBuf>,
    /// Folder in which the run folder `<date>-<name>` is created.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Data root holding `mnist/` and `fashion-mnist/` (else $AE_DATA_DIR, ./data, /usr/share/datasets).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Run only the experiment's models with this name or label (repeatable).
    #[arg(long = "model")]
    models: Vec<String>,
    /// Continue an interrupted run folder: keep its finished cells, run the rest.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Override a field of the experiment file, e.g. `--set train.epochs=2` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Run only shard K of N (cells K, K+N, K+2N, ... in the experiment's order), into
    /// `<date>-<name>-shardKofN`; combine the shards' folders with `ae-bench merge`.
    #[arg(long, value_name = "K/N")]
    shard: Option<experiment::Shard>,
    /// Cells run at once (default: one per core); each gets cores/jobs backend threads.
    #[arg(long, value_parser = at_least_one)]
    jobs: Option<usize>,
    /// Write into exactly this run folder (created if missing, continued if it holds a
    /// run), instead of a new dated one; what Slurm array tasks use.
    #[arg(long, conflicts_with = "resume")]
    run_dir: Option<PathBuf>,
}

/// A count that must be >= 1 (`--jobs 0` and the like are refused by the parser).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("expected a whole number >= 1, found 0".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("expected a whole number >= 1: {e}")),
    }
}

impl RunArgs {
    fn options(self, backend: Option<BackendKind>, command: String) -> sweep::SweepOptions {
        sweep::SweepOptions {
            experiment: self
                .experiment
                .unwrap_or_else(|| PathBuf::from("experiments/smoke.toml")),
            sets: self.sets,
            out_root: self.out,
            data_dir: self.data_dir,
            models: self.models,
            resume: self.resume,
            shard: self.shard,
            run_dir: self.run_dir,
            jobs: self.jobs,
            backend,
            command,
        }
    }
}

#[derive(Debug, Subcommand)]
// Parsed once per process: the size of the larger variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum SlurmAction {
    /// Write `sweep.sbatch` / `merge.sbatch` into a new run root `<out>/<date>-<name>-slurm`
    /// and submit them: an array of --tasks shards, then a merge (+ check) job.
    Submit {
        /// Experiment file [default: experiments/smoke.toml].
        #[arg(long)]
        experiment: Option<PathBuf>,
        /// Override a field of the experiment file (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Run only these models (repeatable).
        #[arg(long = "model")]
        models: Vec<String>,
        /// Data root, as the compute nodes see it (a shared filesystem).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Folder in which the run root is created (a shared filesystem).
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Backend of every task (e.g. `cuda` on a GPU partition).
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
        /// Array tasks (shards).
        #[arg(long, value_parser = at_least_one, default_value_t = 4)]
        tasks: usize,
        /// Partition.
        #[arg(long)]
        partition: Option<String>,
        /// Time limit per task, e.g. 02:00:00.
        #[arg(long)]
        time: Option<String>,
        /// CPUs per task; each task's sweep uses exactly these.
        #[arg(long, value_parser = at_least_one, default_value_t = 1)]
        cpus_per_task: usize,
        /// GPUs per task.
        #[arg(long)]
        gpus_per_task: Option<usize>,
        /// Requeue a preempted task (it stops at a cell boundary on SIGTERM and continues).
        #[arg(long)]
        requeue: bool,
        /// Check the merged run against this baseline in the merge job.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Write and print the scripts, submit nothing.
        #[arg(long)]
        dry_run: bool,
        /// Resubmit an earlier run root with its stored settings: only missing cells run.
        #[arg(long)]
        resume: Option<PathBuf>,
    },
    /// Cells done / failed / missing per task, and the jobs' state in squeue.
    Status {
        /// The run root.
        run: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an experiment's sweep and write a dated run folder of tables and charts.
    Sweep {
        #[command(flatten)]
        run: RunArgs,
        /// Run every cell on this backend instead of the experiment's list.
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
    },
    /// Run one downstream task (what codes are for) on every model of an experiment:
    /// trains the models as `sweep` does, then evaluates the task; a sweep with
    /// `[eval] tasks = [TASK]`, written to its own run folder with the task's tables and charts.
    Eval {
        /// The task.
        #[arg(value_enum)]
        task: experiment::Task,
        #[command(flatten)]
        run: RunArgs,
        /// Run every cell on this backend instead of the experiment's list.
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
    },
    /// Compare a run with a committed baseline; exit non-zero if any tracked metric got
    /// worse by more than its tolerance (3 seed standard deviations).
    Check {
        /// Run folder to check; without it, the experiment is run first (into --out).
        #[arg(long)]
        run: Option<PathBuf>,
        /// Baseline CSV.
        #[arg(long, default_value = "results/baselines/smoke.csv")]
        baseline: PathBuf,
        /// The experiment run first when no --run is given.
        #[command(flatten)]
        sweep: RunArgs,
        /// Rewrite the baseline from this run instead of checking against it.
        #[arg(long)]
        update_baseline: bool,
        /// Also write a JUnit XML report here (one test case per tracked metric).
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Also write a Markdown table of every tracked metric's delta here.
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// With --update-baseline: the smallest tolerance, relative to each value (for
        /// single-seed runs, which have no spread to measure).
        #[arg(long, default_value_t = 0.0)]
        min_tolerance: f64,
        /// Check with this tolerance, relative to each baseline value (e.g. 0.05 = 5 %),
        /// instead of the baseline's measured ones.
        #[arg(long)]
        tolerance: Option<f64>,
    },
    /// Check what theory says a run must show (error falls with the code size; a
    /// linear-code shallow AE matches PCA; deep/conv/sparse/denoising AEs beat PCA at
    /// k = 10, 30, 50); exit non-zero if any comparison fails.
    Theory {
        /// Run folder.
        run: PathBuf,
        /// Only these checks (comma-separated); default: all.
        #[arg(long, value_enum, value_delimiter = ',')]
        checks: Vec<ae_bench::theory::Check>,
        /// Also write the table (Markdown) here, e.g. RUN/theory.md.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The tracked metrics across the project's history (every committed version of the
    /// baselines): a long CSV, a table of every change with its commit, a trend chart per
    /// baseline file.
    History {
        /// The baselines folder, relative to the repository root (the current folder).
        #[arg(long, default_value = "results/baselines")]
        baselines: String,
        /// Where history.csv, history.md and history_<baseline>.png go.
        #[arg(long, default_value = "results/history")]
        out: PathBuf,
    },
    /// Reproduce a published table (Hinton & Salakhutdinov 2006's MNIST autoencoders) into
    /// a new run folder and `results/paper/`.
    Reproduce {
        /// The paper.
        #[arg(value_enum)]
        paper: Paper,
        /// `smoke` (minutes, the CI baseline), `fast` (RBM + one-cycle Adam on all images)
        /// or `full` (the paper's protocol).
        #[arg(long, value_enum, default_value = "smoke")]
        budget: reproduce::BudgetKind,
        /// Run only these rows (comma-separated), e.g. `--rows rbm+adam,logistic-pca`;
        /// default: the budget's rows.
        #[arg(long, value_enum, value_delimiter = ',')]
        rows: Vec<reproduce::RowKind>,
        /// Continue an interrupted run folder: rows stored there are kept, a saved
        /// pretrained stack is reused; the budget must be the stored one.
        #[arg(long)]
        resume: Option<PathBuf>,
        /// Override the RBM epochs per layer.
        #[arg(long)]
        pretrain_epochs: Option<usize>,
        /// Override the fine-tuning epochs (conjugate gradients and Adam).
        #[arg(long)]
        fine_tune_epochs: Option<usize>,
        /// Override the number of training images (0: all 60 000).
        #[arg(long)]
        train_limit: Option<usize>,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Backend.
        #[arg(long, value_enum, default_value = "flex")]
        backend: BackendKind,
        /// Folder in which the run folder is created; `paper/` goes beside it.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Data root holding `mnist/`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Redraw a run folder's tables, summary and charts from its stored cells (no training).
    Report {
        /// The run folder.
        run: PathBuf,
    },
    /// Combine run folders of one experiment (e.g. `--shard` runs from several machines)
    /// into a new folder `<out>/<date>-<name>-merged`, with tables and charts.
    Merge {
        /// The run folders (at least two).
        #[arg(required = true, num_args = 2..)]
        runs: Vec<PathBuf>,
        /// Folder in which the merged run folder is created.
        #[arg(long, default_value = "results")]
        out: PathBuf,
    },
    /// Print per-metric deltas (seed means, B − A) between two run folders, as markdown.
    Compare {
        /// Run A (the reference).
        a: PathBuf,
        /// Run B.
        b: PathBuf,
        /// Compare these metrics instead of the default set (repeatable).
        #[arg(long = "metric")]
        metrics: Vec<String>,
    },
    /// Time fixed-step training of the workloads PyTorch is compared with
    /// (scripts/torch_reference.py; scripts/bench-vs-torch.sh alternates both and writes
    /// results/bench/<date>-vs-torch/). Prints CSV rows.
    Bench {
        /// Backends (repeatable).
        #[arg(long, value_enum, default_values_t = [BackendKind::Flex])]
        backend: Vec<BackendKind>,
        /// Workloads (repeatable); all by default.
        #[arg(long, value_enum)]
        workload: Vec<bench::Workload>,
        /// Timed steps per workload (fits for PCA).
        #[arg(long, default_value_t = 50, value_parser = at_least_one)]
        steps: usize,
        /// Untimed warm-up steps first.
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// Threads (give PyTorch the same number).
        #[arg(long, default_value_t = 2, value_parser = at_least_one)]
        threads: usize,
        /// Also write the CSV to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a sweep on a Slurm cluster as a job array (`submit`), or show a submitted run's
    /// progress (`status`).
    Slurm {
        #[command(subcommand)]
        action: SlurmAction,
    },
    /// Dataset management.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
}

/// Papers whose tables `reproduce` knows.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Paper {
    /// Hinton & Salakhutdinov (2006), Science 313:504: MNIST, 30-d codes.
    Hinton2006,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Download a dataset from its canonical mirrors, verifying checksums. Nothing else
    /// in ae-bench ever downloads.
    Fetch {
        /// `mnist` or `fashion-mnist`.
        dataset: DatasetKind,
        /// Data root; the files go to `<dest>/<dataset>/`.
        #[arg(long, default_value = "data")]
        dest: PathBuf,
        /// Base URL to try instead of the canonical mirrors (repeatable).
        #[arg(long)]
        mirror: Vec<String>,
    },
    /// Locate a dataset, load it and verify its checksums.
    Verify {
        /// `mnist` or `fashion-mnist`.
        dataset: DatasetKind,
        /// Data root to search first.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// glibc's malloc hands the large per-step tensors back to the OS and page-faults them in
/// again every training step (12 % of a conv-AE step); mimalloc keeps them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Print the error chain as one readable message; a backtrace helps no user here.
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    match cli.command {
        Command::Eval {
            task,
            mut run,
            backend,
        } => {
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
        }
        Command::Sweep { run, backend } => {
            let outcome = sweep::run(&run.options(backend, command_line))?;
            print_outcome(&outcome)?;
        }
        Command::History { baselines, out } => {
            use ae_bench::history;
            let (points, notes) = history::collect(std::path::Path::new("."), &baselines)?;
            anyhow::ensure!(
                !points.is_empty(),
                "no committed version of any baseline under {baselines} (run from the \
                 repository root)"
            );
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
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
        }
        Command::Theory { run, checks, out } => {
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
        }
        Command::Check {
            run,
            baseline,
            sweep: args,
            update_baseline,
            junit,
            markdown,
            min_tolerance,
            tolerance,
        } => {
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
        }
        Command::Report { run } => {
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
                let rows =
                    store::read_parquet(&run.join("results.parquet")).with_context(|| {
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
        }
        Command::Reproduce {
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
        } => {
            let mut b = reproduce::Budget::new(budget);
            if !rows.is_empty() {
                let mut rows = rows;
                rows.sort();
                rows.dedup();
                b.rows = rows;
            }
            let custom =
                pretrain_epochs.is_some() || fine_tune_epochs.is_some() || train_limit.is_some();
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
        }
        Command::Slurm { action } => match action {
            SlurmAction::Status { run } => print!("{}", slurm::status(&run)?),
            SlurmAction::Submit {
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
            } => {
                let (spec, root) = match resume {
                    Some(root) => (slurm::load_spec(&root)?, root),
                    None => {
                        let experiment =
                            experiment.unwrap_or_else(|| PathBuf::from("experiments/smoke.toml"));
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
            }
        },
        Command::Merge { runs: sources, out } => {
            let m = runs::merge(&sources, &out, &command_line)?;
            if !m.duplicates.is_empty() {
                println!(
                    "note: {} cell(s) appeared in more than one source; kept the first ok record of each: {}",
                    m.duplicates.len(),
                    m.duplicates.join(", ")
                );
            }
            println!("Merged {} cells into {}/", m.cells, m.dir.display());
        }
        Command::Compare { a, b, metrics } => {
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
        }
        Command::Bench {
            backend,
            workload,
            steps,
            warmup,
            threads,
            out,
        } => {
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
                std::fs::write(&path, csv)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Command::Data { command } => data(command)?,
    }
    Ok(())
}

fn data(command: DataCommand) -> Result<()> {
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

/// Prints a finished sweep's summary and where its files are.
fn print_outcome(outcome: &sweep::SweepOutcome) -> Result<()> {
    // What a person reads in a terminal: the tables and notes, not the chart links
    // (those are in summary.md, beside the charts).
    let summary = std::fs::read_to_string(outcome.run_dir.join("summary.md"))?;
    for line in summary
        .lines()
        .filter(|l| !l.trim_start().starts_with("!["))
    {
        println!("{line}");
    }
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
