//! RBM pretraining of a row's stack, saved once finished (`pretrained/<tag>/`) so that an
//! interrupted run resumes after it; checkpointed after every epoch while it runs.

use std::time::Instant;

use ae_core::checkpoint::Checkpointing;
use ae_core::{AnyAe, CheckedAe};
use ae_rbm::StackSpec;
use anyhow::{Context, Result};
use burn::backend::Autodiff;
use burn::prelude::Backend;
use serde::Serialize;

use super::job::{CHECKPOINT_EVERY, Job, bar};
use crate::store;

/// What `pretrained/<name>/meta.json` records beside a saved pretrained net.
#[derive(Serialize, serde::Deserialize)]
struct PretrainMeta {
    seconds: f64,
}

impl Job<'_> {
    /// The RBM stack with `layers` on top of the input, pretrained and unrolled: loaded
    /// from `pretrained/<tag>/` when an earlier (interrupted) run saved it there.
    pub(super) fn pretrained_rbm<B: Backend>(
        &self,
        layers: &[usize],
        tag: &str,
        device: &B::Device,
    ) -> Result<(AnyAe<Autodiff<B>>, CheckedAe, f64)> {
        let dir = self.run_dir.join("pretrained").join(tag);
        let meta_path = dir.join("meta.json");
        if meta_path.is_file() {
            let meta: PretrainMeta = serde_json::from_str(
                &std::fs::read_to_string(&meta_path)
                    .with_context(|| format!("cannot read {}", meta_path.display()))?,
            )
            .with_context(|| format!("corrupt {}", meta_path.display()))?;
            let (model, checked) = ae_core::model_io::load::<Autodiff<B>>(&dir, device)
                .with_context(|| {
                    format!("cannot load the pretrained stack in {}", dir.display())
                })?;
            println!("{tag}: pretrained stack loaded from {}", dir.display());
            return Ok((model, checked, meta.seconds));
        }
        let budget = &self.opts.budget;
        let spec = StackSpec {
            layers: layers.to_vec(),
            ..budget.rbm.clone()
        };
        let dim = self.dim();
        let t = Instant::now();
        let b = bar("RBM pretraining");
        // Checkpointed after every epoch: a killed run resumes mid-stack, not from scratch.
        let ckpt = Checkpointing::new(
            self.run_dir
                .join("checkpoints")
                .join(format!("pretrain-{tag}.msgpack")),
            CHECKPOINT_EVERY,
        );
        let (rbms, log) = ae_rbm::pretrain_resumable::<Autodiff<B>>(
            &spec.check()?,
            &self.train.images,
            &self.test()[..1000.min(self.data.test.len()) * dim],
            dim,
            self.opts.seed,
            device,
            &mut |p| {
                b.set_length((p.batches * spec.epochs * p.layers) as u64);
                b.set_position(
                    ((p.layer * spec.epochs + p.epoch - 1) * p.batches + p.batch) as u64,
                );
                b.set_message(format!(
                    "{tag}: RBM layer {}/{} epoch {}",
                    p.layer + 1,
                    p.layers,
                    p.epoch
                ));
            },
            Some(&ckpt),
        )?;
        b.finish_and_clear();
        // Epochs restored from a checkpoint count with the wall time they took then.
        let restored: f64 = log.iter().map(|e| e.seconds).sum();
        let seconds = t.elapsed().as_secs_f64().max(restored);
        store::write_atomic(&self.run_dir.join(format!("{tag}_pretraining.json")), |f| {
            Ok(serde_json::to_writer_pretty(f, &log)?)
        })?;
        let (unrolled, checked) = ae_rbm::unroll(&rbms)?;
        // Saved before any fine-tuning, so an interrupted run resumes after pretraining;
        // meta.json is written last and marks the folder complete.
        ae_core::model_io::save(unrolled.clone(), &checked, &dir)?;
        store::write_atomic(&meta_path, |f| {
            Ok(serde_json::to_writer_pretty(f, &PretrainMeta { seconds })?)
        })?;
        Ok((unrolled, checked, seconds))
    }
}
