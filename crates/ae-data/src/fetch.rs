//! Explicit, verified downloads. Nothing in the toolkit calls this implicitly: a user runs
//! `ae-bench data fetch <dataset>`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::dataset::{DatasetKind, FILES};
use crate::error::{DataError, Result};
use crate::idx;

/// How long a mirror may take before the next one is tried.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Establishing the connection.
    pub connect: Duration,
    /// From the request until the response headers.
    pub response: Duration,
    /// The whole body of one file (the largest is 9.9 MB gzipped).
    pub body: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(15),
            response: Duration::from_secs(30),
            // 9.9 MB in 10 minutes is 16 kB/s: slower than that, another mirror is better.
            body: Duration::from_secs(600),
        }
    }
}

/// Progress of one file's download: `(file name, bytes so far, total bytes if known)`.
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, Option<u64>);

/// Downloads the four gzipped files of `kind` into `dest_root/<name>/`, trying each mirror
/// in turn, verifying each file's decompressed SHA-256 before it is written (atomically:
/// temp file then rename), and writing `SHA256SUMS` beside them. Files already present
/// and valid are kept. Returns the dataset directory.
pub fn fetch(
    kind: DatasetKind,
    dest_root: &Path,
    mirrors: &[&str],
    progress: Progress<'_>,
) -> Result<PathBuf> {
    fetch_with(kind, dest_root, mirrors, Timeouts::default(), progress)
}

/// [`fetch`] with explicit timeouts: a mirror that does not connect, answer or deliver in
/// time fails over to the next.
pub fn fetch_with(
    kind: DatasetKind,
    dest_root: &Path,
    mirrors: &[&str],
    timeouts: Timeouts,
    progress: Progress<'_>,
) -> Result<PathBuf> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(timeouts.connect))
        .timeout_recv_response(Some(timeouts.response))
        .timeout_recv_body(Some(timeouts.body))
        .build()
        .into();
    let dir = dest_root.join(kind.name());
    std::fs::create_dir_all(&dir).map_err(|source| DataError::Io {
        path: dir.clone(),
        source,
    })?;
    for (stem, sum) in FILES.iter().zip(kind.checksums()) {
        let target = dir.join(format!("{stem}.gz"));
        if target.is_file()
            && idx::read_maybe_gzip(&target)
                .and_then(|b| idx::verify(&target, &b, sum))
                .is_ok()
        {
            continue;
        }
        let mut attempts = Vec::new();
        let mut done = false;
        for base in mirrors {
            let url = format!("{}/{stem}.gz", base.trim_end_matches('/'));
            match download_verified(&agent, &url, &target, sum, progress) {
                Ok(()) => {
                    done = true;
                    break;
                }
                Err(e) => attempts.push(format!("{url}: {e}")),
            }
        }
        if !done {
            return Err(DataError::Download {
                file: format!("{stem}.gz"),
                attempts,
            });
        }
    }
    let sums: String = FILES
        .iter()
        .zip(kind.checksums())
        .map(|(f, s)| format!("{s}  {f}\n"))
        .collect();
    write_atomic(&dir.join("SHA256SUMS"), sums.as_bytes())?;
    Ok(dir)
}

