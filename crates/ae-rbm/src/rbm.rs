//! One RBM layer: Bernoulli or Gaussian (unit-variance) visible units, Bernoulli or linear
//! (unit-variance Gaussian) hidden units, trained by CD-k with momentum and L2 weight decay.

use ae_core::kernel::{affine, matmul, momentum_step, sigmoid};
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::error::{RbmError, Result};

/// Kind of visible unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VisibleUnits {
    /// Binary (or probabilities in [0, 1], e.g. pixel intensities).
    Bernoulli,
    /// Real-valued with unit variance (inputs should be standardised).
    Gaussian,
}

/// Kind of hidden unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HiddenUnits {
    /// Stochastic binary units.
    Bernoulli,
    /// Linear units with unit-variance Gaussian noise (the paper's 30-d code layer).
    Linear,
}

/// Shape and unit types of one RBM.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RbmConfig {
    /// Visible units.
    pub visible: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Visible unit type.
    pub visible_units: VisibleUnits,
    /// Hidden unit type.
    pub hidden_units: HiddenUnits,
}

/// Optimisation settings of one CD update.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Gibbs steps of the negative phase (CD-k); 1 is the classic CD-1.
    pub k: usize,
    /// Learning rate (0.1 for binary layers, 0.001 for the linear top layer in the paper).
    pub lr: f64,
    /// Momentum (the paper: 0.5 for 5 epochs, then 0.9).
    pub momentum: f64,
    /// L2 weight decay on W (the paper: 2e-4).
    pub weight_decay: f64,
}

/// [`TrainParams`] checked once (linfa's `ParamGuard`): what [`Rbm::cd_step`] takes, so
/// the step itself checks nothing. Built by [`TrainParams::check`]; reads as `TrainParams`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckedParams(TrainParams);

impl std::ops::Deref for CheckedParams {
    type Target = TrainParams;
    fn deref(&self) -> &TrainParams {
        &self.0
    }
}

impl TrainParams {
    /// Checks every field's range; errors name the field.
    pub fn check(&self) -> Result<CheckedParams> {
        self.validate()?;
        Ok(CheckedParams(*self))
    }

    fn validate(&self) -> Result<()> {
        let bad = |field, value, expected| Err(RbmError::invalid(field, value, expected));
        if self.k == 0 {
            return bad("k", "0".into(), ">= 1 Gibbs step");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("lr", self.lr.to_string(), "a finite value > 0");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", self.momentum.to_string(), "0 <= momentum < 1");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad(
                "weight_decay",
                self.weight_decay.to_string(),
                "a finite value >= 0",
            );
        }
        Ok(())
    }
}

/// What one CD update measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CdStats {
    /// Squared error between the data and its one-step reconstruction, summed over units,
    /// mean over the batch.
    pub recon_sse: f64,
}

/// An RBM's parameters and its momentum buffers.
#[derive(Debug, Clone)]
pub struct Rbm<B: Backend> {
    /// Unit types and sizes.
    pub config: RbmConfig,
    /// Weights, `[visible, hidden]`.
    pub w: Tensor<B, 2>,
    /// Visible biases, `[1, visible]`.
    pub vb: Tensor<B, 2>,
    /// Hidden biases, `[1, hidden]`.
    pub hb: Tensor<B, 2>,
    dw: Tensor<B, 2>,
    dvb: Tensor<B, 2>,
    dhb: Tensor<B, 2>,
}

/// An RBM frozen for a checkpoint: its config and W, vb, hb, ΔW, Δvb, Δhb, row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RbmState {
    /// Unit types and sizes.
    pub config: RbmConfig,
    /// The six tensors, in the order above.
    pub tensors: Vec<Vec<f32>>,
}

/// A tensor's values on the host.
pub(crate) fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| RbmError::Data(e.to_string()))
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> Result<f64> {
    t.into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .map_err(|e| RbmError::Data(e.to_string()))
        .map(|v| v.first().copied().unwrap_or(f64::NAN))
}

