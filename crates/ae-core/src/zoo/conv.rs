//! Convolutional autoencoder: conv + max-pool encoder, transposed-conv decoder, and a
//! dense bottleneck so its code size is comparable with the MLP variants. The encoder and
//! decoder halves are also the VAE's convolutional body.
//!
//! The layers keep feature maps channels-last and are written as matrix products:
//! a 3×3 convolution multiplies the nine shifted copies of its input (im2col) by a
//! `[9·in, out]` weight, a 2×2 stride-2 transposed convolution multiplies each pixel by an
//! `[in, 4·out]` weight and interleaves the result, and the 2×2 max-pool is two `max_pair`s
//! of reshaped halves. On the CPU backends this is ~5× faster per training step than
//! burn's `Conv2d`/`MaxPool2d`/`ConvTranspose2d` (whose backward passes spend most of their
//! time in strided copies and index bookkeeping; profile in the README), and the products
//! go through [`crate::kernel::matmul`]. Tests check each layer against burn's own ops.

use burn::module::{Initializer, Param};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

use crate::config::ReconLoss;
use crate::kernel::{affine, depth_to_space2, im2col3x3, linear, max_pool2, relu};
use crate::loss::{recon_loss, recon_output};
use crate::model::{AeOutput, Autoencoder, Codec};

/// burn's default for convolutions: Kaiming-uniform with gain 1/√3, i.e. U(±1/√fan_in),
/// for weights and biases alike.
fn conv_init() -> Initializer {
    Initializer::KaimingUniform {
        gain: 1.0 / 3f64.sqrt(),
        fan_out_only: false,
    }
}

/// A 3×3, stride-1, zero-padded ("same") convolution on channels-last maps.
#[derive(Module, Debug)]
pub struct Conv3x3<B: Backend> {
    /// `[9·in, out]`, rows ordered (dy, dx, input channel).
    weight: Param<Tensor<B, 2>>,
    /// `[out]`.
    bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> Conv3x3<B> {
    /// A layer from `channels_in` to `channels_out`, initialised as burn's `Conv2d`.
    pub fn new(channels_in: usize, channels_out: usize, device: &B::Device) -> Self {
        let (fan_in, fan_out) = (9 * channels_in, 9 * channels_out);
        let init = conv_init();
        Conv3x3 {
            weight: init.init_with([fan_in, channels_out], Some(fan_in), Some(fan_out), device),
            bias: init.init_with([channels_out], Some(fan_in), Some(fan_out), device),
        }
    }

    /// `[batch, h, w, in]` -> `[batch, h, w, out]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [batch, h, w, _] = x.dims();
        let out = self.bias.dims()[0];
        // [batch·h·w, 9·in] x [9·in, out]
        let y = affine(im2col3x3(x), self.weight.val(), self.bias.val());
        y.reshape([batch, h, w, out])
    }
}

/// A 2×2 transposed convolution with stride 2 (each pixel becomes a 2×2 block), channels
/// last.
#[derive(Module, Debug)]
pub struct Deconv2x2<B: Backend> {
    /// `[in, 4·out]`, columns ordered (dy, dx, output channel).
    weight: Param<Tensor<B, 2>>,
    /// `[out]`.
    bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> Deconv2x2<B> {
    /// A layer from `channels_in` to `channels_out`, initialised as burn's
    /// `ConvTranspose2d` (whose fan-in is out channels × kernel area).
    pub fn new(channels_in: usize, channels_out: usize, device: &B::Device) -> Self {
        let fan_in = 4 * channels_out;
        let init = conv_init();
        Deconv2x2 {
            weight: init.init_with([channels_in, 4 * channels_out], Some(fan_in), None, device),
            bias: init.init_with([channels_out], Some(fan_in), None, device),
        }
    }

    /// `[batch, h, w, in]` -> `[batch, 2h, 2w, out]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [batch, h, w, c] = x.dims();
        let out = self.bias.dims()[0];
        // The bias once per (dy, dx): [4·out], as the weight's columns are ordered.
        let bias = self
            .bias
            .val()
            .unsqueeze_dim::<2>(0)
            .repeat_dim(0, 4)
            .reshape([4 * out]);
        // [batch·h·w, in] x [in, 4·out]
        let y = affine(x.reshape([batch * h * w, c]), self.weight.val(), bias);
        depth_to_space2(y.reshape([batch, h, w, 4 * out]))
    }
}

/// Per stage a 3×3 conv (same padding) + ReLU + 2×2 max-pool, halving the side; the last
/// feature map flattened.
#[derive(Module, Debug)]
pub struct ConvEncoder<B: Backend> {
    convs: Vec<Conv3x3<B>>,
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
                .map(|w| Conv3x3::new(w[0], w[1], device))
                .collect(),
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
        // [batch, side, side, 1]
        let mut h: Tensor<B, 4> = x.reshape([batch, self.side, self.side, 1]);
        for c in &self.convs {
            h = max_pool2(relu(c.forward(h)));
        }
        h.flatten(1, 3)
    }
}

