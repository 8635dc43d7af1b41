//! The command line's arguments, one struct per subcommand (part of the `ae-bench`
//! binary, not of the library): parsed and range-checked by clap before anything runs.

use std::path::PathBuf;

use ae_data::DatasetKind;
use clap::Subcommand;

use ae_bench::backend::BackendKind;
use ae_bench::{bench, experiment, reproduce, sweep};

/// What a sweep runs and where it writes.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Experiment file [default: experiments/smoke.toml; for `eval TASK`:
    /// experiments/eval-TASK.toml].
    #[arg(long)]
    pub experiment: Option<PathBuf>,
    /// Folder in which the run folder `<date>-<name>` is created.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Data root holding `mnist/` and `fashion-mnist/` (else $AE_DATA_DIR, ./data, /usr/share/datasets).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Run only the experiment's models with this name or label (repeatable).
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// Continue an interrupted run folder: keep its finished cells, run the rest.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Override a field of the experiment file, e.g. `--set train.epochs=2` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Run only shard K of N (cells K, K+N, K+2N, ... in the experiment's order), into
    /// `<date>-<name>-shardKofN`; combine the shards' folders with `ae-bench merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<experiment::Shard>,
    /// Cells run at once (default: one per core); each gets cores/jobs backend threads.
    #[arg(long, value_parser = at_least_one)]
    pub jobs: Option<usize>,
    /// Write into exactly this run folder (created if missing, continued if it holds a
    /// run), instead of a new dated one; what Slurm array tasks use.
    #[arg(long, conflicts_with = "resume")]
    pub run_dir: Option<PathBuf>,
}

/// A count that must be >= 1 (`--jobs 0` and the like are refused by the parser).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("expected a whole number >= 1, found 0".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("expected a whole number >= 1: {e}")),
    }
}

impl RunArgs {
    pub fn options(self, backend: Option<BackendKind>, command: String) -> sweep::SweepOptions {
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

// `ae-bench sweep`: its arguments (the subcommand's help is the variant's doc in main.rs).
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Run every cell on this backend instead of the experiment's list.
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
}

// `ae-bench eval`: its arguments (the subcommand's help is the variant's doc in main.rs).
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The task.
    #[arg(value_enum)]
    pub task: experiment::Task,
    #[command(flatten)]
    pub run: RunArgs,
    /// Run every cell on this backend instead of the experiment's list.
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
}

// `ae-bench check`: its arguments (the subcommand's help is the variant's doc in main.rs).
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Run folder to check; without it, the experiment is run first (into --out).
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Baseline CSV.
    #[arg(long, default_value = "results/baselines/smoke.csv")]
    pub baseline: PathBuf,
    /// The experiment run first when no --run is given.
    #[command(flatten)]
    pub sweep: RunArgs,
    /// Rewrite the baseline from this run instead of checking against it.
    #[arg(long)]
    pub update_baseline: bool,
    /// Also write a JUnit XML report here (one test case per tracked metric).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Also write a Markdown table of every tracked metric's delta here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// With --update-baseline: the smallest tolerance, relative to each value (for
    /// single-seed runs, which have no spread to measure).
    #[arg(long, default_value_t = 0.0)]
    pub min_tolerance: f64,
    /// Check with this tolerance, relative to each baseline value (e.g. 0.05 = 5 %),
    /// instead of the baseline's measured ones.
    #[arg(long)]
    pub tolerance: Option<f64>,
}

// `ae-bench theory`: its arguments (the subcommand's help is the variant's doc in main.rs).
#[derive(Debug, clap::Args)]
pub struct TheoryArgs {
    /// Run folder.
    pub run: PathBuf,
    /// Only these checks (comma-separated); default: all.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub checks: Vec<ae_bench::theory::Check>,
    /// Also write the table (Markdown) here, e.g. RUN/theory.md.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

// `ae-bench history`: its arguments (the subcommand's help is the variant's doc in main.rs).
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The baselines folder, relative to the repository root (the current folder).
    #[arg(long, default_value = "results/baselines")]
    pub baselines: String,
    /// Where history.csv, history.md and history_<baseline>.png/.svg/.pdf/.csv go.
    #[arg(long, default_value = "results/history")]
    pub out: PathBuf,
}

// `ae-bench reproduce`: its arguments (the subcommand's help is the variant's doc in main.rs).
#[derive(Debug, clap::Args)]
pub struct ReproduceArgs {
    /// The paper.
    #[arg(value_enum)]
    pub paper: Paper,
    /// `smoke` (minutes, the CI baseline), `fast` (RBM + one-cycle Adam on all images)
    /// or `full` (the paper's protocol).
    #[arg(long, value_enum, default_value = "smoke")]
    pub budget: reproduce::BudgetKind,
    /// Run only these rows (comma-separated), e.g. `--rows rbm+adam,logistic-pca`;
    /// default: the budget's rows.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub rows: Vec<reproduce::RowKind>,
    /// Continue an interrupted run folder: rows stored there are kept, a saved
    /// pretrained stack is reused; the budget must be the stored one.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Override the RBM epochs per layer.
    #[arg(long)]
    pub pretrain_epochs: Option<usize>,
    /// Override the fine-tuning epochs (conjugate gradients and Adam).
    #[arg(long)]
    pub fine_tune_epochs: Option<usize>,
    /// Override the number of training images (0: all 60 000).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Backend.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: BackendKind,
    /// Folder in which the run folder is created; `paper/` goes beside it.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Data root holding `mnist/`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Train nothing: rewrite `<out>/paper/<table>` from the run folders under `--out`
    /// (every row of the paper with its state, run and build).
    #[arg(long, conflicts_with_all = ["resume", "rows"])]
    pub table_only: bool,
}

