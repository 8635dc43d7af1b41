//! An image file and a label file (the first byte says where the input is cut in two),
//! each raw or gzipped, decoded and, when their counts agree, turned into a split.
#![no_main]

use std::path::Path;

use ae_data::Split;
use ae_data::idx::{decode_images, decode_labels, gunzip_if_gzip};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let (a, b) = rest.split_at(usize::from(cut) * rest.len() / 256);
    let p = Path::new("fuzz-input");
    let images = gunzip_if_gzip(p, a.to_vec()).and_then(|x| decode_images(p, &x));
    let labels = gunzip_if_gzip(p, b.to_vec()).and_then(|x| decode_labels(p, &x));
    if let (Ok(images), Ok(labels)) = (images, labels)
        && images.count == labels.len()
    {
        let split = Split::from_idx(&images, labels);
        assert_eq!(split.images.len(), split.len() * split.dim());
    }
});
