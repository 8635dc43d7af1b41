//! Convolutional autoencoder: conv + max-pool encoder, transposed-conv decoder, and a
//! dense bottleneck so its code size is comparable with the MLP variants. The encoder and
//! decoder halves are also the VAE's convolutional body.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::ae::recon_loss;
use crate::config::ReconLoss;
use crate::kernel::linear;
use crate::model::{AeOutput, Autoencoder, Codec};

/// Per stage a 3×3 conv (same padding) + ReLU + 2×2 max-pool, halving the side; the last
/// feature map flattened.
#[derive(Module, Debug)]
pub struct ConvEncoder<B: Backend> {
    convs: Vec<Conv2d<B>>,
    pool: MaxPool2d,
    #[module(skip)]
    side: usize,
}

impl<B: Backend> ConvEncoder<B> {
    /// A `side`×`side` single-channel encoder with `channels` per stage (`side` divisible
    /// by 2^stages, which the config checks).
    pub(crate) fn new(side: usize, channels: &[usize], device: &B::Device) -> Self {
        let mut chans = vec![1];
        chans.extend(channels);
        ConvEncoder {
            convs: chans
                .windows(2)
                .map(|w| {
                    Conv2dConfig::new([w[0], w[1]], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(device)
                })
                .collect(),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            side,
        }
    }

    /// Width of the flattened output: channels × (side / 2^stages)².
    pub(crate) fn features(side: usize, channels: &[usize]) -> usize {
        let inner = side >> channels.len();
        channels.last().copied().unwrap_or(1) * inner * inner
    }

    /// `[batch, side²]` -> `[batch, features]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let batch = x.dims()[0];
        // [batch, 1, side, side]
        let mut h: Tensor<B, 4> = x.reshape([batch, 1, self.side, self.side]);
        for c in &self.convs {
            h = self.pool.forward(relu(c.forward(h)));
        }
        h.flatten(1, 3)
    }
}

/// Linear + ReLU from the code to the last feature map, then per stage a 2×2 stride-2
/// transposed conv (ReLU between stages), ending in one channel of logits.
#[derive(Module, Debug)]
pub struct ConvDecoder<B: Backend> {
    from_code: Linear<B>,
    deconvs: Vec<ConvTranspose2d<B>>,
    #[module(skip)]
    side: usize,
    #[module(skip)]
    channels: Vec<usize>,
}

impl<B: Backend> ConvDecoder<B> {
    /// The mirror of [`ConvEncoder::new`] from a `code`-dimensional input.
    pub(crate) fn new(side: usize, channels: &[usize], code: usize, device: &B::Device) -> Self {
        let mut chans = vec![1];
        chans.extend(channels);
        ConvDecoder {
            from_code: LinearConfig::new(code, ConvEncoder::<B>::features(side, channels))
                .init(device),
            deconvs: chans
                .windows(2)
                .rev()
                .map(|w| {
                    ConvTranspose2dConfig::new([w[1], w[0]], [2, 2])
                        .with_stride([2, 2])
                        .init(device)
                })
                .collect(),
            side,
            channels: channels.to_vec(),
        }
    }

    /// `[batch, code]` -> logits `[batch, side²]`.
    pub fn logits(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let batch = z.dims()[0];
        let inner = self.side >> self.channels.len();
        let c = self.channels.last().copied().unwrap_or(1);
        // [batch, c, inner, inner]
        let mut h: Tensor<B, 4> =
            relu(linear(&self.from_code, z)).reshape([batch, c, inner, inner]);
        let last = self.deconvs.len() - 1;
        for (i, d) in self.deconvs.iter().enumerate() {
            h = d.forward(h);
            if i < last {
                h = relu(h);
            }
        }
        // [batch, 1, side, side] -> [batch, side²]
        h.reshape([batch, self.side * self.side])
    }
}

/// The convolutional AE: [`ConvEncoder`], a linear layer to the code, [`ConvDecoder`].
#[derive(Module, Debug)]
pub struct ConvAe<B: Backend> {
    encoder: ConvEncoder<B>,
    to_code: Linear<B>,
    decoder: ConvDecoder<B>,
    #[module(skip)]
    loss: ReconLoss,
}

impl<B: Backend> ConvAe<B> {
    /// Builds the network for a `side`×`side` single-channel image.
    pub(crate) fn new(
        side: usize,
        channels: &[usize],
        code: usize,
        loss: ReconLoss,
        device: &B::Device,
    ) -> Self {
        ConvAe {
            encoder: ConvEncoder::new(side, channels, device),
            to_code: LinearConfig::new(ConvEncoder::<B>::features(side, channels), code)
                .init(device),
            decoder: ConvDecoder::new(side, channels, code, device),
            loss,
        }
    }
}

impl<B: Backend> Codec<B> for ConvAe<B> {
    fn code_size(&self) -> usize {
        self.to_code.weight.dims()[1]
    }

    fn encode(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        linear(&self.to_code, self.encoder.forward(x)) // [batch, code]
    }

    fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        sigmoid(self.decoder.logits(z))
    }
}

impl<B: Backend> Autoencoder<B> for ConvAe<B> {
    fn loss_against(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> AeOutput<B> {
        let code = self.encode(input);
        let logits = self.decoder.logits(code.clone());
        let recon = recon_loss(self.loss, logits.clone(), target);
        let regularizer = Tensor::zeros([1], &code.device());
        AeOutput::from_logits(recon, regularizer, code, logits)
    }
}