// `ae-bench report`: its arguments (the subcommand's help is the variant's doc in main.rs).
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The run folder.
    pub run: PathBuf,
}

// `ae-bench merge`: its arguments (the subcommand's help is the variant's doc in main.rs).
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The run folders (at least two).
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    /// Folder in which the merged run folder is created.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

// `ae-bench compare`: its arguments (the subcommand's help is the variant's doc in main.rs).
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Run A (the reference).
    pub a: PathBuf,
    /// Run B.
    pub b: PathBuf,
    /// Compare these metrics instead of the default set (repeatable).
    #[arg(long = "metric")]
    pub metrics: Vec<String>,
}

// `ae-bench bench`: its arguments (the subcommand's help is the variant's doc in main.rs).
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Backends (repeatable).
    #[arg(long, value_enum, default_values_t = [BackendKind::Flex])]
    pub backend: Vec<BackendKind>,
    /// Workloads (repeatable); all by default.
    #[arg(long, value_enum)]
    pub workload: Vec<bench::Workload>,
    /// Timed steps per workload (fits for PCA).
    #[arg(long, default_value_t = 50, value_parser = at_least_one)]
    pub steps: usize,
    /// Untimed warm-up steps first.
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
    /// Threads (give PyTorch the same number).
    #[arg(long, default_value_t = 2, value_parser = at_least_one)]
    pub threads: usize,
    /// Also write the CSV to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Instead of fixed steps: train a model (--model) on MNIST with a one-cycle Adam
    /// recipe, measure the test SSE per image after every epoch, and report the wall time
    /// at which it first reaches this target (scripts/time-to-target.sh).
    #[arg(long, value_name = "SSE")]
    pub to_target: Option<f64>,
    /// --to-target: the model (deep: ReLU AE 784-1000-500-250-30; conv: conv AE 16-32;
    /// vae: VAE 784-500; all at k = 30).
    #[arg(long, value_enum, default_value = "deep", requires = "to_target")]
    pub model: ae_bench::to_target::TargetModel,
    /// --to-target: epochs of the one-cycle schedule.
    #[arg(long, default_value_t = 30, requires = "to_target", value_parser = at_least_one)]
    pub epochs: usize,
    /// --to-target: mini-batch size.
    #[arg(long, default_value_t = 128, requires = "to_target", value_parser = at_least_one)]
    pub batch: usize,
    /// --to-target: peak learning rate.
    #[arg(long, default_value_t = 3e-3, requires = "to_target")]
    pub lr: f64,
    /// --to-target: seed of the weights and the batch order.
    #[arg(long, default_value_t = 0, requires = "to_target")]
    pub seed: u64,
    /// --to-target: train on the first N training images only (0: all 60 000).
    #[arg(long, default_value_t = 0, requires = "to_target")]
    pub images: usize,
}

// `ae-bench slurm submit`: its arguments (the subcommand's help is the variant's doc in main.rs).
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// Experiment file [default: experiments/smoke.toml].
    #[arg(long)]
    pub experiment: Option<PathBuf>,
    /// Override a field of the experiment file (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Run only these models (repeatable).
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// Data root, as the compute nodes see it (a shared filesystem).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Folder in which the run root is created (a shared filesystem).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Backend of every task (e.g. `cuda` on a GPU partition).
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// Array tasks (shards).
    #[arg(long, value_parser = at_least_one, default_value_t = 4)]
    pub tasks: usize,
    /// Partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per task, e.g. 02:00:00.
    #[arg(long)]
    pub time: Option<String>,
    /// CPUs per task; each task's sweep uses exactly these.
    #[arg(long, value_parser = at_least_one, default_value_t = 1)]
    pub cpus_per_task: usize,
    /// GPUs per task.
    #[arg(long)]
    pub gpus_per_task: Option<usize>,
    /// Requeue a preempted task (it stops at a cell boundary on SIGTERM and continues).
    #[arg(long)]
    pub requeue: bool,
    /// Check the merged run against this baseline in the merge job.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Write and print the scripts, submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Resubmit an earlier run root with its stored settings: only missing cells run.
    #[arg(long)]
    pub resume: Option<PathBuf>,
}

/// Papers whose tables `reproduce` knows.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Paper {
    /// Hinton & Salakhutdinov (2006), Science 313:504: MNIST, 30-d codes.
    Hinton2006,
}
/// A dataset `ae-bench data make` generates.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SyntheticSet {
    /// Hinton & Salakhutdinov (2006): one smooth curve through three random points each.
    Curves,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
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
    /// Generate a synthetic dataset into `<dest>/<name>/` and check it against the
    /// checksums committed there (`curves`: Hinton & Salakhutdinov's 2006 curves, 20 000 +
    /// 10 000 images of 28 x 28; about a minute).
    Make {
        /// The synthetic set.
        #[arg(value_enum)]
        dataset: SyntheticSet,
        /// Data root; the files go to `<dest>/<dataset>/`.
        #[arg(long, default_value = "data")]
        dest: PathBuf,
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
