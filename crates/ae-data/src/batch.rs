//! Seeded mini-batching.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::dataset::Split;

/// Mini-batches over a split for one epoch, in an order fixed by `(seed, epoch)`.
///
/// The last batch is kept even if short, so every image is seen once per epoch.
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    split: &'a Split,
    order: Vec<usize>,
    batch_size: usize,
    pos: usize,
}

/// One mini-batch: the images row-major `[len, dim]` and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Pixels, `[len, dim]` row-major.
    pub images: Vec<f32>,
    /// Labels, `[len]`.
    pub labels: Vec<u8>,
    /// Indices of these images in the split.
    pub indices: Vec<usize>,
}

impl Batch {
    /// Number of images in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

impl<'a> Batches<'a> {
    /// Shuffled batches for epoch `epoch` of a run seeded with `seed`.
    ///
    /// # Panics
    /// If `batch_size` is 0 (a config error caught where the config is validated).
    pub fn shuffled(split: &'a Split, batch_size: usize, seed: u64, epoch: u64) -> Self {
        assert!(batch_size > 0, "batch_size must be > 0");
        let mut order: Vec<usize> = (0..split.len()).collect();
        // Mix epoch into the seed so epochs differ but each is reproducible on its own.
        let mixed = seed ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(mixed));
        Batches {
            split,
            order,
            batch_size,
            pos: 0,
        }
    }

    /// Batches in the split's own order (for evaluation).
    pub fn sequential(split: &'a Split, batch_size: usize) -> Self {
        assert!(batch_size > 0, "batch_size must be > 0");
        Batches {
            split,
            order: (0..split.len()).collect(),
            batch_size,
            pos: 0,
        }
    }
}

impl Iterator for Batches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.pos >= self.order.len() {
            return None;
        }
        let end = (self.pos + self.batch_size).min(self.order.len());
        let indices = self.order[self.pos..end].to_vec();
        self.pos = end;
        let Split { images, labels, .. } = self.split.select(&indices);
        Some(Batch {
            images,
            labels,
            indices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(n: usize) -> Split {
        Split {
            images: (0..n * 2).map(|i| i as f32).collect(),
            labels: (0..n).map(|i| i as u8).collect(),
            height: 1,
            width: 2,
        }
    }

    #[test]
    fn every_image_once_per_epoch_with_short_last_batch() {
        let s = split(10);
        let batches: Vec<Batch> = Batches::shuffled(&s, 4, 1, 0).collect();
        assert_eq!(
            batches.iter().map(Batch::len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        let mut seen: Vec<usize> = batches.iter().flat_map(|b| b.indices.clone()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        // Images travel with their labels.
        for b in &batches {
            for (k, &i) in b.indices.iter().enumerate() {
                assert_eq!(b.images[2 * k], (2 * i) as f32);
                assert_eq!(b.labels[k], i as u8);
            }
        }
    }

    #[test]
    fn order_depends_on_seed_and_epoch_only() {
        let s = split(50);
        let order = |seed, epoch| -> Vec<usize> {
            Batches::shuffled(&s, 7, seed, epoch)
                .flat_map(|b| b.indices)
                .collect()
        };
        assert_eq!(order(3, 1), order(3, 1));
        assert_ne!(order(3, 1), order(3, 2));
        assert_ne!(order(3, 1), order(4, 1));
        let seq: Vec<usize> = Batches::sequential(&s, 7).flat_map(|b| b.indices).collect();
        assert_eq!(seq, (0..50).collect::<Vec<_>>());
    }
}
