//! Principal component analysis: the linear baseline every autoencoder is compared with.
//!
//! Fitted by an eigendecomposition of the scatter matrix Xcᵀ Xc (d × d, d = 784 for MNIST)
//! rather than an SVD of the n × d data: for n ≫ d that is one large matrix product
//! (which faer runs at near-peak speed) plus a small symmetric eigenproblem.

use burn::prelude::*;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par, Side};
use rayon::prelude::*;

use crate::error::{CoreError, Result};
use crate::model::{Codec, from_slice};

/// A fitted PCA holding every component, sorted by decreasing variance; use
/// [`truncated`](Self::truncated) to keep the top k.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    dim: usize,
    /// Per-pixel mean of the training data, `[dim]`.
    mean: Vec<f32>,
    /// Principal directions as rows, `[k, dim]` row-major, orthonormal.
    components: Vec<f32>,
    /// Variance along each component (eigenvalue / (n − 1)), `[k]`, decreasing.
    variances: Vec<f64>,
}

impl Pca {
    /// Fits PCA on `data`, `[n, dim]` row-major, keeping all `dim` components.
    pub fn fit(data: &[f32], dim: usize) -> Result<Pca> {
        if dim == 0 || !data.len().is_multiple_of(dim) || data.len() / dim < 2 {
            return Err(CoreError::Shape {
                what: "PCA training data",
                expected: format!("[n >= 2, {dim}] row-major"),
                found: format!("{} values", data.len()),
            });
        }
        let n = data.len() / dim;
        let mut mean = vec![0f64; dim];
        for row in data.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += f64::from(x);
            }
        }
        let mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
        // Centred explicitly (not XᵀX − n μμᵀ afterwards): in f32 the subtraction would
        // cancel most digits of the small tail of the spectrum.
        let mut centered = vec![0f32; data.len()];
        centered
            .par_chunks_mut(dim * 256)
            .zip(data.par_chunks(dim * 256))
            .for_each(|(out, rows)| {
                for (o, r) in out.chunks_exact_mut(dim).zip(rows.chunks_exact(dim)) {
                    for ((o, &x), &m) in o.iter_mut().zip(r).zip(&mean) {
                        *o = x - m;
                    }
                }
            });
        let xc = MatRef::from_row_major_slice(&centered, n, dim);
        // Only the lower triangle of the symmetric XcᵀXc (half the work, as BLAS syrk); the
        // eigensolver reads only that half.
        let mut scatter = Mat::<f32>::zeros(dim, dim);
        triangular::matmul(
            scatter.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Replace,
            xc.transpose(),
            BlockStructure::Rectangular,
            xc,
            BlockStructure::Rectangular,
            1.0f32,
            Par::rayon(0),
        );
        // The eigenproblem is tiny (d × d); solve it in f64 so near-equal eigenvalues of
        // the tail still give orthonormal vectors.
        let scatter = Mat::<f64>::from_fn(dim, dim, |i, j| {
            f64::from(if i >= j { scatter[(i, j)] } else { 0.0 })
        });
        let evd = scatter
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| CoreError::Linalg {
                routine: "symmetric eigendecomposition",
                message: format!("{e:?}"),
            })?;
        let (u, s) = (evd.U(), evd.S().column_vector());
        // faer returns ascending eigenvalues; components are wanted largest first.
        let order: Vec<usize> = (0..dim).rev().collect();
        let mut components = Vec::with_capacity(dim * dim);
        for &j in &order {
            components.extend((0..dim).map(|i| u[(i, j)] as f32));
        }
        let variances = order
            .iter()
            .map(|&j| s[j].max(0.0) / (n - 1) as f64)
            .collect();
        Ok(Pca {
            dim,
            mean,
            components,
            variances,
        })
    }

    /// This PCA with only its top `k` components; `k` must be in `1..=components()`.
    pub fn truncated(&self, k: usize) -> Result<Pca> {
        if k == 0 || k > self.components() {
            return Err(CoreError::InvalidConfig {
                field: "code_size",
                value: k.to_string(),
                expected: format!(
                    "PCA can keep between 1 and {} components (the input dimension)",
                    self.components()
                ),
            });
        }
        Ok(Pca {
            dim: self.dim,
            mean: self.mean.clone(),
            components: self.components[..k * self.dim].to_vec(),
            variances: self.variances[..k].to_vec(),
        })
    }

    /// Number of components kept.
    pub fn components(&self) -> usize {
        self.variances.len()
    }

    /// Input dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Variance along each kept component, decreasing.
    pub fn variances(&self) -> &[f64] {
        &self.variances
    }

    /// The kept components as rows, `[k, dim]` row-major.
    pub fn component_rows(&self) -> &[f32] {
        &self.components
    }

    /// The training mean, `[dim]`.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// Uploads the model to `device` so it answers [`Codec`] calls there.
    pub fn to_device<B: Backend>(&self, device: &B::Device) -> PcaCodec<B> {
        let k = self.components();
        PcaCodec {
            mean: from_slice::<B>(&self.mean, 1, self.dim, device),
            components: from_slice::<B>(&self.components, k, self.dim, device),
        }
    }
}

/// A fitted PCA on a burn device: encode z = (x − μ) Wᵀ, decode x̂ = z W + μ.
#[derive(Debug, Clone)]
pub struct PcaCodec<B: Backend> {
    mean: Tensor<B, 2>,       // [1, dim]
    components: Tensor<B, 2>, // [k, dim]
}

