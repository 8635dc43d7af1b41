//! Autoencoder configurations: one closed enum selected by `kind` in experiment TOML,
//! validated at the boundary into a [`CheckedAe`] that can only describe a legal model.

use ae_data::Corruption;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::mlp::Activation;

/// Reconstruction loss (and so the decoder's output nonlinearity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReconLoss {
    /// Squared error summed over pixels, on x̂ = σ(logits) so that x̂ ∈ (0, 1).
    Mse,
    /// Binary cross-entropy from logits (stable form); output σ(logits).
    Bce,
    /// Squared error on a linear output (a Gaussian decoder with σ² = ½): for real values,
    /// standardised per feature. Output = logits.
    Gaussian,
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
static NO_ARCH: std::sync::LazyLock<ArchSpec> = std::sync::LazyLock::new(ArchSpec::default);

/// A validated autoencoder description: input and code sizes fixed, every
/// hyperparameter in range. Only [`AeConfig::check`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedAe {
    pub(crate) config: AeConfig,
    /// Encoder sizes from input to code, e.g. `[784, 1000, 500, 250, 30]`.
    pub(crate) encoder: Vec<usize>,
    /// Decoder sizes from code to output.
    pub(crate) decoder: Vec<usize>,
    /// One activation per encoder layer (the last is the code's).
    pub(crate) encoder_acts: Vec<Activation>,
    /// One activation per decoder layer (the last is linear: the decoder emits logits).
    pub(crate) decoder_acts: Vec<Activation>,
}

/// Side of a square image of `input` pixels that `channels` conv stages can halve.
fn conv_side(input: usize, channels: &[usize]) -> Result<usize> {
    let side = (input as f64).sqrt().round() as usize;
    if side * side != input {
        return Err(invalid(
            "input",
            input,
            "convolutional models need square images (side² pixels)",
        ));
    }
    if channels.is_empty() || channels.contains(&0) {
        return Err(invalid(
            "channels",
            format!("{channels:?}"),
            "one or more stages, each >= 1 channel",
        ));
    }
    if !side.is_multiple_of(1 << channels.len()) {
        return Err(invalid(
            "channels",
            format!("{channels:?}"),
            format!(
                "each stage halves the side; {side} is not divisible by 2^{}",
                channels.len()
            ),
        ));
    }
    Ok(side)
}

/// The largest model accepted: 2^28 weights, 1 GiB as f32.
pub const MAX_WEIGHTS: u128 = 1 << 28;

/// Weights of the dense encoder and decoder an [`ArchSpec`] describes between `input`
/// and `code` (u128: no product of `usize` sizes can overflow it).
fn dense_weights(input: usize, code: usize, arch: &ArchSpec) -> u128 {
    let chain =
        |sizes: Vec<usize>| -> u128 { sizes.windows(2).map(|w| w[0] as u128 * w[1] as u128).sum() };
    let mut enc = vec![input];
    enc.extend(&arch.hidden);
    enc.push(code);
    let mut dec = vec![code];
    match &arch.decoder_hidden {
        Some(h) => dec.extend(h),
        None => dec.extend(arch.hidden.iter().rev()),
    }
    dec.push(input);
    chain(enc) + chain(dec)
}