impl<B: Backend> Rbm<B> {
    /// Weights ~ N(0, 0.01²), biases zero (Hinton's practical guide), from the backend's
    /// seeded RNG.
    pub fn new(config: RbmConfig, device: &B::Device) -> Result<Self> {
        if config.visible == 0 || config.hidden == 0 {
            return Err(RbmError::InvalidConfig {
                field: "visible/hidden",
                value: format!("{}x{}", config.visible, config.hidden),
                expected: "at least one unit on each side",
            });
        }
        let (v, h) = (config.visible, config.hidden);
        Ok(Rbm {
            config,
            w: Tensor::random([v, h], Distribution::Normal(0.0, 0.01), device),
            vb: Tensor::zeros([1, v], device),
            hb: Tensor::zeros([1, h], device),
            dw: Tensor::zeros([v, h], device),
            dvb: Tensor::zeros([1, v], device),
            dhb: Tensor::zeros([1, h], device),
        })
    }

    /// Everything training needs to continue: parameters and momentum buffers, on the host.
    pub fn export(&self) -> Result<RbmState> {
        Ok(RbmState {
            config: self.config,
            tensors: [&self.w, &self.vb, &self.hb, &self.dw, &self.dvb, &self.dhb]
                .into_iter()
                .map(|t| host(t.clone()))
                .collect::<Result<_>>()?,
        })
    }

    /// The RBM [`Rbm::export`] saved, on `device`; shapes are checked against the config.
    pub fn import(state: &RbmState, device: &B::Device) -> Result<Self> {
        let (v, h) = (state.config.visible, state.config.hidden);
        let shapes = [[v, h], [1, v], [1, h], [v, h], [1, v], [1, h]];
        if state.tensors.len() != shapes.len()
            || state
                .tensors
                .iter()
                .zip(shapes)
                .any(|(t, [a, b])| t.len() != a * b)
        {
            return Err(RbmError::invalid(
                "checkpoint",
                format!("{} tensors", state.tensors.len()),
                "an RBM's six tensors with the shapes of its config",
            ));
        }
        let t = |i: usize| {
            Tensor::<B, 2>::from_data(TensorData::new(state.tensors[i].clone(), shapes[i]), device)
        };
        Ok(Rbm {
            config: state.config,
            w: t(0),
            vb: t(1),
            hb: t(2),
            dw: t(3),
            dvb: t(4),
            dhb: t(5),
        })
    }

    /// E[h | v]: σ(vW + c) for binary hidden units, vW + c for linear ones. `[batch, hidden]`.
    pub fn hidden_mean(&self, v: Tensor<B, 2>) -> Tensor<B, 2> {
        let a = affine(v, self.w.clone(), self.hb.clone().squeeze_dim(0));
        match self.config.hidden_units {
            HiddenUnits::Bernoulli => sigmoid(a),
            HiddenUnits::Linear => a,
        }
    }

    /// E[v | h]: σ(hWᵀ + b) for binary visible units, hWᵀ + b for Gaussian ones. `[batch, visible]`.
    pub fn visible_mean(&self, h: Tensor<B, 2>) -> Tensor<B, 2> {
        let a = affine(
            h,
            self.w.clone().transpose(),
            self.vb.clone().squeeze_dim(0),
        );
        match self.config.visible_units {
            VisibleUnits::Bernoulli => sigmoid(a),
            VisibleUnits::Gaussian => a,
        }
    }

    /// A sample of h given its mean (Bernoulli draw, or mean + N(0, 1) for linear units).
    pub fn sample_hidden(&self, mean: Tensor<B, 2>) -> Tensor<B, 2> {
        let device = mean.device();
        match self.config.hidden_units {
            HiddenUnits::Bernoulli => {
                let u = Tensor::random(mean.shape(), Distribution::Uniform(0.0, 1.0), &device);
                mean.greater(u).float()
            }
            HiddenUnits::Linear => {
                mean.clone() + Tensor::random(mean.shape(), Distribution::Normal(0.0, 1.0), &device)
            }
        }
    }

