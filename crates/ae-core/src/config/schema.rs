//! The TOML schema of autoencoder configurations: one closed enum selected by `kind`
//! (serde reads it), and what a config says about itself. A leaf: it imports no model.

use ae_data::Corruption;
use serde::{Deserialize, Serialize};

use crate::mlp::Activation;

/// Reconstruction loss (and so the decoder's output nonlinearity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReconLoss {
    /// Squared error summed over pixels, on x̂ = σ(logits) so that x̂ ∈ (0, 1).
    Mse,
    /// Binary cross-entropy from logits (stable form); output σ(logits).
    Bce,
}

/// The MLP body shared by every MLP variant. The decoder mirrors the encoder unless
/// `decoder_hidden` is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchSpec {
    /// Encoder hidden layer sizes between the input and the code (empty: shallow AE).
    pub hidden: Vec<usize>,
    /// Decoder hidden sizes from the code outwards (default: `hidden` reversed).
    pub decoder_hidden: Option<Vec<usize>>,
    /// Activation of every hidden layer (unless `activations` lists them one by one).
    pub activation: Activation,
    /// One activation per encoder hidden layer, input side first (overrides `activation`).
    pub activations: Option<Vec<Activation>>,
    /// One activation per decoder hidden layer, code side first (default: the encoder's
    /// mirrored when the decoder mirrors the encoder, else `activation`).
    pub decoder_activations: Option<Vec<Activation>>,
    /// Activation of the code layer (Hinton & Salakhutdinov use a linear code).
    pub code_activation: Activation,
    /// Reconstruction loss.
    pub loss: ReconLoss,
    /// Tied weights: the decoder uses the transposed encoder weights (own biases).
    pub tied: bool,
}

impl Default for ArchSpec {
    fn default() -> Self {
        ArchSpec {
            hidden: Vec::new(),
            decoder_hidden: None,
            activation: Activation::Sigmoid,
            activations: None,
            decoder_activations: None,
            code_activation: Activation::Sigmoid,
            loss: ReconLoss::Bce,
            tied: false,
        }
    }
}

/// Which sparsity penalty a sparse AE uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "penalty", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Sparsity {
    /// λ Σ_j |h_j|, mean over the batch.
    L1 {
        /// Weight λ.
        lambda: f32,
    },
    /// λ Σ_j h_j², mean over the batch.
    L2 {
        /// Weight λ.
        lambda: f32,
    },
    /// β Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j the batch mean of sigmoid code unit j.
    Kl {
        /// Target mean activation ρ ∈ (0, 1).
        rho: f32,
        /// Weight β.
        beta: f32,
    },
    /// Keep the k largest code activations per example, zero the rest (Makhzani & Frey 2013).
    KSparse {
        /// Number of active units kept.
        k: usize,
    },
}

/// The distribution an adversarial autoencoder pushes its codes toward.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Prior {
    /// N(0, I).
    #[default]
    Gaussian,
    /// `components` equal-weight Gaussians with means on a circle in the first two code
    /// dimensions (Makhzani et al.'s 10-component prior for MNIST), N(0, 1) in the rest.
    Mixture {
        /// Number of components (>= 2).
        components: usize,
    },
}

/// An autoencoder, selected by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AeConfig {
    /// Shallow undercomplete AE: z = f(Wx + b), x̂ = g(W'z + b').
    Shallow {
        /// The body (its `hidden` must be empty).
        #[serde(default)]
        arch: ArchSpec,
    },
    /// Deep (stacked) AE, e.g. 784-1000-500-250-30 with a linear code.
    Deep {
        /// The body.
        #[serde(default)]
        arch: ArchSpec,
    },
    /// Sparse AE (legal with a code larger than the input: overcomplete).
    Sparse {
        /// The body.
        #[serde(default)]
        arch: ArchSpec,
        /// The penalty.
        sparsity: Sparsity,
    },
    /// Denoising AE: trained on corrupted inputs, loss against the clean ones.
    Denoising {
        /// The body.
        #[serde(default)]
        arch: ArchSpec,
        /// The corruption process and level.
        corruption: Corruption,
    },
    /// Contractive AE: λ ‖J_f(x)‖²_F.
    Contractive {
        /// The body.
        #[serde(default)]
        arch: ArchSpec,
        /// Weight λ.
        lambda: f32,
    },
    /// Convolutional AE for square single-channel images (side divisible by 2^stages).
    Conv {
        /// Output channels of each conv stage, e.g. [16, 32] (28 -> 14 -> 7).
        #[serde(default = "default_channels")]
        channels: Vec<usize>,
        /// Reconstruction loss.
        #[serde(default = "default_loss")]
        loss: ReconLoss,
    },
    /// Variational AE with a Gaussian encoder and Bernoulli (BCE) or Gaussian (MSE) decoder.
    Vae {
        /// The MLP body (code activation is ignored: the encoder outputs μ and log σ²).
        #[serde(default)]
        arch: ArchSpec,
        /// Convolutional encoder and decoder with these channels per stage instead of the
        /// MLP body (`arch.loss` still picks the decoder distribution).
        #[serde(default)]
        channels: Option<Vec<usize>>,
        /// Weight β on the KL term (1 = the ELBO).
        #[serde(default = "one")]
        beta: f32,
    },
    /// Wasserstein AE, MMD penalty (Tolstikhin et al. 2018): deterministic, with
    /// λ·MMD²(codes, N(0, I)) under an inverse-multiquadratic kernel. The code layer is
    /// linear (`arch.code_activation` is ignored), so that it can match the prior.
    Wae {
        /// The MLP body.
        #[serde(default)]
        arch: ArchSpec,
        /// Weight λ of MMD² (the paper: 10 with a 0.05-scaled squared error; our
        /// reconstruction loss is per image, unscaled, hence 100).
        #[serde(default = "default_mmd_lambda")]
        lambda: f32,
    },
    /// Adversarial AE (Makhzani et al. 2015): a discriminator on the code pushes q(z)
    /// toward the prior in alternating reconstruction / discriminator / generator steps.
    /// The code layer is linear (`arch.code_activation` is ignored).
    Aae {
        /// The MLP body.
        #[serde(default)]
        arch: ArchSpec,
        /// The prior.
        #[serde(default)]
        prior: Prior,
        /// Hidden layer sizes of the discriminator (ReLU), code side first.
        #[serde(default = "default_discriminator")]
        discriminator: Vec<usize>,
    },
}

