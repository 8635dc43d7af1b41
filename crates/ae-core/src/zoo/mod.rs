//! The model zoo: one file per family, and [`AnyAe`], the one burn module that holds any
//! of them. A new family is a file here (its module, [`Codec`] and [`Autoencoder`]
//! impls), an arm of [`AnyAe`] with its line in [`dispatch!`], and its `kind` in
//! [`crate::config::AeConfig`].
//!
//! Layering (no circles): `config` (the TOML schema and its checks) knows no model;
//! each family's file knows `config`, `loss`, `mlp`, `kernel` and `model`; only this
//! file knows every family.

pub mod aae;
pub mod conv;
pub mod mlp_ae;
pub mod vae;
pub mod wae;

use burn::prelude::*;

use crate::config::{AeConfig, CheckedAe, invalid};
use crate::error::{CoreError, Result};
use crate::mlp::Mlp;
use crate::model::{AeOutput, Autoencoder, Codec};
use aae::Aae;
use conv::ConvAe;
use mlp_ae::{MlpAe, Regularizer};
use vae::Vae;
use wae::Wae;

/// Any autoencoder of the zoo, as one burn module.
// The variants hold a few tensor handles each; boxing would only add an indirection to
// every forward pass for a few hundred bytes of stack.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AnyAe<B: Backend> {
    /// Every MLP variant (they differ only in their regularizer).
    Mlp(MlpAe<B>),
    /// The variational AE.
    Vae(Vae<B>),
    /// The convolutional AE.
    Conv(ConvAe<B>),
    /// The Wasserstein AE (MMD).
    Wae(Wae<B>),
    /// The adversarial AE.
    Aae(Aae<B>),
}

/// Calls the same method on whichever family `$self` holds: the one place that lists
/// them for the [`Codec`] and [`Autoencoder`] impls below.
macro_rules! dispatch {
    ($self:expr, $m:ident => $call:expr) => {
        match $self {
            AnyAe::Mlp($m) => $call,
            AnyAe::Vae($m) => $call,
            AnyAe::Conv($m) => $call,
            AnyAe::Wae($m) => $call,
            AnyAe::Aae($m) => $call,
        }
    };
}

/// `Codec` for a family that wraps another model in field `$inner` and codes with it.
macro_rules! codec_via {
    ($family:ident, $inner:ident) => {
        impl<B: Backend> Codec<B> for $family<B> {
            fn code_size(&self) -> usize {
                self.$inner.code_size()
            }

            fn encode(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
                self.$inner.encode(x)
            }

            fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
                self.$inner.decode(z)
            }
        }
    };
}
pub(crate) use codec_via;

impl CheckedAe {
    /// Builds the module on `device` (initialised from the backend's seeded RNG).
    pub fn init<B: Backend>(&self, device: &B::Device) -> AnyAe<B> {
        match &self.config {
            AeConfig::Vae { beta, .. } => AnyAe::Vae(Vae::new(self, *beta, device)),
            AeConfig::Conv { channels, loss } => AnyAe::Conv(ConvAe::new(
                self.side(),
                channels,
                self.code(),
                *loss,
                device,
            )),
            AeConfig::Wae { lambda, .. } => AnyAe::Wae(Wae::new(self, *lambda, device)),
            AeConfig::Aae { .. } => AnyAe::Aae(Aae::new(self, device)),
            AeConfig::Shallow { .. }
            | AeConfig::Deep { .. }
            | AeConfig::Sparse { .. }
            | AeConfig::Denoising { .. }
            | AeConfig::Contractive { .. } => {
                AnyAe::Mlp(MlpAe::new(self, self.regularizer(), device))
            }
        }
    }

    /// The term an MLP variant adds to its reconstruction loss.
    fn regularizer(&self) -> Regularizer {
        match self.config {
            AeConfig::Sparse { sparsity, .. } => Regularizer::Sparse(sparsity),
            AeConfig::Contractive { lambda, .. } => Regularizer::Contractive(lambda),
            AeConfig::Shallow { .. }
            | AeConfig::Deep { .. }
            | AeConfig::Denoising { .. }
            | AeConfig::Conv { .. }
            | AeConfig::Vae { .. }
            | AeConfig::Wae { .. }
            | AeConfig::Aae { .. } => Regularizer::None,
        }
    }

    /// An untied MLP autoencoder with the given weights, e.g. a stack of pretrained RBMs
    /// unrolled. `encoder` and `decoder` hold one (`[in, out]` weight, `[out]` bias) pair
    /// per layer, input side first; their shapes must be this config's layer sizes.
    pub fn init_from_layers<B: Backend>(
        &self,
        encoder: Vec<(Tensor<B, 2>, Tensor<B, 1>)>,
        decoder: Vec<(Tensor<B, 2>, Tensor<B, 1>)>,
    ) -> Result<AnyAe<B>> {
        let mlp = match self.config {
            AeConfig::Shallow { .. }
            | AeConfig::Deep { .. }
            | AeConfig::Sparse { .. }
            | AeConfig::Denoising { .. }
            | AeConfig::Contractive { .. } => !self.config.arch().tied,
            AeConfig::Conv { .. }
            | AeConfig::Vae { .. }
            | AeConfig::Wae { .. }
            | AeConfig::Aae { .. } => false,
        };
        if !mlp {
            return Err(invalid(
                "kind",
                self.config.name(),
                "an untied MLP autoencoder to load layer weights into",
            ));
        }
        for (what, sizes, layers) in [
            ("encoder", &self.encoder, &encoder),
            ("decoder", &self.decoder, &decoder),
        ] {
            let found: Vec<[usize; 2]> = layers.iter().map(|(w, _)| w.dims()).collect();
            let expected: Vec<[usize; 2]> = sizes.windows(2).map(|w| [w[0], w[1]]).collect();
            let biases_fit = layers.iter().all(|(w, b)| b.dims()[0] == w.dims()[1]);
            if found != expected || !biases_fit {
                return Err(CoreError::Shape {
                    what,
                    expected: format!("weights {expected:?} with one bias per output"),
                    found: format!("weights {found:?}"),
                });
            }
        }
        Ok(AnyAe::Mlp(MlpAe::from_parts(
            self,
            self.regularizer(),
            Mlp::from_weights(encoder, self.encoder_acts.clone()),
            Mlp::from_weights(decoder, self.decoder_acts.clone()),
        )))
    }
}

impl<B: Backend> Codec<B> for AnyAe<B> {
    fn code_size(&self) -> usize {
        dispatch!(self, m => m.code_size())
    }

    fn encode(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        dispatch!(self, m => m.encode(x))
    }

    fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        dispatch!(self, m => m.decode(z))
    }
}

impl<B: Backend> Autoencoder<B> for AnyAe<B> {
    fn loss_against(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> AeOutput<B> {
        dispatch!(self, m => m.loss_against(input, target))
    }

    fn sample_prior(&self, n: usize, device: &B::Device) -> Option<Tensor<B, 2>> {
        dispatch!(self, m => m.sample_prior(n, device))
    }

    fn input_filters(&self) -> Option<Tensor<B, 2>> {
        dispatch!(self, m => m.input_filters())
    }

    fn phases(&self) -> usize {
        dispatch!(self, m => m.phases())
    }

    fn phase_loss(&self, phase: usize, input: Tensor<B, 2>, target: Tensor<B, 2>) -> Tensor<B, 1> {
        dispatch!(self, m => m.phase_loss(phase, input, target))
    }
}