    /// Free energy F(v) = −ln Σ_h e^{−E(v, h)} per example for binary hidden units:
    /// −v·b − Σ_j softplus(vW + c)_j, plus ½‖v‖² for Gaussian visible units. `[batch, 1]`.
    /// (Linear hidden units integrate to ½‖vW + c‖² instead of the softplus.)
    pub fn free_energy(&self, v: Tensor<B, 2>) -> Tensor<B, 2> {
        let a = v.clone().matmul(self.w.clone()) + self.hb.clone();
        let hidden_term = match self.config.hidden_units {
            // The overflow-free form: burn's own is +inf above a pre-activation of ~88.
            HiddenUnits::Bernoulli => ae_core::loss::softplus(a).sum_dim(1),
            HiddenUnits::Linear => a.square().sum_dim(1) * 0.5,
        };
        let visible_term = match self.config.visible_units {
            VisibleUnits::Bernoulli => (v * self.vb.clone()).sum_dim(1),
            VisibleUnits::Gaussian => {
                (v.clone() * self.vb.clone()).sum_dim(1) - v.square().sum_dim(1) * 0.5
            }
        };
        (visible_term + hidden_term).neg()
    }

    /// One CD-k update on the batch `v0` (`[batch, visible]`). The negative phase uses
    /// mean-field visible states and sampled hidden states, as in the paper's code.
    pub fn cd_step(&mut self, v0: Tensor<B, 2>, p: &CheckedParams) -> Result<CdStats> {
        let n = v0.dims()[0] as f64;
        let ph0 = self.hidden_mean(v0.clone());
        let mut h = self.sample_hidden(ph0.clone());
        let mut vk = self.visible_mean(h.clone());
        let recon_sse = scalar((vk.clone() - v0.clone()).square().sum_dim(1).mean())?;
        let mut phk = self.hidden_mean(vk.clone());
        for _ in 1..p.k {
            h = self.sample_hidden(phk);
            vk = self.visible_mean(h);
            phk = self.hidden_mean(vk.clone());
        }
        // <v h>_data − <v h>_model, averaged over the batch, as one product:
        // [v0; vk]ᵀ [ph0 / n; −phk / n] (scaling the [2·batch, hidden] factor, not the
        // [visible, hidden] result).
        let gw = matmul(
            Tensor::cat(vec![v0.clone(), vk.clone()], 0).transpose(),
            Tensor::cat(vec![ph0.clone() / n, phk.clone() / -n], 0),
        );
        let gvb = (v0 - vk).mean_dim(0);
        let ghb = (ph0 - phk).mean_dim(0);
        let (lr, mom, decay) = (p.lr as f32, p.momentum as f32, p.weight_decay as f32);
        // Moved out, not cloned, so the step can update them in place.
        let take = |t: &mut Tensor<B, 2>| {
            let device = t.device();
            std::mem::replace(t, Tensor::zeros([1, 1], &device))
        };
        let (w, dw) = (take(&mut self.w), take(&mut self.dw));
        (self.w, self.dw) = momentum_step(w, dw, gw, [lr, mom, decay]);
        let (vb, dvb) = (take(&mut self.vb), take(&mut self.dvb));
        (self.vb, self.dvb) = momentum_step(vb, dvb, gvb, [lr, mom, 0.0]);
        let (hb, dhb) = (take(&mut self.hb), take(&mut self.dhb));
        (self.hb, self.dhb) = momentum_step(hb, dhb, ghb, [lr, mom, 0.0]);
        Ok(CdStats { recon_sse })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    type B = Flex;

    fn vec_of(t: Tensor<B, 2>) -> Vec<f64> {
        t.into_data().convert::<f64>().to_vec::<f64>().unwrap()
    }

    fn tiny(visible: VisibleUnits, hidden: HiddenUnits) -> Rbm<B> {
        let d = Default::default();
        let mut r = Rbm::<B>::new(
            RbmConfig {
                visible: 3,
                hidden: 2,
                visible_units: visible,
                hidden_units: hidden,
            },
            &d,
        )
        .unwrap();
        r.w = Tensor::from_floats([[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8]], &d);
        r.vb = Tensor::from_floats([[0.1, -0.2, 0.3]], &d);
        r.hb = Tensor::from_floats([[-0.4, 0.6]], &d);
        r
    }

    #[test]
    fn free_energy_equals_brute_force_sum_over_hidden_states() {
        let r = tiny(VisibleUnits::Bernoulli, HiddenUnits::Bernoulli);
        let w = vec_of(r.w.clone());
        let (b, c) = ([0.1, -0.2, 0.3], [-0.4, 0.6]);
        let d = Default::default();
        for v in [
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 1.0],
            [1.0, 1.0, 1.0],
            [0.2, 0.7, 0.4],
        ] {
            // F(v) = -ln Σ_h exp(v·b + h·c + vᵀWh) over h ∈ {0,1}².
            let mut z = 0.0;
            for h in [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] {
                let mut e = (0..3).map(|i| v[i] * b[i]).sum::<f64>() + h[0] * c[0] + h[1] * c[1];
                for i in 0..3 {
                    for j in 0..2 {
                        e += v[i] * w[i * 2 + j] * h[j];
                    }
                }
                z += e.exp();
            }
            let vt = Tensor::<B, 2>::from_floats([[v[0] as f32, v[1] as f32, v[2] as f32]], &d);
            let got = vec_of(r.free_energy(vt))[0];
            assert!((got + z.ln()).abs() < 1e-5, "{v:?}: {got} vs {}", -z.ln());
        }
    }