impl<B: Backend> Codec<B> for PcaCodec<B> {
    fn code_size(&self) -> usize {
        self.components.dims()[0]
    }

    fn encode(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        // [batch, dim] x [dim, k] -> [batch, k]
        (x - self.mean.clone()).matmul(self.components.clone().transpose())
    }

    fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        // [batch, k] x [k, dim] -> [batch, dim]
        z.matmul(self.components.clone()) + self.mean.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{evaluate, to_vec};
    use burn::backend::Flex;
    use rand::{Rng, SeedableRng};

    type B = Flex;

    /// Points on a noisy line in 3-D: the first component must be the line's direction.
    fn line(n: usize) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let dir = [2.0f32 / 3.0, 2.0 / 3.0, 1.0 / 3.0];
        (0..n)
            .flat_map(|_| {
                let t: f32 = rng.random_range(-3.0..3.0);
                let noise: [f32; 3] = [rng.random_range(-0.01..0.01); 3];
                (0..3).map(move |i| 1.0 + t * dir[i] + noise[i])
            })
            .collect()
    }

    #[test]
    fn finds_the_direction_of_a_line() {
        let data = line(500);
        let pca = Pca::fit(&data, 3).unwrap();
        let c = &pca.component_rows()[..3];
        let cos = (c[0] * 2.0 / 3.0 + c[1] * 2.0 / 3.0 + c[2] / 3.0).abs();
        assert!(cos > 0.9999, "{cos}");
        assert!(pca.variances()[0] > 2.0 && pca.variances()[1] < 1e-3);
        // Uniform on [-3, 3] has variance 3.
        assert!(
            (pca.variances()[0] - 3.0).abs() < 0.4,
            "{:?}",
            pca.variances()
        );
    }

    #[test]
    fn components_are_orthonormal() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let data: Vec<f32> = (0..200 * 6).map(|_| rng.random::<f32>()).collect();
        let pca = Pca::fit(&data, 6).unwrap();
        let w = pca.component_rows();
        for a in 0..6 {
            for b in 0..6 {
                let dot: f32 = (0..6).map(|i| w[a * 6 + i] * w[b * 6 + i]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-4, "{a} {b} {dot}");
            }
        }
    }

    #[test]
    fn training_sse_equals_the_sum_of_discarded_variances() {
        // Closed form: the mean squared residual on the training data is
        // Σ_{j > k} λ_j (n − 1) / n, an independent check of encode/decode.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let (n, d) = (400, 8);
        let data: Vec<f32> = (0..n * d)
            .map(|i| rng.random::<f32>() * (1.0 + (i % d) as f32))
            .collect();
        let full = Pca::fit(&data, d).unwrap();
        let k = 3;
        let pca = full.truncated(k).unwrap();
        let device = Default::default();
        let m = evaluate::<B, _>(&pca.to_device::<B>(&device), &data, d, 64, &device).unwrap();
        let want: f64 = full.variances()[k..].iter().sum::<f64>() * (n - 1) as f64 / n as f64;
        assert!(
            (m.sse_per_image() - want).abs() / want < 1e-4,
            "{} vs {want}",
            m.sse_per_image()
        );
        // Keeping every component reconstructs exactly.
        let m = evaluate::<B, _>(&full.to_device::<B>(&device), &data, d, 64, &device).unwrap();
        assert!(m.sse_per_image() < 1e-8, "{}", m.sse_per_image());
    }

    #[test]
    fn code_has_the_requested_size() {
        let data = line(50);
        let pca = Pca::fit(&data, 3).unwrap().truncated(2).unwrap();
        let device = Default::default();
        let codec = pca.to_device::<B>(&device);
        let z = codec.encode(from_slice::<B>(&data[..30], 10, 3, &device));
        assert_eq!(z.dims(), [10, 2]);
        assert_eq!(to_vec(codec.decode(z)).unwrap().len(), 30);
    }

    #[test]
    fn bad_sizes_are_refused() {
        let pca = Pca::fit(&line(10), 3).unwrap();
        let e = pca.truncated(4).unwrap_err();
        assert!(e.to_string().contains("code_size = 4"), "{e}");
        assert!(pca.truncated(0).is_err());
        assert!(Pca::fit(&[1.0, 2.0, 3.0], 2).is_err());
        assert!(
            Pca::fit(&[1.0, 2.0], 2).is_err(),
            "one sample has no variance"
        );
    }

    /// The headline check: Hinton & Salakhutdinov (2006), Fig. 2/table: 30-component PCA
    /// on MNIST, fitted on the 60k training images, gives 13.87 squared error per test image.
    #[test]
    fn reproduces_hinton_salakhutdinov_pca_30() {
        let ds = ae_data::DatasetKind::Mnist.load(None).unwrap();
        let pca = Pca::fit(&ds.train.images, ds.train.dim())
            .unwrap()
            .truncated(30)
            .unwrap();
        let device = Default::default();
        let m = evaluate::<B, _>(
            &pca.to_device::<B>(&device),
            &ds.test.images,
            784,
            1000,
            &device,
        )
        .unwrap();
        assert!(
            (m.sse_per_image() - 13.87).abs() < 0.01,
            "{}",
            m.sse_per_image()
        );
    }
}
