//! Codes as a compressed file: uniform scalar quantisation of each code unit, against
//! lossless PNG and gzip of the 8-bit image.

use std::io::Write;

use crate::{EvalError, Features, Result};

/// Per-unit uniform quantiser whose range is fitted on the training codes. The ranges are
/// a codebook shared by every image (2 floats a unit), so they are not charged per image.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantizer {
    lo: Vec<f32>,
    hi: Vec<f32>,
    bits: u32,
}

impl Quantizer {
    /// Fits the range of every column of `train`; `bits` in 1..=16.
    pub fn fit(train: &Features<'_>, bits: u32) -> Result<Quantizer> {
        if !(1..=16).contains(&bits) {
            return Err(EvalError::Invalid {
                field: "quantisation bits",
                value: bits.to_string(),
                expected: "1..=16".into(),
            });
        }
        let mut lo = vec![f32::INFINITY; train.dim];
        let mut hi = vec![f32::NEG_INFINITY; train.dim];
        for row in train.values.chunks(train.dim) {
            for (j, &v) in row.iter().enumerate() {
                lo[j] = lo[j].min(v);
                hi[j] = hi[j].max(v);
            }
        }
        Ok(Quantizer { lo, hi, bits })
    }

    /// Bits one image's code takes.
    pub fn bits_per_code(&self) -> usize {
        self.lo.len() * self.bits as usize
    }

    fn levels(&self) -> f32 {
        ((1u32 << self.bits) - 1) as f32
    }

    /// The level of each value (clamped into the fitted range).
    pub fn quantize(&self, codes: &[f32]) -> Vec<u16> {
        let top = self.levels();
        codes
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let j = i % self.lo.len();
                let span = self.hi[j] - self.lo[j];
                if span <= 0.0 {
                    return 0;
                }
                (((v - self.lo[j]) / span).clamp(0.0, 1.0) * top).round() as u16
            })
            .collect()
    }

    /// The values the levels stand for.
    pub fn dequantize(&self, levels: &[u16]) -> Vec<f32> {
        let top = self.levels();
        levels
            .iter()
            .enumerate()
            .map(|(i, &q)| {
                let j = i % self.lo.len();
                self.lo[j] + f32::from(q) / top * (self.hi[j] - self.lo[j])
            })
            .collect()
    }

    /// `dequantize(quantize(codes))`.
    pub fn round_trip(&self, codes: &[f32]) -> Vec<f32> {
        self.dequantize(&self.quantize(codes))
    }
}

/// Pixels in [0, 1] as the 8-bit bytes a lossless format would store.
pub fn to_bytes(pixels: &[f32]) -> Vec<u8> {
    pixels
        .iter()
        .map(|&p| (p.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

fn io(what: &'static str, e: impl std::fmt::Display) -> EvalError {
    EvalError::Backend {
        what,
        message: e.to_string(),
    }
}

/// Size in bytes of one `side × side` 8-bit grayscale image as a PNG file (best compression).
pub fn png_size(bytes: &[u8], side: usize) -> Result<usize> {
    if bytes.len() != side * side {
        return Err(EvalError::Shape {
            what: "PNG image",
            expected: format!("{} bytes ({side} x {side})", side * side),
            found: bytes.len().to_string(),
        });
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut w = enc.write_header().map_err(|e| io("PNG", e))?;
        w.write_image_data(bytes).map_err(|e| io("PNG", e))?;
    }
    Ok(out.len())
}

/// Size in bytes of `bytes` gzipped at the best level (header included).
pub fn gzip_size(bytes: &[u8]) -> Result<usize> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).map_err(|e| io("gzip", e))?;
    Ok(enc.finish().map_err(|e| io("gzip", e))?.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quantisation_error_is_at_most_half_a_step() {
        let train = [0.0f32, -2.0, 1.0, 2.0, 0.5, 0.0];
        let f = Features::new("t", &train, 2).unwrap();
        for bits in [1, 4, 8] {
            let q = Quantizer::fit(&f, bits).unwrap();
            assert_eq!(q.bits_per_code(), 2 * bits as usize);
            let steps = [
                1.0 / ((1 << bits) - 1) as f32,
                4.0 / ((1 << bits) - 1) as f32,
            ];
            let codes = [0.3f32, -1.7, 0.99, 1.5, 7.0, -9.0];
            let back = q.round_trip(&codes);
            for (i, (&a, &b)) in codes.iter().zip(&back).enumerate() {
                let j = i % 2;
                let clamped = a.clamp(q.lo[j], q.hi[j]);
                assert!(
                    (clamped - b).abs() <= steps[j] / 2.0 + 1e-6,
                    "{bits} {a} {b}"
                );
            }
        }
        // The range ends are exact, and 1 bit gives exactly the two ends.
        let q = Quantizer::fit(&f, 1).unwrap();
        assert_eq!(
            q.round_trip(&[0.0, -2.0, 0.6, 1.9]),
            vec![0.0, -2.0, 1.0, 2.0]
        );
        assert!(Quantizer::fit(&f, 0).is_err());
    }

    #[test]
    fn lossless_sizes_are_real_files() {
        let side = 28;
        let blank = vec![0u8; side * side];
        let mut state = 12345u64;
        let noisy: Vec<u8> = (0..side * side)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect();
        let (pb, pn) = (
            png_size(&blank, side).unwrap(),
            png_size(&noisy, side).unwrap(),
        );
        assert!(pb < 120 && pn > 784, "{pb} {pn}");
        let (gb, gn) = (gzip_size(&blank).unwrap(), gzip_size(&noisy).unwrap());
        assert!(gb < 60 && gn > 784, "{gb} {gn}");
        // The gzip size is what decompresses back to the bytes.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&noisy).unwrap();
        let z = enc.finish().unwrap();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&z[..]), &mut back).unwrap();
        assert_eq!(back, noisy);
        assert!(png_size(&blank, 27).is_err());
    }
}
