//! `ae-bench`: the command-line harness of the autoencoder benchmark. This file parses
//! and dispatches; `cli/commands.rs` holds what each subcommand does.

mod cli;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use cli::args::{self, DataCommand};
use cli::commands;

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

#[derive(Debug, Subcommand)]
// Parsed once per process: the size of the larger variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum SlurmAction {
    /// Write `sweep.sbatch` / `merge.sbatch` into a new run root `<out>/<date>-<name>-slurm`
    /// and submit them: an array of --tasks shards, then a merge (+ check) job.
    Submit(args::SubmitArgs),
    /// Cells done / failed / missing per task, and the jobs' state in squeue.
    Status {
        /// The run root.
        run: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an experiment's sweep and write a dated run folder of tables and charts.
    Sweep(args::SweepArgs),
    /// Run one downstream task (what codes are for) on every model of an experiment:
    /// trains the models as `sweep` does, then evaluates the task; a sweep with
    /// `[eval] tasks = [TASK]`, written to its own run folder with the task's tables and charts.
    Eval(args::EvalArgs),
    /// Compare a run with a committed baseline; exit non-zero if any tracked metric got
    /// worse by more than its tolerance (3 seed standard deviations).
    Check(args::CheckArgs),
    /// Check what theory says a run must show (error falls with the code size; a
    /// linear-code shallow AE matches PCA; deep/conv/sparse/denoising AEs beat PCA at
    /// k = 10, 30, 50); exit non-zero if any comparison fails.
    Theory(args::TheoryArgs),
    /// The tracked metrics across the project's history (every committed version of the
    /// baselines): a long CSV, a table of every change with its commit, a trend chart per
    /// baseline file.
    History(args::HistoryArgs),
    /// Reproduce a published table (Hinton & Salakhutdinov 2006's MNIST autoencoders) into
    /// a new run folder and `results/paper/`.
    Reproduce(args::ReproduceArgs),
    /// Redraw a run folder's tables, summary and charts from its stored cells (no training).
    Report(args::ReportArgs),
    /// Combine run folders of one experiment (e.g. `--shard` runs from several machines)
    /// into a new folder `<out>/<date>-<name>-merged`, with tables and charts.
    Merge(args::MergeArgs),
    /// Print per-metric deltas (seed means, B − A) between two run folders, as markdown.
    Compare(args::CompareArgs),
    /// Time fixed-step training of the workloads PyTorch is compared with
    /// (scripts/torch_reference.py; scripts/bench-vs-torch.sh alternates both and writes
    /// results/bench/<date>-vs-torch/). Prints CSV rows.
    Bench(args::BenchArgs),
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
    // Recorded in run.json and summary.md by the commands that write a run.
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    match cli.command {
        Command::Sweep(a) => commands::sweep(a, command_line),
        Command::Eval(a) => commands::eval(a, command_line),
        Command::Check(a) => commands::check(a, command_line),
        Command::Theory(a) => commands::theory(a),
        Command::History(a) => commands::history(a),
        Command::Reproduce(a) => commands::reproduce(a, command_line),
        Command::Report(a) => commands::report(a),
        Command::Merge(a) => commands::merge(a, command_line),
        Command::Compare(a) => commands::compare(a),
        Command::Bench(a) => commands::bench(a),
        Command::Slurm { action } => match action {
            SlurmAction::Submit(a) => commands::slurm_submit(a),
            SlurmAction::Status { run } => {
                print!("{}", ae_bench::slurm::status(&run)?);
                Ok(())
            }
        },
        Command::Data { command } => commands::data(command),
    }
}
