//! The multilayer perceptron every MLP autoencoder is built from (written once).

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation;
use serde::{Deserialize, Serialize};

/// A layer's nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Logistic σ(x) = 1 / (1 + e^{−x}).
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// max(x, 0).
    Relu,
    /// Identity (a linear layer, as the code layer of Hinton & Salakhutdinov 2006).
    Linear,
}

impl Activation {
    /// Applies the nonlinearity elementwise.
    pub fn forward<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Activation::Sigmoid => crate::kernel::sigmoid(x),
            Activation::Tanh => activation::tanh(x),
            Activation::Relu => crate::kernel::relu(x),
            Activation::Linear => x,
        }
    }
}

/// Layer sizes and per-layer activations of an MLP.
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Sizes from input to output, e.g. `[784, 1000, 500, 250, 30]`.
    pub sizes: Vec<usize>,
    /// One activation per layer (`sizes.len() - 1` of them).
    pub activations: Vec<Activation>,
}

impl MlpConfig {
    /// Builds the MLP with burn's default (Kaiming-uniform) initialisation.
    ///
    /// # Panics
    /// If `activations` does not hold one entry per layer (validated configs never do).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Mlp<B> {
        assert_eq!(
            self.activations.len() + 1,
            self.sizes.len(),
            "one activation per layer"
        );
        Mlp {
            layers: self
                .sizes
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect(),
            activations: self.activations.clone(),
        }
    }
}

/// A stack of dense layers, each followed by its activation.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    layers: Vec<Linear<B>>,
    #[module(skip)]
    activations: Vec<Activation>,
}

impl<B: Backend> Mlp<B> {
    /// An MLP from given `[in, out]` weights and `[out]` biases (e.g. pretrained ones),
    /// one activation per layer.
    pub(crate) fn from_weights(
        layers: Vec<(Tensor<B, 2>, Tensor<B, 1>)>,
        activations: Vec<Activation>,
    ) -> Self {
        Mlp {
            layers: layers
                .into_iter()
                .map(|(w, b)| Linear {
                    weight: Param::from_tensor(w),
                    bias: Some(Param::from_tensor(b)),
                })
                .collect(),
            activations,
        }
    }

    /// The dense layers, input side first.
    pub fn layers(&self) -> &[Linear<B>] {
        &self.layers
    }

    /// Width of the output (of the input if the MLP has no layer).
    pub fn output_size(&self) -> usize {
        self.layers.last().map_or(0, |l| l.weight.dims()[1])
    }

    /// [`Mlp::forward`] with the weights as constants: the gradient reaches `x` only
    /// (an adversarial AE's generator step through its discriminator).
    pub fn forward_frozen(&self, mut x: Tensor<B, 2>) -> Tensor<B, 2> {
        for (layer, act) in self.layers.iter().zip(&self.activations) {
            let w = layer.weight.val().detach();
            x = act.forward(match &layer.bias {
                Some(b) => crate::kernel::affine(x, w, b.val().detach()),
                None => crate::kernel::matmul(x, w),
            });
        }
        x
    }

    /// `[batch, sizes[0]]` -> `[batch, sizes[last]]`.
    pub fn forward(&self, mut x: Tensor<B, 2>) -> Tensor<B, 2> {
        for (layer, act) in self.layers.iter().zip(&self.activations) {
            x = act.forward(crate::kernel::linear(layer, x));
        }
        x
    }
}
