//! `[eval]`: the test-split settings and each downstream task's settings.

use serde::{Deserialize, Serialize};

/// How the test split is evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalSpec {
    /// Images per evaluation batch.
    pub batch_size: usize,
    /// Evaluate on the first `test_limit` test images only (0 = all of them).
    pub test_limit: usize,
    /// Downstream tasks run on every trained model (`ae-bench eval <task>` sets one).
    pub tasks: Vec<Task>,
    /// Settings of the tasks.
    pub denoise: DenoiseSpec,
    /// Settings of the anomaly task.
    pub anomaly: AnomalySpec,
    /// Settings of the feature task.
    pub features: FeatureSpec,
    /// Settings of the clustering task.
    pub cluster: ClusterSpec,
    /// Settings of the t-SNE task.
    pub tsne: TsneTaskSpec,
    /// Settings of the generation task.
    pub generate: GenerateSpec,
    /// Settings of the compression task.
    pub compress: CompressSpec,
}

impl Default for EvalSpec {
    fn default() -> Self {
        EvalSpec {
            batch_size: 1000,
            test_limit: 0,
            tasks: Vec::new(),
            denoise: DenoiseSpec::default(),
            anomaly: AnomalySpec::default(),
            features: FeatureSpec::default(),
            cluster: ClusterSpec::default(),
            tsne: TsneTaskSpec::default(),
            generate: GenerateSpec::default(),
            compress: CompressSpec::default(),
        }
    }
}

/// The code size recorded for the [`ModelSpec::Pixels`] baseline: 28 × 28 images.
pub const PIXELS_CODE: usize = 784;

/// What codes are used for; each is an `ae-bench eval <task>` and an `[eval] tasks` entry.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// PSNR of noisy and denoised test images, per corruption and level.
    Denoise,
    /// One-class anomaly detection AUROC per digit, and the other dataset as out-of-distribution.
    Anomaly,
    /// Linear-probe and k-NN accuracy of the codes.
    Features,
    /// k-means (and DEC) clustering accuracy and NMI of the codes.
    Cluster,
    /// t-SNE of the codes, with the 5-NN accuracy of the embedding.
    Tsne,
    /// VAE importance-weighted test NLL on binarized images (samples are drawn anyway).
    Generate,
    /// Bits per image of quantised codes vs SSE, and PNG / gzip of the pixels.
    Compress,
}

impl Task {
    /// Its name as written in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Task::Denoise => "denoise",
            Task::Anomaly => "anomaly",
            Task::Features => "features",
            Task::Cluster => "cluster",
            Task::Tsne => "tsne",
            Task::Generate => "generate",
            Task::Compress => "compress",
        }
    }
}

/// Denoising: the corruptions applied to the test images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DenoiseSpec {
    /// Corruptions, e.g. `{ kind = "gaussian", sigma = 0.3 }`.
    pub noises: Vec<ae_data::Corruption>,
}

impl Default for DenoiseSpec {
    fn default() -> Self {
        use ae_data::Corruption::*;
        let mut noises = Vec::new();
        for level in [0.1, 0.3, 0.5] {
            noises.push(Gaussian { sigma: level });
        }
        for level in [0.1, 0.3, 0.5] {
            noises.push(Masking { p: level });
        }
        for level in [0.05, 0.1, 0.2] {
            noises.push(SaltAndPepper { p: level });
        }
        DenoiseSpec { noises }
    }
}

/// One-class anomaly detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalySpec {
    /// Normal classes: one model is trained on each.
    pub classes: Vec<u8>,
    /// Also score the experiment's other dataset as out-of-distribution.
    pub ood: bool,
}

impl Default for AnomalySpec {
    fn default() -> Self {
        AnomalySpec {
            classes: (0..10).collect(),
            ood: true,
        }
    }
}

/// Linear probe and k-NN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureSpec {
    /// Training images the probe and k-NN learn from (the first ones; 0 = all).
    pub train_images: usize,
    /// Neighbours of k-NN.
    pub knn_k: usize,
    /// L2 penalty of the probe.
    pub probe_l2: f64,
    /// L-BFGS iterations of the probe.
    pub probe_iterations: u64,
    /// Epochs of supervised fine-tuning of an autoencoder's encoder with a softmax head
    /// on the same images (the stacked-denoising protocol; 0 = frozen probe only).
    pub finetune_epochs: usize,
    /// Peak Adam learning rate of the fine-tuning (one-cycle).
    pub finetune_lr: f64,
    /// Mini-batch size of the fine-tuning.
    pub finetune_batch: usize,
}

impl Default for FeatureSpec {
    fn default() -> Self {
        FeatureSpec {
            train_images: 10_000,
            knn_k: 5,
            probe_l2: 1.0,
            probe_iterations: 100,
            // Pretrained encoders need a gentle rate: 1e-3 keeps what pretraining learned.
            finetune_epochs: 10,
            finetune_lr: 1e-3,
            finetune_batch: 128,
        }
    }
}

/// k-means and DEC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSpec {
    /// Training images clustered (the first ones), scored against their labels.
    pub images: usize,
    /// k-means++ restarts.
    pub restarts: usize,
    /// Also fine-tune each autoencoder's encoder with DEC from the k-means centres.
    pub dec: bool,
    /// DEC passes over the images at most.
    pub dec_epochs: usize,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            images: 10_000,
            restarts: 10,
            dec: true,
            dec_epochs: 20,
        }
    }
}

/// t-SNE of the test codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TsneTaskSpec {
    /// Test images embedded.
    pub points: usize,
    /// Perplexity.
    pub perplexity: f64,
    /// Iterations.
    pub iterations: usize,
    /// Barnes–Hut angle θ; 0 (the default) is exact t-SNE, O(n²) a step: about 40 s for
    /// 2 000 points. bhtsne 0.4's Barnes–Hut tree recursed without end (stack overflow)
    /// on MNIST pixels at θ = 0.5.
    pub theta: f64,
}

impl Default for TsneTaskSpec {
    fn default() -> Self {
        TsneTaskSpec {
            points: 2000,
            perplexity: 30.0,
            iterations: 1000,
            theta: 0.0,
        }
    }
}

/// VAE likelihood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerateSpec {
    /// Importance samples per image (Burda et al.: 5000).
    pub iwae_k: usize,
    /// Test images scored (the first ones; 0 = all).
    pub images: usize,
}

impl Default for GenerateSpec {
    fn default() -> Self {
        GenerateSpec {
            iwae_k: 5000,
            images: 1000,
        }
    }
}

/// Compression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressSpec {
    /// Bits per code unit to quantise to.
    pub bits: Vec<u32>,
}

impl Default for CompressSpec {
    fn default() -> Self {
        CompressSpec { bits: vec![8, 4] }
    }
}