    #[test]
    fn conditionals_match_hand_computation() {
        let r = tiny(VisibleUnits::Bernoulli, HiddenUnits::Linear);
        let d = Default::default();
        let v = Tensor::<B, 2>::from_floats([[1.0, 0.0, 1.0]], &d);
        // Linear hidden mean: v W + c = [0.5 - 0.3 - 0.4, -1.0 + 0.8 + 0.6] = [-0.2, 0.4].
        let h = vec_of(r.hidden_mean(v));
        assert!(
            (h[0] + 0.2).abs() < 1e-6 && (h[1] - 0.4).abs() < 1e-6,
            "{h:?}"
        );
        let hv = Tensor::<B, 2>::from_floats([[1.0, 0.0]], &d);
        let p = vec_of(r.visible_mean(hv));
        let s = |x: f64| 1.0 / (1.0 + (-x).exp());
        for (got, want) in p.iter().zip([s(0.6), s(1.3), s(0.0)]) {
            assert!((got - want).abs() < 1e-6);
        }
    }

    #[test]
    fn cd1_learns_a_repeated_pattern_and_lowers_its_free_energy() {
        let d = burn::backend::flex::FlexDevice;
        B::seed(&d, 3);
        let mut r = Rbm::<B>::new(
            RbmConfig {
                visible: 6,
                hidden: 4,
                visible_units: VisibleUnits::Bernoulli,
                hidden_units: HiddenUnits::Bernoulli,
            },
            &d,
        )
        .unwrap();
        let data = Tensor::<B, 2>::from_floats(
            [
                [1.0, 1.0, 1.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
                [1.0, 1.0, 1.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            ],
            &d,
        );
        let unseen = Tensor::<B, 2>::from_floats([[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]], &d);
        let params = TrainParams {
            k: 1,
            lr: 0.1,
            momentum: 0.5,
            weight_decay: 2e-4,
        }
        .check()
        .unwrap();
        let first = r.cd_step(data.clone(), &params).unwrap().recon_sse;
        let mut last = first;
        for _ in 0..500 {
            last = r.cd_step(data.clone(), &params).unwrap().recon_sse;
        }
        assert!(
            last < 0.25 * first,
            "reconstruction error {first} -> {last}"
        );
        let f_data = vec_of(r.free_energy(data))[0];
        let f_unseen = vec_of(r.free_energy(unseen))[0];
        assert!(
            f_data < f_unseen - 1.0,
            "training data should be more probable: {f_data} vs {f_unseen}"
        );
    }

    #[test]
    fn bad_parameters_are_refused() {
        let p = TrainParams {
            k: 0,
            lr: 0.1,
            momentum: 0.5,
            weight_decay: 0.0,
        };
        assert!(p.check().unwrap_err().to_string().contains("k = 0"));
        let p = TrainParams {
            k: 1,
            momentum: 1.0,
            ..p
        };
        assert!(p.check().unwrap_err().to_string().contains("momentum"));
        let d = Default::default();
        let cfg = RbmConfig {
            visible: 0,
            hidden: 2,
            visible_units: VisibleUnits::Gaussian,
            hidden_units: HiddenUnits::Linear,
        };
        assert!(Rbm::<B>::new(cfg, &d).is_err());
    }
}
