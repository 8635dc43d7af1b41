//! A config validated at the boundary into a [`CheckedAe`] that can only describe a
//! legal model: sizes fixed, every hyperparameter in range, errors naming the field.

use ae_data::Corruption;

use super::schema::{AeConfig, ArchSpec, Prior, Sparsity};
use crate::error::{CoreError, Result};
use crate::mlp::Activation;

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

impl AeConfig {
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
