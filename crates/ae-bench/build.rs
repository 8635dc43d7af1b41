//! Records the resolved burn version, the compiler and the git revision the binary is
//! built from, for run provenance (run.json).

fn main() {
    // The manifest folder at run time, not `env!` at the script's compile time: a target
    // folder shared by two checkouts (CI's clone, the working tree) reuses the compiled
    // script, whose baked-in path would point into the other checkout.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let lock = std::path::Path::new(&manifest).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let burn = text
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"burn\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=AE_BURN_VERSION={burn}");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=AE_RUSTC_VERSION={version}");
    // The revision the binary is built from: a binary copied aside and run later from a
    // checkout that has moved on must still say what code produced its numbers. Rerun
    // when HEAD moves (a commit rewrites the branch's ref) or a workspace source changes.
    // Not `.git/index`: `git status` (the sweep runs it for provenance) rewrites the
    // index, and watching it rebuilt ae-bench (200 s) between the README's two commands.
    let root = std::path::Path::new(&manifest).join("../..");
    for watched in watched_git_files(&root.join(".git"))
        .into_iter()
        .chain([root.join("crates"), root.join("Cargo.toml")])
    {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let revision = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&[
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        "crates",
        "Cargo.toml",
        "Cargo.lock",
    ])
    .is_some_and(|s| !s.is_empty());
    println!("cargo:rustc-env=AE_BUILD_REVISION={revision}");
    println!("cargo:rustc-env=AE_BUILD_DIRTY={dirty}");
}

/// HEAD, the branch file it names and packed-refs, those that exist (cargo reruns a
/// script on every build while a watched file is missing).
fn watched_git_files(git: &std::path::Path) -> Vec<std::path::PathBuf> {
    let head = git.join("HEAD");
    let mut files = vec![head.clone(), git.join("packed-refs")];
    if let Some(branch) = std::fs::read_to_string(&head)
        .ok()
        .and_then(|h| h.strip_prefix("ref: ").map(|r| r.trim().to_string()))
    {
        files.push(git.join(branch));
    }
    files.retain(|f| f.is_file());
    files
}
