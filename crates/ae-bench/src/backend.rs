//! Backend selection: one enum, compiled-in backends only, and generic dispatch so the
//! rest of the harness is written once for any `B: Backend`.

use anyhow::{Result, bail};
use burn::prelude::Backend;
use serde::{Deserialize, Serialize};

/// The burn backends the harness knows. `cuda` and `tch` exist only when ae-bench is
/// built with the cargo feature of the same name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn-flex: pure-Rust SIMD CPU backend (the default; see README for the measurement).
    Flex,
    /// burn-ndarray: CPU backend on the ndarray crate.
    Ndarray,
    /// burn-cuda: NVIDIA GPUs (feature `cuda`).
    Cuda,
    /// burn-tch: libtorch (feature `tch`).
    Tch,
}

impl BackendKind {
    /// The embedded default: the fastest CPU backend that builds offline (README has the
    /// flex vs ndarray figures this choice rests on).
    pub const DEFAULT: BackendKind = BackendKind::Flex;

    /// Name as written in configs and result rows.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
            BackendKind::Cuda => "cuda",
            BackendKind::Tch => "tch",
        }
    }
}

/// Work that runs on whichever backend is selected.
pub trait BackendJob {
    /// What the job returns.
    type Output;
    /// Runs the job on backend `B`, device `device`.
    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output>;
}

/// Runs `job` on `kind`, or explains why that backend is not available here.
pub fn dispatch<J: BackendJob>(kind: BackendKind, job: J) -> Result<J::Output> {
    match kind {
        BackendKind::Flex => job.run::<burn::backend::Flex>(Default::default()),
        BackendKind::Ndarray => job.run::<burn::backend::NdArray>(Default::default()),
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => {
            let device = cuda::probe()?;
            job.run::<burn::backend::Cuda>(device)
        }
        #[cfg(feature = "tch")]
        BackendKind::Tch => job.run::<burn::backend::LibTorch>(Default::default()),
        #[allow(unreachable_patterns)]
        other => bail!(
            "backend `{}` is not compiled into this binary; rebuild with \
             `cargo run --release -p ae-bench --features {}`",
            other.name(),
            other.name()
        ),
    }
}

/// Runs a two-element sum on `kind`, so that an unusable backend (not compiled in, no
/// driver) is reported once, before a sweep starts, instead of as N failed cells.
pub fn probe(kind: BackendKind) -> Result<()> {
    struct Probe;
    impl BackendJob for Probe {
        type Output = ();
        fn run<B: Backend>(self, device: B::Device) -> Result<()> {
            let t = burn::tensor::Tensor::<B, 1>::from_floats([1.0, 2.0], &device);
            let _ = t.sum().into_data();
            Ok(())
        }
    }
    dispatch(kind, Probe)
}

#[cfg(feature = "cuda")]
mod cuda {
    use anyhow::{Result, anyhow};
    use burn::backend::cuda::CudaDevice;
    use burn::prelude::*;

    /// Touches the GPU once so that a missing driver or device becomes an error here,
    /// instead of a panic deep inside the first training step.
    pub fn probe() -> Result<CudaDevice> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let outcome = std::panic::catch_unwind(|| {
            let device = CudaDevice::default();
            let t = Tensor::<burn::backend::Cuda, 1>::from_floats([1.0, 2.0], &device);
            let _ = t.sum().into_scalar();
            device
        });
        std::panic::set_hook(previous);
        outcome.map_err(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown error".into());
            anyhow!(
                "the CUDA backend could not start (no NVIDIA driver or GPU on this machine?): {msg}. \
                 Use --backend flex to run on the CPU."
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sum;
    impl BackendJob for Sum {
        type Output = f32;
        fn run<B: Backend>(self, device: B::Device) -> Result<f32> {
            let t = burn::tensor::Tensor::<B, 1>::from_floats([1.0, 2.5], &device);
            Ok(t.sum().into_scalar().elem())
        }
    }
    use burn::tensor::ElementConversion;

    #[test]
    fn cpu_backends_run_and_missing_ones_explain_themselves() {
        assert_eq!(dispatch(BackendKind::Flex, Sum).unwrap(), 3.5);
        assert_eq!(dispatch(BackendKind::Ndarray, Sum).unwrap(), 3.5);
        if !cfg!(feature = "tch") {
            let e = dispatch(BackendKind::Tch, Sum).unwrap_err().to_string();
            assert!(e.contains("--features tch"), "{e}");
            assert!(probe(BackendKind::Tch).is_err());
        }
        probe(BackendKind::Flex).unwrap();
    }
}
