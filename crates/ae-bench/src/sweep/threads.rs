//! How a sweep shares the cores (cells at once × backend threads per cell), and each
//! cell's peak memory.

use serde::Serialize;

/// The cores this process may use: Slurm's allocation (`SLURM_CPUS_PER_TASK`) when run as
/// a Slurm task (whose cgroup the plain core count does not see with `task/none`), else
/// every core.
pub fn allocated_cores() -> usize {
    std::env::var("SLURM_CPUS_PER_TASK")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// How the cores are shared: `jobs` cells at once, each on its own rayon pool of
/// `threads_per_cell` threads (the backend's matmuls and elementwise kernels run on the
/// pool they are called from), so `jobs × threads_per_cell ≤ cores`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ThreadBudget {
    /// Cores available to this process.
    pub cores: usize,
    /// Cells run at once.
    pub jobs: usize,
    /// Backend threads of each cell.
    pub threads_per_cell: usize,
}

impl ThreadBudget {
    /// Default: one cell per core. The sweep's cells are independent and mostly small
    /// (batch 128, layers ≤ 1000 wide), where two cells on one thread each finish in
    /// about half the time one cell takes on two threads (measured: README). `--jobs J`
    /// overrides; `--jobs 1` gives every core to one cell (best for a single large model).
    pub fn choose(cores: usize, jobs: Option<usize>, pending: usize) -> ThreadBudget {
        let cores = cores.max(1);
        let jobs = jobs.unwrap_or(cores).clamp(1, cores).min(pending.max(1));
        ThreadBudget {
            cores,
            jobs,
            threads_per_cell: (cores / jobs).max(1),
        }
    }
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`); `None` elsewhere.
pub(super) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Restarts the peak-memory counter (Linux ≥ 4.0), so that with one cell at a time
/// each cell's `peak_rss_mib` is its own.
pub(super) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