/// Linear + ReLU from the code to the last feature map, then per stage a 2×2 stride-2
/// transposed conv (ReLU between stages), ending in one channel of logits.
#[derive(Module, Debug)]
pub struct ConvDecoder<B: Backend> {
    from_code: Linear<B>,
    deconvs: Vec<Deconv2x2<B>>,
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
                .map(|w| Deconv2x2::new(w[1], w[0], device))
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
        // [batch, inner, inner, c]
        let mut h: Tensor<B, 4> =
            relu(linear(&self.from_code, z)).reshape([batch, inner, inner, c]);
        let last = self.deconvs.len() - 1;
        for (i, d) in self.deconvs.iter().enumerate() {
            h = d.forward(h);
            if i < last {
                h = relu(h);
            }
        }
        // [batch, side, side, 1] -> [batch, side²]
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
        recon_output(self.loss, self.decoder.logits(z))
    }
}

impl<B: Backend> Autoencoder<B> for ConvAe<B> {
    fn loss_against(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> AeOutput<B> {
        let code = self.encode(input);
        let logits = self.decoder.logits(code.clone());
        let recon = recon_loss(self.loss, logits.clone(), target);
        AeOutput::from_logits(self.loss, recon, Vec::new(), code, logits)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use burn::backend::flex::FlexDevice;
    use burn::backend::{Flex, NdArray};
    use burn::tensor::Distribution;
    use burn::tensor::module::{conv_transpose2d, conv2d, max_pool2d};
    use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

    fn close<const D: usize>(a: Tensor<NdArray, D>, b: Tensor<NdArray, D>) {
        assert_eq!(a.dims(), b.dims());
        let (a, b) = (
            a.into_data().to_vec::<f32>().unwrap(),
            b.into_data().to_vec::<f32>().unwrap(),
        );
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    /// Runs `f` on flex (the hand-written kernels) and returns the result on ndarray.
    fn on_flex<const I: usize, const O: usize>(
        x: Tensor<NdArray, I>,
        f: impl Fn(Tensor<Flex, I>) -> Tensor<Flex, O>,
    ) -> Tensor<NdArray, O> {
        let y = f(Tensor::from_data(x.to_data(), &FlexDevice));
        Tensor::from_data(y.into_data(), &Default::default())
    }

    // NHWC <-> NCHW
    fn nchw(x: Tensor<NdArray, 4>) -> Tensor<NdArray, 4> {
        x.permute([0, 3, 1, 2])
    }

    /// The im2col convolution equals burn's conv2d (padding 1) with the weight re-laid out,
    /// on both the burn-ops path (ndarray) and the flex kernels.
    #[test]
    fn conv3x3_matches_burn_conv2d() {
        let dev = Default::default();
        let conv = Conv3x3::<NdArray>::new(3, 5, &dev);
        let x = Tensor::<NdArray, 4>::random([2, 6, 4, 3], Distribution::Default, &dev);
        // [9·in, out] rows (dy, dx, in) -> [out, in, 3, 3]
        let w = conv
            .weight
            .val()
            .reshape([3, 3, 3, 5])
            .permute([3, 2, 0, 1]);
        let reference = conv2d(
            nchw(x.clone()),
            w,
            Some(conv.bias.val()),
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        );
        close(nchw(conv.forward(x.clone())), reference.clone());
        let record = conv.clone().into_record();
        let flex = on_flex(x, |x| {
            Conv3x3::<Flex>::new(3, 5, &FlexDevice)
                .load_record(Conv3x3Record {
                    weight: Param::from_data(record.weight.val().into_data(), &FlexDevice),
                    bias: Param::from_data(record.bias.val().into_data(), &FlexDevice),
                })
                .forward(x)
        });
        close(nchw(flex), reference);
    }

    /// The interleaved product equals burn's conv_transpose2d (kernel 2, stride 2).
    #[test]
    fn deconv2x2_matches_burn_conv_transpose2d() {
        let dev = Default::default();
        let deconv = Deconv2x2::<NdArray>::new(4, 3, &dev);
        let x = Tensor::<NdArray, 4>::random([2, 3, 5, 4], Distribution::Default, &dev);
        // [in, 4·out] columns (dy, dx, out) -> [in, out, 2, 2]
        let w = deconv
            .weight
            .val()
            .reshape([4, 2, 2, 3])
            .permute([0, 3, 1, 2]);
        let reference = conv_transpose2d(
            nchw(x.clone()),
            w,
            Some(deconv.bias.val()),
            ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1),
        );
        close(nchw(deconv.forward(x.clone())), reference.clone());
        let (w, b) = (
            deconv.weight.val().into_data(),
            deconv.bias.val().into_data(),
        );
        let flex = on_flex(x, |x| {
            Deconv2x2::<Flex>::new(4, 3, &FlexDevice)
                .load_record(Deconv2x2Record {
                    weight: Param::from_data(w.clone(), &FlexDevice),
                    bias: Param::from_data(b.clone(), &FlexDevice),
                })
                .forward(x)
        });
        close(nchw(flex), reference);
    }

    /// Both max-pool paths equal burn's max_pool2d.
    #[test]
    fn max_pool_matches_burn() {
        let dev = Default::default();
        let x = Tensor::<NdArray, 4>::random([3, 6, 8, 5], Distribution::Default, &dev);
        let reference = max_pool2d(nchw(x.clone()), [2, 2], [2, 2], [0, 0], [1, 1], false);
        close(nchw(max_pool2(x.clone())), reference.clone());
        close(nchw(on_flex(x, max_pool2)), reference);
    }
}
