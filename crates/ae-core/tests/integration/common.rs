//! Fixtures shared by the integration tests.

use ae_data::Split;

/// Unlabelled 4x4 images (every label 0) from row-major pixels, 16 per image.
pub fn split_4x4(images: Vec<f32>) -> Split {
    let n = images.len() / 16;
    Split {
        images,
        labels: vec![0; n],
        height: 4,
        width: 4,
    }
}
