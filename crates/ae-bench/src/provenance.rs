//! What a run records about itself in `run.json`: enough to reproduce it.

use std::process::Command;

use serde::Serialize;

/// Version-control state of the working tree the run came from.
#[derive(Debug, Clone, Serialize)]
pub struct Git {
    /// `git rev-parse HEAD` of the working directory at run time, or "unknown" outside a
    /// repository.
    pub revision: String,
    /// Whether tracked files had uncommitted changes.
    pub dirty: bool,
    /// The revision the running binary was built from (what produced the numbers; it
    /// differs from `revision` when a binary built earlier runs in a newer checkout).
    pub binary_revision: String,
    /// Whether the crates had uncommitted changes when the binary was built.
    pub binary_dirty: bool,
}

impl Git {
    /// Reads the state of the repository around the working directory.
    pub fn detect() -> Git {
        let run = |args: &[&str]| {
            Command::new("git")
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        Git {
            revision: run(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into()),
            // --no-optional-locks: a read-only look; plain `status` rewrites .git/index.
            dirty: run(&[
                "--no-optional-locks",
                "status",
                "--porcelain",
                "--untracked-files=no",
            ])
            .is_some_and(|s| !s.is_empty()),
            binary_revision: env!("AE_BUILD_REVISION").to_string(),
            binary_dirty: env!("AE_BUILD_DIRTY") == "true",
        }
    }
}

/// The machine a run executed on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Host name.
    pub hostname: String,
    /// Operating system.
    pub os: &'static str,
    /// CPU architecture.
    pub arch: &'static str,
    /// CPU model name (from /proc/cpuinfo where available).
    pub cpu: String,
    /// Logical cores available to this process.
    pub cores: usize,
    /// Total memory in bytes (from /proc/meminfo where available).
    pub memory_bytes: u64,
}

impl Machine {
    /// Describes this machine.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|r| r.split(':').nth(1))
            })
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024);
        let hostname = std::fs::read_to_string("/etc/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Machine {
            hostname,
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes,
        }
    }
}

/// Software versions baked in at build time.
#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    /// This crate.
    pub ae_bench: &'static str,
    /// The burn version resolved in Cargo.lock.
    pub burn: &'static str,
    /// The compiler.
    pub rustc: &'static str,
    /// Cargo features compiled in.
    pub features: Vec<&'static str>,
}

impl Versions {
    /// The versions of this binary.
    pub fn current() -> Versions {
        let mut features = Vec::new();
        if cfg!(feature = "cuda") {
            features.push("cuda");
        }
        if cfg!(feature = "tch") {
            features.push("tch");
        }
        Versions {
            ae_bench: env!("CARGO_PKG_VERSION"),
            burn: env!("AE_BURN_VERSION"),
            rustc: env!("AE_RUSTC_VERSION"),
            features,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_version_comes_from_the_lock_file() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .unwrap();
        let v = Versions::current();
        assert!(
            lock.contains(&format!("name = \"burn\"\nversion = \"{}\"", v.burn)),
            "{}",
            v.burn
        );
        assert!(v.rustc.starts_with("rustc "), "{}", v.rustc);
        assert!(Machine::detect().cores >= 1);
    }
}
