//! The conv AE's data movement: im2col, 2×2 max-pool, depth-to-space.

use super::*;

/// Images per rayon task of the image kernels.
pub(super) const IMAGES_PER_TASK: usize = 8;

/// The nine shifted copies of a zero-padded `[batch, h, w, c]` map side by side:
/// `[batch·h·w, 9·c]`, columns ordered (dy, dx, channel), the input of a 3×3 "same"
/// convolution as one matrix product.
pub fn im2col3x3<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    apply_unary(Im2col::default(), x, |x| {
        let [batch, h, w, c] = x.dims();
        let padded = Tensor::zeros([batch, h + 2, w + 2, c], &x.device())
            .slice_assign([0..batch, 1..h + 1, 1..w + 1, 0..c], x);
        let taps = (0..9)
            .map(|t| {
                let (dy, dx) = (t / 3, t % 3);
                padded
                    .clone()
                    .slice([0..batch, dy..dy + h, dx..dx + w, 0..c])
            })
            .collect();
        Tensor::cat(taps, 3).reshape([batch * h * w, 9 * c])
    })
}

#[derive(Clone, Debug, Default)]
pub(super) struct Im2col {
    dims: [usize; 4],
}

impl Im2col {
    /// Calls `run(y, t, x_range, yy, dx)` for every output row `y` and tap `t` whose
    /// source row `yy` is inside the map: output pixels `(y, x)` for `x` in `x_range` read
    /// input pixel `(yy, x + dx − 1)`; everything else is zero padding.
    fn for_each_run(
        &self,
        mut run: impl FnMut(usize, usize, std::ops::Range<usize>, usize, usize),
    ) {
        let [_, h, w, _] = self.dims;
        for y in 0..h {
            for t in 0..9 {
                let (dy, dx) = (t / 3, t % 3);
                let Some(yy) = (y + dy).checked_sub(1).filter(|&yy| yy < h) else {
                    continue;
                };
                // x + dx − 1 ∈ [0, w)
                let x_range = (1usize.saturating_sub(dx))..(w + 1 - dx).min(w);
                run(y, t, x_range, yy, dx);
            }
        }
    }
}

impl FlexUnary for Im2col {
    fn forward(&self, x: &[f32], dims: &[usize]) -> (FlexTensor, Self) {
        let op = Im2col {
            dims: [dims[0], dims[1], dims[2], dims[3]],
        };
        let [batch, h, w, c] = op.dims;
        let mut out = vec![0.0f32; batch * h * w * 9 * c];
        out.par_chunks_mut(IMAGES_PER_TASK * h * w * 9 * c)
            .zip(x.par_chunks(IMAGES_PER_TASK * h * w * c))
            .for_each(|(out, x)| {
                for (img_out, img) in out.chunks_mut(h * w * 9 * c).zip(x.chunks(h * w * c)) {
                    op.for_each_run(|y, t, xs, yy, dx| {
                        for xp in xs {
                            let dst = ((y * w + xp) * 9 + t) * c;
                            let src = (yy * w + xp + dx - 1) * c;
                            // A loop, not copy_from_slice: c is 1 in the first layer, where a
                            // memcpy call per pixel would dominate.
                            let from = &img[src..src + c];
                            for (o, &v) in img_out[dst..dst + c].iter_mut().zip(from) {
                                *o = v;
                            }
                        }
                    });
                }
            });
        (flex_tensor(out, vec![batch * h * w, 9 * c]), op)
    }

    fn backward(&self, grad: &[f32]) -> Vec<f32> {
        let [batch, h, w, c] = self.dims;
        let mut out = vec![0.0f32; batch * h * w * c];
        out.par_chunks_mut(IMAGES_PER_TASK * h * w * c)
            .zip(grad.par_chunks(IMAGES_PER_TASK * h * w * 9 * c))
            .for_each(|(out, grad)| {
                for (img, img_grad) in out.chunks_mut(h * w * c).zip(grad.chunks(h * w * 9 * c)) {
                    self.for_each_run(|y, t, xs, yy, dx| {
                        for xp in xs {
                            let src = ((y * w + xp) * 9 + t) * c;
                            let dst = (yy * w + xp + dx - 1) * c;
                            let from = &img_grad[src..src + c];
                            for (o, &g) in img[dst..dst + c].iter_mut().zip(from) {
                                *o += g;
                            }
                        }
                    });
                }
            });
        out
    }
}

/// 2×2 max-pool with stride 2 on `[batch, h, w, c]` (even h, w) -> `[batch, h/2, w/2, c]`;
/// the gradient goes to one maximum of each window.
pub fn max_pool2<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    apply_unary(MaxPool2::default(), x, |x| {
        let [batch, h, w, c] = x.dims();
        let (rows, cols) = (batch * h / 2, w / 2);
        // [batch·h/2, row in pair, w/2, (column in pair, c)]
        let x = x.reshape([rows, 2, cols, 2 * c]);
        let top = x.clone().slice([0..rows, 0..1, 0..cols, 0..2 * c]);
        let bottom = x.slice([0..rows, 1..2, 0..cols, 0..2 * c]);
        // On ties the gradient goes to one maximum (burn's max_pair keeps `self`).
        let pair = top.max_pair(bottom);
        let left = pair.clone().slice([0..rows, 0..1, 0..cols, 0..c]);
        let right = pair.slice([0..rows, 0..1, 0..cols, c..2 * c]);
        left.max_pair(right).reshape([batch, h / 2, w / 2, c])
    })
}

