//! The task tables of summary.md: seed means ± sd per (dataset, model, code size), with
//! the published reference numbers quoted under each.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::report::mean_sd;
use crate::store::Row;

/// Deep SVDD (Ruff et al. 2018), one-class AUROC (%) per MNIST digit.
pub const DEEP_SVDD_MNIST: [f64; 10] = [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5];

/// Published numbers quoted under each task's table: (task, dataset, text).
const REFERENCES: &[(&str, &str, &str)] = &[
    (
        "anomaly",
        "mnist",
        "Deep SVDD (Ruff et al. 2018) one-class AUROC: 98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5 (mean 94.8)",
    ),
    (
        "features",
        "mnist",
        "a 3-layer stacked denoising AE (784-1000-1000-1000) fine-tuned with a softmax head: 1.28 % test error, i.e. 98.7 % accuracy (Vincent et al. 2010); compare `finetune_acc`",
    ),
    (
        "cluster",
        "mnist",
        "ACC: k-means on pixels ≈ 53 %, AE + k-means ≈ 88 %, DEC 84.3 % (Xie et al. 2016) to ≈ 91 % (a public reimplementation)",
    ),
    (
        "cluster",
        "fashion-mnist",
        "ACC: k-means on pixels ≈ 47 %, AE + k-means ≈ 61 %, DEC ≈ 62 %",
    ),
    (
        "generate",
        "mnist",
        "test NLL 86.76 nats: one-stochastic-layer VAE 784-200-200-50, k = 5000 (Burda et al. 2015), trained 3 280 epochs",
    ),
];

/// The tasks' metrics: (task, section title, metrics shown, as percentages).
const TASK_TABLES: &[(&str, &str, &[&str], bool)] = &[
    (
        "denoise",
        "Denoising: PSNR (dB) of the model's output / of the noisy input",
        &[],
        false,
    ),
    (
        "anomaly",
        "Anomaly detection: one-class AUROC (%) per normal class, mean, and the other dataset as out-of-distribution; for `pixels`, the baselines on the raw items: 5-NN distance and isolation forest (mean over normal classes)",
        &[
            "auroc@0",
            "auroc@1",
            "auroc@2",
            "auroc@3",
            "auroc@4",
            "auroc@5",
            "auroc@6",
            "auroc@7",
            "auroc@8",
            "auroc@9",
            "auroc_mean",
            "ood_auroc",
            "knn_auroc_mean",
            "iforest_auroc_mean",
        ],
        true,
    ),
    (
        "features",
        "Features: linear-probe and k-NN test accuracy of the frozen codes, and of the encoder fine-tuned with a softmax head (%)",
        &["probe_acc", "knn_acc", "finetune_acc"],
        true,
    ),
    (
        "cluster",
        "Clustering: accuracy (Hungarian) and NMI (%) of k-means on codes, and of DEC",
        &["kmeans_acc", "kmeans_nmi", "dec_acc", "dec_nmi"],
        true,
    ),
    (
        "tsne",
        "t-SNE: leave-one-out 5-NN accuracy (%) in the 2-D embedding of 2 000 test codes",
        &["tsne_knn_acc"],
        true,
    ),
    (
        "generate",
        "Generation: importance-weighted test NLL (nats) on binarized images",
        &["iwae_nll", "iwae_k"],
        false,
    ),
    (
        "compress",
        "Compression: bits per image and test SSE per image, float / 8-bit / 4-bit codes; lossless sizes of the pixels",
        &[
            "bits@32",
            "sse@32",
            "bits@8",
            "sse@8",
            "bits@4",
            "sse@4",
            "bits@png",
            "bits@gzip",
            "bits@raw",
        ],
        false,
    ),
];

/// (dataset, model, code size) -> metric -> seed values.
pub(super) type Table = BTreeMap<(String, String, u32), BTreeMap<String, Vec<f64>>>;

pub(super) fn collect(rows: &[Row]) -> Table {
    let mut t: Table = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.status.is_ok() && r.value.is_finite())
    {
        t.entry((r.dataset.clone(), r.model.clone(), r.code_size))
            .or_default()
            .entry(r.metric.clone())
            .or_default()
            .push(r.value);
    }
    t
}

fn cell(v: Option<&Vec<f64>>, percent: bool) -> String {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return "–".into();
    };
    let (m, sd) = mean_sd(v);
    let scale = if percent { 100.0 } else { 1.0 };
    let digits = if percent || m.abs() < 1000.0 { 1 } else { 0 };
    if v.len() > 1 {
        format!("{:.*} ± {:.*}", digits, m * scale, digits, sd * scale)
    } else {
        format!("{:.*}", digits, m * scale)
    }
}

/// The denoising metrics present, in the experiment's order of noises.
pub(super) fn noise_labels(rows: &[Row]) -> Vec<String> {
    let mut seen = Vec::new();
    for r in rows {
        if let Some(l) = r.metric.strip_prefix("psnr_denoised@")
            && !seen.iter().any(|s: &String| s == l)
        {
            seen.push(l.to_string());
        }
    }
    seen
}

/// The markdown sections of every task present in `rows` (empty if none).
pub fn summary_sections(rows: &[Row]) -> String {
    let t = collect(rows);
    let datasets: BTreeSet<&str> = t.keys().map(|k| k.0.as_str()).collect();
    let mut out = String::new();
    for &(task, title, metrics, percent) in TASK_TABLES {
        let (cols, labels): (Vec<String>, Vec<String>) = if task == "denoise" {
            let l = noise_labels(rows);
            (l.iter().map(|n| format!("psnr_denoised@{n}")).collect(), l)
        } else {
            (
                metrics.iter().map(|m| m.to_string()).collect(),
                metrics.iter().map(|m| m.to_string()).collect(),
            )
        };
        let present = |m: &BTreeMap<String, Vec<f64>>| cols.iter().any(|c| m.contains_key(c));
        if !t.values().any(present) {
            continue;
        }
        let _ = writeln!(out, "## Task `{task}` — {title}\n");
        for d in &datasets {
            let keys: Vec<_> = t.iter().filter(|(k, m)| k.0 == *d && present(m)).collect();
            if keys.is_empty() {
                continue;
            }
            // Only the columns some model has.
            let shown: Vec<usize> = (0..cols.len())
                .filter(|&i| keys.iter().any(|(_, m)| m.contains_key(&cols[i])))
                .collect();
            let _ = writeln!(out, "### {d}\n");
            let head: Vec<&str> = shown.iter().map(|&i| labels[i].as_str()).collect();
            let _ = writeln!(out, "| model | k | {} |", head.join(" | "));
            let _ = writeln!(out, "|---|---:|{}", "---:|".repeat(shown.len()));
            for ((_, model, k), m) in &keys {
                let vals: Vec<String> = shown
                    .iter()
                    .map(|&i| {
                        let c = cell(m.get(&cols[i]), percent);
                        if task == "denoise" {
                            let noisy = cell(m.get(&format!("psnr_noisy@{}", labels[i])), false);
                            format!("{c} / {noisy}")
                        } else {
                            c
                        }
                    })
                    .collect();
                let _ = writeln!(out, "| {model} | {k} | {} |", vals.join(" | "));
            }
            out.push('\n');
            for (_, _, text) in REFERENCES
                .iter()
                .filter(|(tk, ds, _)| *tk == task && ds == d)
            {
                let _ = writeln!(out, "Reference: {text}.\n");
            }
        }
    }
    out
}