pub(crate) fn invalid(
    field: &'static str,
    value: impl ToString,
    expected: impl Into<String>,
) -> CoreError {
    CoreError::InvalidConfig {
        field,
        value: value.to_string(),
        expected: expected.into(),
    }
}

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
    fn regularized(&self) -> bool {
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
    fn linear_code(&self) -> bool {
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

    /// Validates the config for `input` pixels and a `code`-dimensional code.
    pub fn check(&self, input: usize, code: usize) -> Result<CheckedAe> {
        let arch = self.arch();
        if input == 0 {
            return Err(invalid(
                "input",
                input,
                "the input must have at least one pixel",
            ));
        }
        if code == 0 {
            return Err(invalid(
                "code_size",
                code,
                "the code needs at least one unit",
            ));
        }
        if let Some(&h) = arch
            .hidden
            .iter()
            .chain(arch.decoder_hidden.iter().flatten())
            .find(|&&h| h == 0)
        {
            return Err(invalid(
                "arch.hidden",
                h,
                "hidden layers need at least one unit",
            ));
        }
        // Sizes are checked before anything is allocated: a layer of 10^9 units must be an
        // error naming the number, not an abort of the process ("memory allocation
        // failed") minutes into a sweep.
        let weights = dense_weights(input, code, arch);
        if weights > MAX_WEIGHTS {
            return Err(invalid(
                "arch.hidden",
                format!(
                    "{:?} (with {input} inputs and a code of {code}: {weights} weights)",
                    arch.hidden
                ),
                format!(
                    "at most {MAX_WEIGHTS} weights (1 GiB as f32; training holds about four \
                     copies: weights, gradients, two Adam moments)"
                ),
            ));
        }
        if code >= input && !self.regularized() {
            return Err(invalid(
                "code_size",
                code,
                format!(
                    "a `{}` autoencoder with a code of {code} >= the input's {input} dimensions can \
                     learn the identity; use a smaller code, or an overcomplete variant with a \
                     regularizer (kind = \"sparse\", \"denoising\" or \"contractive\")",
                    self.name()
                ),
            ));
        }
        match self {
            AeConfig::Shallow { arch } if !arch.hidden.is_empty() => {
                return Err(invalid(
                    "arch.hidden",
                    format!("{:?}", arch.hidden),
                    "a shallow AE has no hidden layer; use kind = \"deep\" for hidden layers",
                ));
            }
            AeConfig::Deep { arch } if arch.hidden.is_empty() => {
                return Err(invalid(
                    "arch.hidden",
                    "[]",
                    "a deep AE needs at least one hidden layer, e.g. [1000, 500, 250]",
                ));
            }
            AeConfig::Sparse { arch, sparsity } => match *sparsity {
                Sparsity::L1 { lambda } | Sparsity::L2 { lambda }
                    if !(lambda >= 0.0 && lambda.is_finite()) =>
                {
                    return Err(invalid("sparsity.lambda", lambda, "a finite value >= 0"));
                }
                Sparsity::Kl { rho, .. } if !(rho > 0.0 && rho < 1.0) => {
                    return Err(invalid("sparsity.rho", rho, "0 < rho < 1"));
                }
                Sparsity::Kl { beta, .. } if !(beta >= 0.0 && beta.is_finite()) => {
                    return Err(invalid("sparsity.beta", beta, "a finite value >= 0"));
                }
                Sparsity::Kl { .. } if arch.code_activation != Activation::Sigmoid => {
                    return Err(invalid(
                        "arch.code_activation",
                        format!("{:?}", arch.code_activation).to_lowercase(),
                        "KL sparsity compares mean activations with rho, so the code must be sigmoid",
                    ));
                }
                Sparsity::KSparse { k } if k == 0 || k > code => {
                    return Err(invalid(
                        "sparsity.k",
                        k,
                        format!("1 <= k <= code_size ({code})"),
                    ));
                }
                _ => {}
            },
            AeConfig::Denoising { corruption, .. } => {
                corruption
                    .validate()
                    .map_err(|e| invalid("corruption", format!("{corruption:?}"), e.to_string()))?;
            }
            AeConfig::Contractive { lambda, .. } if !(*lambda >= 0.0 && lambda.is_finite()) => {
                return Err(invalid("lambda", lambda, "a finite value >= 0"));
            }
            AeConfig::Conv { channels, .. }
            | AeConfig::Vae {
                channels: Some(channels),
                ..
            } => {
                conv_side(input, channels)?;
            }
            AeConfig::Wae { lambda, .. } if !(*lambda >= 0.0 && lambda.is_finite()) => {
                return Err(invalid("lambda", lambda, "a finite value >= 0"));
            }
            AeConfig::Aae { discriminator, .. }
                if discriminator.is_empty() || discriminator.contains(&0) =>
            {
                return Err(invalid(
                    "discriminator",
                    format!("{discriminator:?}"),
                    "one or more hidden layers, each >= 1 unit, e.g. [500, 500]",
                ));
            }
            AeConfig::Aae {
                prior: Prior::Mixture { components },
                ..
            } if *components < 2 || code < 2 => {
                return Err(invalid(
                    "prior.components",
                    components,
                    format!(
                        ">= 2 components, and a code of >= 2 units for the circle they sit on \
                         (code_size = {code})"
                    ),
                ));
            }
            _ => {}
        }
        match self {
            AeConfig::Vae { beta, .. } if !(*beta >= 0.0 && beta.is_finite()) => {
                return Err(invalid("beta", beta, "a finite value >= 0"));
            }
            AeConfig::Vae { .. } | AeConfig::Conv { .. } if arch.tied => {
                return Err(invalid(
                    "arch.tied",
                    true,
                    format!(
                        "tied weights are for MLP autoencoders, not `{}`",
                        self.name()
                    ),
                ));
            }
            _ => {}
        }
        let (mut encoder_acts, decoder_acts) = activations(arch)?;
        if self.linear_code()
            && let Some(code_act) = encoder_acts.last_mut()
        {
            *code_act = Activation::Linear;
        }
        let mut encoder = vec![input];
        encoder.extend(&arch.hidden);
        encoder.push(code);
        let mut decoder = vec![code];
        match &arch.decoder_hidden {
            Some(h) => decoder.extend(h),
            None => decoder.extend(arch.hidden.iter().rev()),
        }
        decoder.push(input);
        Ok(CheckedAe {
            config: self.clone(),
            encoder,
            decoder,
            encoder_acts,
            decoder_acts,
        })
    }
}

/// Per-layer activations of the encoder (ending with the code's) and the decoder (ending
/// with linear logits), after checking that the lists fit the layers and that tied weights
/// have a mirrored decoder to tie to.
fn activations(arch: &ArchSpec) -> Result<(Vec<Activation>, Vec<Activation>)> {
    let depth = arch.hidden.len();
    let mirrored = match &arch.decoder_hidden {
        None => true,
        Some(d) => d.iter().eq(arch.hidden.iter().rev()),
    };
    if arch.tied && !mirrored {
        return Err(invalid(
            "arch.decoder_hidden",
            format!("{:?}", arch.decoder_hidden),
            format!(
                "tied weights need the decoder to mirror the encoder ({:?} reversed); drop \
                 decoder_hidden or set tied = false",
                arch.hidden
            ),
        ));
    }
    let mut enc = match &arch.activations {
        Some(a) if a.len() != depth => {
            return Err(invalid(
                "arch.activations",
                format!("{} entries", a.len()),
                format!(
                    "one activation per encoder hidden layer: {depth} for hidden = {:?} (the \
                     code layer's is code_activation)",
                    arch.hidden
                ),
            ));
        }
        Some(a) => a.clone(),
        None => vec![arch.activation; depth],
    };
    let dec_depth = arch.decoder_hidden.as_ref().map_or(depth, Vec::len);
    let mut dec = match &arch.decoder_activations {
        Some(a) if a.len() != dec_depth => {
            return Err(invalid(
                "arch.decoder_activations",
                format!("{} entries", a.len()),
                format!("one activation per decoder hidden layer: {dec_depth}"),
            ));
        }
        Some(a) => a.clone(),
        None if mirrored => enc.iter().rev().copied().collect(),
        None => vec![arch.activation; dec_depth],
    };
    enc.push(arch.code_activation);
    dec.push(Activation::Linear);
    Ok((enc, dec))
}

impl CheckedAe {
    /// The config this was checked from.
    pub fn config(&self) -> &AeConfig {
        &self.config
    }

    /// Encoder layer sizes, input to code.
    pub fn encoder_sizes(&self) -> &[usize] {
        &self.encoder
    }

    /// Activation of each encoder layer (the last is the code's).
    pub fn encoder_activations(&self) -> &[Activation] {
        &self.encoder_acts
    }

    /// Code size.
    pub fn code(&self) -> usize {
        self.encoder[self.encoder.len() - 1]
    }

    /// Side of the (square) input image; meaningful for convolutional models, which the
    /// check made sure have one.
    pub(crate) fn side(&self) -> usize {
        (self.encoder[0] as f64).sqrt().round() as usize
    }

    /// The corruption applied to training inputs, if any.
    pub fn corruption(&self) -> Option<Corruption> {
        match self.config {
            AeConfig::Denoising { corruption, .. } => Some(corruption),
            AeConfig::Shallow { .. }
            | AeConfig::Deep { .. }
            | AeConfig::Sparse { .. }
            | AeConfig::Contractive { .. }
            | AeConfig::Conv { .. }
            | AeConfig::Vae { .. }
            | AeConfig::Wae { .. }
            | AeConfig::Aae { .. } => None,
        }
    }
}
