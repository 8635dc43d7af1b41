//! Convolutional autoencoder: conv + max-pool encoder, transposed-conv decoder, and a
//! dense bottleneck so its code size is comparable with the MLP variants.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::ae::recon_loss;
use crate::config::ReconLoss;
use crate::model::{AeOutput, Autoencoder, Codec};

/// Encoder: per stage a 3×3 conv (same padding) + ReLU + 2×2 max-pool, halving the side;
/// then a linear layer to the code. Decoder: linear + ReLU back to the last feature map,
/// then per stage a 2×2 stride-2 transposed conv (ReLU between stages), ending in logits.
#[derive(Module, Debug)]
pub struct ConvAe<B: Backend> {
    convs: Vec<Conv2d<B>>,
    pool: MaxPool2d,
    to_code: Linear<B>,
    from_code: Linear<B>,
    deconvs: Vec<ConvTranspose2d<B>>,
    #[module(skip)]
    side: usize,
    #[module(skip)]
    channels: Vec<usize>,
    #[module(skip)]
    loss: ReconLoss,
}

impl<B: Backend> ConvAe<B> {
    /// Builds the network for a `side`×`side` single-channel image (`side` divisible by
    /// 2^stages; checked by the config) and the given channels per stage.
    pub(crate) fn new(
        side: usize,
        channels: &[usize],
        code: usize,
        loss: ReconLoss,
        device: &B::Device,
    ) -> Self {
        let mut chans = vec![1];
        chans.extend(channels);
        let convs = chans
            .windows(2)
            .map(|w| {
                Conv2dConfig::new([w[0], w[1]], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        let deconvs = chans
            .windows(2)
            .rev()
            .map(|w| {
                ConvTranspose2dConfig::new([w[1], w[0]], [2, 2])
                    .with_stride([2, 2])
                    .init(device)
            })
            .collect();
        let inner = side >> channels.len();
        let flat = channels.last().copied().unwrap_or(1) * inner * inner;
        ConvAe {
            convs,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            to_code: LinearConfig::new(flat, code).init(device),
            from_code: LinearConfig::new(code, flat).init(device),
            deconvs,
            side,
            channels: channels.to_vec(),
            loss,
        }
    }

    fn logits(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let batch = z.dims()[0];
        let inner = self.side >> self.channels.len();
        let c = self.channels.last().copied().unwrap_or(1);
        // [batch, code] -> [batch, c, inner, inner]
        let mut h: Tensor<B, 4> = relu(self.from_code.forward(z)).reshape([batch, c, inner, inner]);
        let last = self.deconvs.len() - 1;
        for (i, d) in self.deconvs.iter().enumerate() {
            h = d.forward(h);
            if i < last {
                h = relu(h);
            }
        }
        // [batch, 1, side, side] -> [batch, side * side]
        h.reshape([batch, self.side * self.side])
    }
}

impl<B: Backend> Codec<B> for ConvAe<B> {
    fn code_size(&self) -> usize {
        self.to_code.weight.dims()[1]
    }

    fn encode(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let batch = x.dims()[0];
        // [batch, dim] -> [batch, 1, side, side]
        let mut h: Tensor<B, 4> = x.reshape([batch, 1, self.side, self.side]);
        for c in &self.convs {
            h = self.pool.forward(relu(c.forward(h)));
        }
        let flat: Tensor<B, 2> = h.flatten(1, 3); // [batch, c * inner²]
        self.to_code.forward(flat) // [batch, code]
    }

    fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        sigmoid(self.logits(z))
    }
}

impl<B: Backend> Autoencoder<B> for ConvAe<B> {
    fn loss_against(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> AeOutput<B> {
        let code = self.encode(input);
        let logits = self.logits(code.clone());
        let recon = recon_loss(self.loss, logits.clone(), target);
        let regularizer = Tensor::zeros([1], &code.device());
        AeOutput::from_logits(recon, regularizer, code, logits)
    }
}
