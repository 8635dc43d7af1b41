//! Greedy layer-wise pretraining with shallow autoencoders instead of RBMs (Bengio et al.
//! 2007; with corrupted inputs, the stacked denoising AEs of Vincent et al. 2010), assembled
//! into the same deep autoencoder an RBM stack unrolls into, so the two pretraining schemes
//! can be compared under one fine-tuning.

use ae_core::mlp::Activation;
use ae_core::model::{from_slice, to_vec};
use ae_core::train::Progress;
use ae_core::zoo::mlp_ae::MlpDecoder;
use ae_core::{AeConfig, AnyAe, ArchSpec, CheckedAe, CheckedTrain, Codec, History, ReconLoss, fit};
use ae_data::{Corruption, Split};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::error::{RbmError, Result};
use crate::stack::unrolled_config;

/// Weights and bias of one dense layer: `[in, out]` and `[out]`.
pub type Layer<B> = (Tensor<B, 2>, Tensor<B, 1>);

fn dense<B: Backend>(m: &ae_core::mlp::Mlp<B>) -> Option<Layer<B>> {
    let l = m.layers().first()?;
    Some((l.weight.val(), l.bias.as_ref()?.val()))
}

/// Trains one shallow (denoising, if `corruption` is given) AE per layer on the previous
/// layer's codes — logistic codes, a linear top code, cross-entropy loss — and assembles
/// the encoders and decoders into one deep autoencoder. `progress` gets the layer index.
pub fn pretrain_autoencoders<A: AutodiffBackend>(
    layers: &[usize],
    train: &Split,
    spec: &CheckedTrain,
    corruption: Option<Corruption>,
    seed: u64,
    device: &A::Device,
    progress: &mut dyn FnMut(usize, Progress),
) -> Result<(AnyAe<A::InnerBackend>, CheckedAe, Vec<History>)> {
    let mut data = train.clone();
    let (mut encoder, mut decoder, mut histories) = (Vec::new(), Vec::new(), Vec::new());
    for (i, &hidden) in layers.iter().enumerate() {
        let arch = ArchSpec {
            code_activation: if i + 1 == layers.len() {
                Activation::Linear
            } else {
                Activation::Sigmoid
            },
            loss: ReconLoss::Bce,
            ..ArchSpec::default()
        };
        // A layer wider than its input (784 -> 1000) needs a regularizer to learn more
        // than the identity: corruption, or a tiny L2 activity penalty when there is none.
        let config = match corruption {
            Some(corruption) => AeConfig::Denoising { arch, corruption },
            None => AeConfig::Sparse {
                arch,
                sparsity: ae_core::Sparsity::L2 { lambda: 1e-4 },
            },
        };
        let checked = config.check(data.dim(), hidden)?;
        let (model, history) = fit::<A>(
            &checked,
            spec,
            seed.wrapping_add(i as u64),
            &data,
            device,
            &mut |p| progress(i, p),
        )?;
        histories.push(history);
        let AnyAe::Mlp(ae) = &model else {
            return Err(RbmError::Data(
                "a shallow AE trained as a non-MLP model".into(),
            ));
        };
        let MlpDecoder::Free(dec) = ae.decoder() else {
            return Err(RbmError::Data(
                "a stacked layer came back with tied weights".into(),
            ));
        };
        let (Some(e), Some(d)) = (dense(ae.encoder()), dense(dec)) else {
            return Err(RbmError::Data("a stacked layer without a bias".into()));
        };
        encoder.push(e);
        decoder.push(d);
        // The next layer learns from this layer's codes of the clean inputs.
        let mut codes = Vec::with_capacity(data.len() * hidden);
        for chunk in data.images.chunks(1000 * data.dim()) {
            let x = from_slice(chunk, chunk.len() / data.dim(), data.dim(), device);
            codes.extend(to_vec(model.encode(x))?);
        }
        data = Split {
            images: codes,
            labels: data.labels.clone(),
            height: 1,
            width: hidden,
        };
    }
    decoder.reverse();
    let checked: CheckedAe = unrolled_config(train.dim(), layers, true)?;
    let model = checked.init_from_layers(encoder, decoder)?;
    Ok((model, checked, histories))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};

    type B = Flex;

    fn blobs() -> Split {
        let images: Vec<f32> = (0..48)
            .flat_map(|i| (0..16).map(move |p| ((p * (i % 3 + 1)) % 5) as f32 / 4.0))
            .collect();
        Split {
            images,
            labels: vec![0; 48],
            height: 4,
            width: 4,
        }
    }

    #[test]
    fn stacked_pretraining_trains_every_layer_and_assembles_the_deep_ae() {
        let d = Default::default();
        let data = blobs();
        let spec = ae_core::TrainSpec {
            epochs: 3,
            batch_size: 16,
            lr: 1e-2,
            ..ae_core::TrainSpec::default()
        }
        .check()
        .unwrap();
        let (model, checked, hist) = pretrain_autoencoders::<Autodiff<B>>(
            &[20, 6, 3],
            &data,
            &spec,
            Some(Corruption::Masking { p: 0.2 }),
            1,
            &d,
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(hist.len(), 3);
        assert_eq!(checked.encoder_sizes(), &[16, 20, 6, 3]);
        let x = from_slice::<B>(&data.images[..4 * 16], 4, 16, &d);
        let code = to_vec(model.encode(x.clone())).unwrap();
        assert_eq!(code.len(), 4 * 3);
        let recon = to_vec(model.reconstruct(x)).unwrap();
        assert!(recon.iter().all(|v| (0.0..=1.0).contains(v)));
        // Training each layer lowered its own loss.
        for h in &hist {
            assert!(h.epochs[2].train_recon < h.epochs[0].train_recon, "{h:?}");
        }
    }
}