/// Fetches one URL, checks the decompressed payload and writes it to `target`.
fn download_verified(
    agent: &ureq::Agent,
    url: &str,
    target: &Path,
    sum: &str,
    progress: Progress<'_>,
) -> Result<()> {
    let io_err = |e: std::io::Error| DataError::Io {
        path: PathBuf::from(url),
        source: e,
    };
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| io_err(std::io::Error::other(e)))?;
    let total = resp.body().content_length();
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut reader = resp.body_mut().as_reader();
    let mut bytes = Vec::with_capacity(total.unwrap_or(1 << 20) as usize);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
        progress(&name, bytes.len() as u64, total);
    }
    // Verify before anything touches the destination, so a bad mirror leaves no file.
    let tmp = target.with_extension("gz.partial");
    write_atomic(&tmp, &bytes)?;
    let checked = idx::read_maybe_gzip(&tmp).and_then(|raw| idx::verify(target, &raw, sum));
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, target).map_err(|source| DataError::Io {
        path: target.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to `path` through a temporary sibling and a rename, so a reader never
/// sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::Write;
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    /// A tiny HTTP/1.1 server on 127.0.0.1 that serves `files` by path and 404s the rest.
    /// It stops by itself after `max_requests` requests or 60 s, whichever comes first.
    fn serve(
        files: HashMap<String, Vec<u8>>,
        max_requests: usize,
    ) -> (String, std::thread::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let handle =
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut served = 0;
                while served < max_requests && Instant::now() < deadline {
                    let (mut stream, _) = match listener.accept() {
                        Ok(s) => s,
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    };
                    stream.set_nonblocking(false).unwrap();
                    let mut req = Vec::new();
                    let mut b = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = stream.read(&mut b).unwrap();
                        if n == 0 {
                            break;
                        }
                        req.extend_from_slice(&b[..n]);
                    }
                    let line = String::from_utf8_lossy(&req)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let path = line
                        .split(' ')
                        .nth(1)
                        .unwrap_or("/")
                        .trim_start_matches('/');
                    let _ = match files.get(path) {
                    Some(body) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body))
                    }
                    None => stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    ),
                };
                    served += 1;
                }
                served
            });
        (base, handle)
    }

    fn shared_files(prefix: &str) -> HashMap<String, Vec<u8>> {
        // cargo sets CARGO_MANIFEST_DIR when it runs the test too; read at run time, it is
        // right even for a test binary that cargo reused from a build in another checkout.
        let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
            || env!("CARGO_MANIFEST_DIR").into(),
            std::path::PathBuf::from,
        );
        let dir = crate_dir.join("../../data/mnist");
        FILES
            .iter()
            .map(|f| {
                let name = format!("{f}.gz");
                (
                    format!("{prefix}{name}"),
                    std::fs::read(dir.join(&name)).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn fetches_verifies_and_falls_over_to_the_next_mirror() {
        let (base, server) = serve(shared_files("good/"), 8);
        let dest = tempfile::tempdir().unwrap();
        let mut calls = 0u64;
        let mut last_total = None;
        let mut progress = |_: &str, _: u64, total: Option<u64>| {
            calls += 1;
            last_total = total;
        };
        // The first mirror 404s every file; the second serves them.
        let mirrors = [format!("{base}missing/"), format!("{base}good/")];
        let mirrors: Vec<&str> = mirrors.iter().map(String::as_str).collect();
        let dir = fetch(DatasetKind::Mnist, dest.path(), &mirrors, &mut progress).unwrap();
        assert_eq!(server.join().unwrap(), 8);
        assert!(calls > 4 && last_total.is_some());
        let ds =
            crate::Dataset::load_dir(DatasetKind::Mnist, &dir, crate::Verify::Published).unwrap();
        assert_eq!(ds.test.len(), 10_000);
        assert!(dir.join("SHA256SUMS").is_file());
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn corrupted_download_is_rejected_and_not_written() {
        let mut files = shared_files("");
        // A well-formed gzip whose content differs by one byte from the published file:
        // only the checksum can tell.
        let victim = format!("{}.gz", FILES[3]);
        let body = files.get_mut(&victim).unwrap();
        let mut raw = Vec::new();
        flate2::read::MultiGzDecoder::new(body.as_slice())
            .read_to_end(&mut raw)
            .unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&raw).unwrap();
        *body = enc.finish().unwrap();
        let (base, server) = serve(files, 4);
        let dest = tempfile::tempdir().unwrap();
        let err = fetch(
            DatasetKind::Mnist,
            dest.path(),
            &[base.as_str()],
            &mut |_, _, _| {},
        )
        .unwrap_err();
        server.join().unwrap();
        let msg = err.to_string();
        assert!(matches!(err, DataError::Download { .. }), "{err:?}");
        assert!(msg.contains("t10k-labels-idx1-ubyte.gz"), "{msg}");
        assert!(msg.contains("SHA-256"), "{msg}");
        let target = dest.path().join("mnist").join(&victim);
        assert!(!target.exists(), "a corrupt file must not be left behind");
        assert!(!target.with_extension("gz.partial").exists());
    }

    #[test]
    fn a_stalled_mirror_times_out_and_the_next_is_tried() {
        // A local server that accepts and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = std::thread::spawn(move || {
            let conns: Vec<_> = listener.incoming().take(2).collect();
            std::thread::sleep(std::time::Duration::from_secs(3));
            drop(conns);
        });
        let dest = tempfile::tempdir().unwrap();
        let t = std::time::Instant::now();
        let short = Timeouts {
            connect: Duration::from_millis(500),
            response: Duration::from_millis(500),
            body: Duration::from_millis(500),
        };
        let stalled = format!("http://{addr}");
        let err = fetch_with(
            DatasetKind::Mnist,
            dest.path(),
            &[&stalled, &stalled],
            short,
            &mut |_, _, _| {},
        )
        .unwrap_err()
        .to_string();
        assert!(
            t.elapsed() < std::time::Duration::from_secs(3),
            "{:?}",
            t.elapsed()
        );
        // Both mirrors were tried, each failed on its own timeout.
        assert_eq!(err.matches("timeout").count(), 2, "{err}");
        let _ = hold.join();
    }
}