#[derive(Clone, Debug, Default)]
pub(super) struct MaxPool2 {
    dims: [usize; 4],
    /// Which corner of its window (0–3, row-major) each output's maximum came from.
    argmax: std::sync::Arc<Vec<u8>>,
}

impl MaxPool2 {
    /// Input offsets (within an image) of the four corners of window (i, j), channel 0.
    fn corners(&self, i: usize, j: usize) -> [usize; 4] {
        let [_, _, w, c] = self.dims;
        [(0, 0), (0, 1), (1, 0), (1, 1)].map(|(dy, dx)| ((2 * i + dy) * w + 2 * j + dx) * c)
    }
}

impl FlexUnary for MaxPool2 {
    fn forward(&self, x: &[f32], dims: &[usize]) -> (FlexTensor, Self) {
        let [batch, h, w, c] = [dims[0], dims[1], dims[2], dims[3]];
        let mut op = MaxPool2 {
            dims: [batch, h, w, c],
            argmax: Default::default(),
        };
        let (ho, wo) = (h / 2, w / 2);
        let per_img = ho * wo * c;
        let mut out = vec![0.0f32; batch * per_img];
        let mut arg = vec![0u8; batch * per_img];
        out.par_chunks_mut(per_img)
            .zip(arg.par_chunks_mut(per_img))
            .zip(x.par_chunks(h * w * c))
            .for_each(|((out, arg), img)| {
                for i in 0..ho {
                    for j in 0..wo {
                        let o = (i * wo + j) * c;
                        let [a, b, cc, d] = op.corners(i, j).map(|k| &img[k..k + c]);
                        let (out, arg) = (&mut out[o..o + c], &mut arg[o..o + c]);
                        // Strict `>`: on ties the gradient goes to the first corner.
                        for ch in 0..c {
                            let (mut best, mut which) = (a[ch], 0u8);
                            if b[ch] > best {
                                (best, which) = (b[ch], 1);
                            }
                            if cc[ch] > best {
                                (best, which) = (cc[ch], 2);
                            }
                            if d[ch] > best {
                                (best, which) = (d[ch], 3);
                            }
                            out[ch] = best;
                            arg[ch] = which;
                        }
                    }
                }
            });
        op.argmax = std::sync::Arc::new(arg);
        (flex_tensor(out, vec![batch, ho, wo, c]), op)
    }

    fn backward(&self, grad: &[f32]) -> Vec<f32> {
        let [_, h, w, c] = self.dims;
        let (ho, wo) = (h / 2, w / 2);
        let per_img = ho * wo * c;
        let mut out = vec![0.0f32; self.dims.iter().product()];
        out.par_chunks_mut(h * w * c)
            .zip(grad.par_chunks(per_img))
            .zip(self.argmax.par_chunks(per_img))
            .for_each(|((img, grad), arg)| {
                for i in 0..ho {
                    for j in 0..wo {
                        let o = (i * wo + j) * c;
                        let corners = self.corners(i, j);
                        for ch in 0..c {
                            img[corners[arg[o + ch] as usize] + ch] = grad[o + ch];
                        }
                    }
                }
            });
        out
    }
}

/// `[batch, h, w, 4·c]` with channels ordered (dy, dx, channel) -> `[batch, 2h, 2w, c]`:
/// each pixel becomes a 2×2 block, the output of a stride-2 2×2 transposed convolution.
pub fn depth_to_space2<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    apply_unary(DepthToSpace2::default(), x, |x| {
        let [batch, h, w, c4] = x.dims();
        let c = c4 / 4;
        x.reshape([batch, h, w, 2, 2 * c])
            .swap_dims(2, 3)
            .reshape([batch, 2 * h, 2 * w, c])
    })
}

#[derive(Clone, Debug, Default)]
pub(super) struct DepthToSpace2 {
    dims: [usize; 4],
}

impl DepthToSpace2 {
    /// Calls `copy(src, dst, len)` for every contiguous run: input pixel (n, i, j), half
    /// dy -> output row 2i + dy, columns 2j and 2j + 1.
    fn runs(&self, mut copy: impl FnMut(usize, usize, usize)) {
        let [batch, h, w, c4] = self.dims;
        let c2 = c4 / 2;
        for n in 0..batch {
            for i in 0..h {
                for j in 0..w {
                    for dy in 0..2 {
                        let src = ((n * h + i) * w + j) * c4 + dy * c2;
                        let dst = ((n * 2 * h + 2 * i + dy) * 2 * w + 2 * j) * (c4 / 4);
                        copy(src, dst, c2);
                    }
                }
            }
        }
    }
}

impl FlexUnary for DepthToSpace2 {
    fn forward(&self, x: &[f32], dims: &[usize]) -> (FlexTensor, Self) {
        let op = DepthToSpace2 {
            dims: [dims[0], dims[1], dims[2], dims[3]],
        };
        let mut out = vec![0.0f32; x.len()];
        op.runs(|src, dst, len| out[dst..dst + len].copy_from_slice(&x[src..src + len]));
        let [batch, h, w, c4] = op.dims;
        (flex_tensor(out, vec![batch, 2 * h, 2 * w, c4 / 4]), op)
    }

    fn backward(&self, grad: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; grad.len()];
        self.runs(|src, dst, len| out[src..src + len].copy_from_slice(&grad[dst..dst + len]));
        out
    }
}