fn default_mmd_lambda() -> f32 {
    100.0
}

fn default_discriminator() -> Vec<usize> {
    vec![500, 500]
}

fn one() -> f32 {
    1.0
}

fn default_channels() -> Vec<usize> {
    vec![16, 32]
}

fn default_loss() -> ReconLoss {
    ReconLoss::Bce
}

/// The body of variants without an MLP (conv): used for shared checks only.
pub(super) static NO_ARCH: std::sync::LazyLock<ArchSpec> =
    std::sync::LazyLock::new(ArchSpec::default);

/// Every `kind` of autoencoder, as written in experiment files: the zoo-wide CI
/// experiment must hold one model of each (a test checks it).
pub const KINDS: [&str; 9] = [
    "shallow",
    "deep",
    "sparse",
    "denoising",
    "contractive",
    "conv",
    "vae",
    "wae",
    "aae",
];

impl AeConfig {
    /// The variant's `kind` as written in experiment files.
    pub fn kind(&self) -> &'static str {
        // Exhaustive: a new variant must name its `kind` here, and [`KINDS`] must list it.
        match self {
            AeConfig::Shallow { .. } => "shallow",
            AeConfig::Deep { .. } => "deep",
            AeConfig::Sparse { .. } => "sparse",
            AeConfig::Denoising { .. } => "denoising",
            AeConfig::Contractive { .. } => "contractive",
            AeConfig::Conv { .. } => "conv",
            AeConfig::Vae { .. } => "vae",
            AeConfig::Wae { .. } => "wae",
            AeConfig::Aae { .. } => "aae",
        }
    }

    /// The variant's default name in tables (the sparse penalties are told apart).
    pub fn name(&self) -> &'static str {
        match self {
            AeConfig::Shallow { .. } => "shallow",
            AeConfig::Deep { .. } => "deep",
            AeConfig::Sparse { sparsity, .. } => match sparsity {
                Sparsity::L1 { .. } => "sparse-l1",
                Sparsity::L2 { .. } => "sparse-l2",
                Sparsity::Kl { .. } => "sparse-kl",
                Sparsity::KSparse { .. } => "k-sparse",
            },
            AeConfig::Denoising { .. } => "denoising",
            AeConfig::Conv { .. } => "conv",
            AeConfig::Contractive { .. } => "contractive",
            AeConfig::Vae { .. } => "vae",
            AeConfig::Wae { .. } => "wae",
            AeConfig::Aae { .. } => "aae",
        }
    }

    /// The shared body.
    pub fn arch(&self) -> &ArchSpec {
        match self {
            AeConfig::Shallow { arch }
            | AeConfig::Deep { arch }
            | AeConfig::Sparse { arch, .. }
            | AeConfig::Denoising { arch, .. }
            | AeConfig::Contractive { arch, .. }
            | AeConfig::Vae { arch, .. }
            | AeConfig::Wae { arch, .. }
            | AeConfig::Aae { arch, .. } => arch,
            AeConfig::Conv { .. } => &NO_ARCH,
        }
    }

    /// Whether the variant regularizes the code against copying (and so may be
    /// overcomplete).
    pub(super) fn regularized(&self) -> bool {
        match self {
            AeConfig::Sparse { .. } | AeConfig::Denoising { .. } | AeConfig::Contractive { .. } => {
                true
            }
            AeConfig::Shallow { .. }
            | AeConfig::Deep { .. }
            | AeConfig::Conv { .. }
            | AeConfig::Vae { .. }
            | AeConfig::Wae { .. }
            | AeConfig::Aae { .. } => false,
        }
    }

    /// Whether the code layer is linear whatever `arch.code_activation` says: the codes
    /// of these variants are matched to an unbounded prior.
    pub(super) fn linear_code(&self) -> bool {
        match self {
            AeConfig::Wae { .. } | AeConfig::Aae { .. } => true,
            AeConfig::Shallow { .. }
            | AeConfig::Deep { .. }
            | AeConfig::Sparse { .. }
            | AeConfig::Denoising { .. }
            | AeConfig::Contractive { .. }
            | AeConfig::Conv { .. }
            | AeConfig::Vae { .. } => false,
        }
    }
}
