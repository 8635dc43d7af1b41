//! `ae-bench history`: the tracked metrics across the project's history, read from the
//! committed baselines' git history (every commit that changed `results/baselines/*.csv`),
//! as a long CSV, a Markdown table of every change with its commit, and a trend chart per
//! baseline file — in the spirit of airspeed velocity (asv).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::check::{BaselineRow, parse_baseline};
use crate::store;

/// One baseline entry as committed in one revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Short commit hash.
    pub commit: String,
    /// Commit date (YYYY-MM-DD).
    pub date: String,
    /// Commit subject, cut to 60 characters.
    pub subject: String,
    /// The baseline file, relative to the repository.
    pub file: String,
    /// The entry.
    pub row: BaselineRow,
}

fn git(repo: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .with_context(|| format!("cannot run git in {}", repo.display()))?;
    if !out.status.success() {
        bail!(
            "git {} failed in {}: {}",
            args.join(" "),
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every committed version of every baseline under `dir` (relative to `repo`), oldest
/// first. A version that does not parse as today's format is skipped with a note.
pub fn collect(repo: &Path, dir: &str) -> Result<(Vec<Point>, Vec<String>)> {
    let log = git(
        repo,
        &[
            "log",
            "--reverse",
            "--format=%h\t%cs\t%s",
            "--name-only",
            "--",
            dir,
        ],
    )?;
    let mut points = Vec::new();
    let mut notes = Vec::new();
    let mut head: Option<(String, String, String)> = None;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.splitn(3, '\t').collect();
        if let [hash, date, subject] = fields[..] {
            let subject: String = subject.chars().take(60).collect();
            head = Some((hash.into(), date.into(), subject));
            continue;
        }
        let (Some((hash, date, subject)), true) = (&head, line.ends_with(".csv")) else {
            continue;
        };
        // The file as of that commit (absent when the commit deleted it).
        let Ok(text) = git(repo, &["show", &format!("{hash}:{line}")]) else {
            continue;
        };
        match parse_baseline(Path::new(line), text.as_bytes()) {
            Ok(rows) => points.extend(rows.into_iter().map(|row| Point {
                commit: hash.clone(),
                date: date.clone(),
                subject: subject.clone(),
                file: line.to_string(),
                row,
            })),
            Err(e) => notes.push(format!("{hash} {line}: skipped ({e:#})")),
        }
    }
    Ok((points, notes))
}

fn entry(r: &BaselineRow) -> String {
    format!(
        "{} {} k={} {} {}",
        r.dataset, r.model, r.code_size, r.backend, r.metric
    )
}

/// The long table: one line per (commit, file, entry).
pub fn csv(points: &[Point]) -> String {
    let mut s = String::from(
        "commit,date,file,dataset,model,code_size,backend,metric,value,tolerance,seeds\n",
    );
    for p in points {
        let r = &p.row;
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            p.commit,
            p.date,
            p.file,
            r.dataset,
            r.model,
            r.code_size,
            r.backend,
            r.metric,
            r.value,
            r.tolerance,
            r.seeds
        ));
    }
    s
}

/// Every change of a tracked value (and every entry's first appearance), per file.
pub fn markdown(points: &[Point]) -> String {
    let mut s = String::from(
        "| file | entry | commit | date | value | change | commit subject |\n\
         |---|---|---|---|---:|---:|---|\n",
    );
    let mut last: BTreeMap<(String, String), f64> = BTreeMap::new();
    for p in points {
        let key = (p.file.clone(), entry(&p.row));
        let prev = last.insert(key.clone(), p.row.value);
        let change = match prev {
            None => "new".to_string(),
            Some(v) if v == p.row.value => continue,
            Some(v) => format!("{:+.2} %", 100.0 * (p.row.value - v) / v.abs().max(1e-12)),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.4} | {} | {} |\n",
            key.0,
            key.1,
            p.commit,
            p.date,
            p.row.value,
            change,
            p.subject.replace('|', "/")
        ));
    }
    s
}

/// One chart per baseline file: each entry's value relative to its first committed value,
/// over the commits that changed the file; as PNG, SVG, vector PDF and the plotted data
/// as CSV (`chart_files`). Returns the PNGs.
pub fn charts(points: &[Point], out: &Path) -> Result<Vec<PathBuf>> {
    crate::plot::register_font();
    let mut by_file: BTreeMap<&str, Vec<&Point>> = BTreeMap::new();
    for p in points {
        by_file.entry(p.file.as_str()).or_default().push(p);
    }
    let mut written = Vec::new();
    for (file, pts) in by_file {
        let mut commits: Vec<String> = Vec::new();
        for p in &pts {
            if !commits.contains(&p.commit) {
                commits.push(p.commit.clone());
            }
        }
        let mut lines: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        let mut first: BTreeMap<String, f64> = BTreeMap::new();
        for p in &pts {
            let x = commits.iter().position(|c| *c == p.commit).unwrap_or(0) as f64;
            let base = *first.entry(entry(&p.row)).or_insert(p.row.value);
            let y = p.row.value / if base == 0.0 { 1.0 } else { base };
            lines.entry(entry(&p.row)).or_default().push((x, y));
        }
        let chart = Trend {
            file,
            commits,
            lines,
        };
        let stem_name = Path::new(file)
            .file_stem()
            .map_or_else(|| "baseline".into(), |s| s.to_string_lossy().into_owned());
        let stem = out.join(format!("history_{stem_name}"));
        let size = (1000, 600);
        let png = stem.with_extension("png");
        store::draw_atomic(&png, |p| {
            chart.draw(&BitMapBackend::new(p, size).into_drawing_area())
        })?;
        store::draw_atomic(&stem.with_extension("svg"), |p| {
            chart.draw(&SVGBackend::new(p, size).into_drawing_area())
        })?;
        crate::chart_files::write_pdf(&stem)?;
        crate::chart_files::write_csv(
            &stem,
            chart
                .lines
                .iter()
                .flat_map(|(name, pts)| pts.iter().map(move |&(x, y)| (file, name.as_str(), x, y))),
        )?;
        written.push(png);
    }
    Ok(written)
}

/// One baseline file's trend: a line per entry over the commits that changed it.
struct Trend<'a> {
    file: &'a str,
    commits: Vec<String>,
    /// Entry -> (commit index, value / first value).
    lines: BTreeMap<String, Vec<(f64, f64)>>,
}

impl Trend<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("drawing failed: {e}");
        let (lo, hi) = self
            .lines
            .values()
            .flatten()
            .fold((1.0f64, 1.0f64), |(lo, hi), &(_, y)| (lo.min(y), hi.max(y)));
        let pad = ((hi - lo) * 0.1).max(0.01);
        let labels = &self.commits;
        root.fill(&WHITE).map_err(err)?;
        let n = labels.len().max(2) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{}: value / first committed value", self.file),
                ("sans-serif", 22),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.2..n - 0.8, (lo - pad)..(hi + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(labels.len().max(2))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("commit (oldest first)")
            .y_desc("relative value (lower is better)")
            .draw()
            .map_err(err)?;
        for (i, (name, pts)) in self.lines.iter().enumerate() {
            let color = crate::plot::series_color(i);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(err)?;
        }
        if self.lines.len() <= 16 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn git_ok(dir: &Path, args: &[&str]) {
        git(dir, args).unwrap();
    }

    /// A repository with three commits of one baseline: the history has each version,
    /// the table each change, the chart exists.
    #[test]
    fn reads_every_committed_version() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git_ok(d, &["init", "-q"]);
        git_ok(d, &["config", "user.email", "t@t"]);
        git_ok(d, &["config", "user.name", "t"]);
        std::fs::create_dir_all(d.join("b")).unwrap();
        let header = "dataset,model,code_size,backend,metric,value,tolerance,seeds\n";
        for (i, v) in [10.0, 10.0, 9.0].iter().enumerate() {
            std::fs::write(
                d.join("b/x.csv"),
                format!("{header}mnist,pca,30,flex,test_sse_per_image,{v},0.1,3\n"),
            )
            .unwrap();
            std::fs::write(d.join("other.txt"), i.to_string()).unwrap();
            git_ok(d, &["add", "-A"]);
            git_ok(d, &["commit", "-q", "-m", &format!("c{i}")]);
        }
        let (points, notes) = collect(d, "b").unwrap();
        // The second commit did not change b/x.csv: two versions.
        assert_eq!(points.len(), 2, "{points:?}");
        assert!(notes.is_empty());
        assert_eq!(points[1].row.value, 9.0);
        let md = markdown(&points);
        assert!(md.contains("| new |") && md.contains("-10.00 %"), "{md}");
        assert_eq!(csv(&points).lines().count(), 3);
        let charts = charts(&points, d).unwrap();
        assert!(charts[0].is_file());
        // Beside the PNG: the vector PDF and the plotted points (two commits, one entry).
        let pdf = std::fs::read(charts[0].with_extension("pdf")).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let data = std::fs::read_to_string(charts[0].with_extension("csv")).unwrap();
        assert_eq!(data.lines().count(), 3, "{data}");
        assert!(data.lines().nth(2).unwrap().ends_with(",1,0.9"), "{data}");
    }
}
