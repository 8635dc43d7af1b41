//! The IDX file format of LeCun's MNIST distribution, gzipped or raw.
//!
//! Layout: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions,
//! then one big-endian u32 per dimension, then the data in row-major order. Image files
//! have magic 2051 (`0x00000803`: u8, 3 dims), label files 2049 (`0x00000801`: u8, 1 dim).

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};

/// Magic number of an IDX image file (u8 data, three dimensions: count, rows, columns).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of an IDX label file (u8 data, one dimension: count).
pub const LABELS_MAGIC: u32 = 2049;

/// A decoded IDX image file.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image, from the header.
    pub height: usize,
    /// Columns per image, from the header.
    pub width: usize,
    /// Raw pixel bytes, `[count, height * width]` row-major.
    pub pixels: Vec<u8>,
}

/// Reads a whole file, transparently gunzipping it when it starts with the gzip magic
/// (detected from the bytes, not the file name, so a renamed file still loads).
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    gunzip_if_gzip(path, raw)
}

/// `raw` gunzipped when it starts with the gzip magic, else as it is (`path` names the
/// file in errors).
pub fn gunzip_if_gzip(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        // Multi-member: a valid gzip file may hold several members (zcat joins them);
        // GzDecoder would stop after the first and the checksum would then fail.
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses the header, checks the magic and that the dimensions match the data length;
/// returns the dimensions and the data bytes.
fn parse<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    what: &'static str,
) -> Result<(Vec<u32>, &'a [u8])> {
    let ndims = (magic & 0xff) as usize;
    let header = 4 + 4 * ndims;
    if bytes.len() < 4 {
        return Err(DataError::TruncatedHeader {
            path: path.to_path_buf(),
            expected: header,
            found: bytes.len(),
        });
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected: magic,
            found,
            what,
        });
    }
    if bytes.len() < header {
        return Err(DataError::TruncatedHeader {
            path: path.to_path_buf(),
            expected: header,
            found: bytes.len(),
        });
    }
    let dims: Vec<u32> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    // Checked: three u32 dimensions can overflow u64 (a corrupt header), which must be a
    // size mismatch, not a panic or a wrapped product that happens to match.
    let expected = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))
        .unwrap_or(u64::MAX);
    let data = &bytes[header..];
    if expected != data.len() as u64 {
        return Err(DataError::SizeMismatch {
            path: path.to_path_buf(),
            dims,
            expected,
            found: data.len() as u64,
        });
    }
    Ok((dims, data))
}

/// Decodes IDX image bytes read from `path` (the path is only used in errors).
pub fn decode_images(path: &Path, bytes: &[u8]) -> Result<IdxImages> {
    let (dims, data) = parse(path, bytes, IMAGES_MAGIC, "IDX images")?;
    Ok(IdxImages {
        count: dims[0] as usize,
        height: dims[1] as usize,
        width: dims[2] as usize,
        pixels: data.to_vec(),
    })
}

/// Decodes IDX label bytes read from `path` (the path is only used in errors).
pub fn decode_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let (_, data) = parse(path, bytes, LABELS_MAGIC, "IDX labels")?;
    Ok(data.to_vec())
}

/// Checks `bytes` against a published SHA-256.
pub fn verify(path: &Path, bytes: &[u8], expected: &str) -> Result<()> {
    let found = sha256_hex(bytes);
    if found == expected {
        Ok(())
    } else {
        Err(DataError::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            found,
        })
    }
}

/// Finds `stem` or `stem.gz` in `dir`, preferring the gzipped file as distributed.
pub fn find_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    [format!("{stem}.gz"), stem.to_string()]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// Encodes images as IDX bytes (used to write fixtures and by tests).
pub fn encode_images(images: &IdxImages) -> Vec<u8> {
    let mut out = IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [images.count, images.height, images.width] {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(&images.pixels);
    out
}

/// Encodes labels as IDX bytes (used to write fixtures and by tests).
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = LABELS_MAGIC.to_be_bytes().to_vec();
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("fixture-idx3-ubyte")
    }

    fn fixture() -> IdxImages {
        IdxImages {
            count: 2,
            height: 3,
            width: 2,
            pixels: (0..12).collect(),
        }
    }

    /// A gzip file of two members (what `cat a.gz b.gz` or a split writer makes) is valid:
    /// `zcat` yields both parts, and so must the loader, or the checksum fails wrongly.
    #[test]
    fn multi_member_gzip_is_decoded_whole() {
        use std::io::Write;
        let bytes = encode_images(&fixture());
        let (a, b) = bytes.split_at(7);
        let mut joined = Vec::new();
        for part in [a, b] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            joined.extend(e.finish().unwrap());
        }
        let out = gunzip_if_gzip(p(), joined).unwrap();
        assert_eq!(out, bytes);
        assert_eq!(decode_images(p(), &out).unwrap(), fixture());
    }

    #[test]
    fn round_trips_non_square_images() {
        let img = fixture();
        let back = decode_images(p(), &encode_images(&img)).unwrap();
        assert_eq!(back, img);
        assert_eq!((back.height, back.width), (3, 2));
    }

    /// 2³¹ · 2³¹ · 4 = 2⁶⁴ wraps to 0 in u64: a header claiming that many pixels with no
    /// pixel bytes used to decode as 2³¹ empty images.
    #[test]
    fn overflowing_dimensions_are_a_size_mismatch() {
        let mut bytes = IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in [1u32 << 31, 1 << 31, 4] {
            bytes.extend(d.to_be_bytes());
        }
        let err = decode_images(p(), &bytes).unwrap_err();
        assert!(matches!(err, DataError::SizeMismatch { .. }), "{err}");
    }

    #[test]
    fn labels_round_trip() {
        let bytes = encode_labels(&[3, 1, 4]);
        assert_eq!(decode_labels(p(), &bytes).unwrap(), vec![3, 1, 4]);
    }

    #[test]
    fn wrong_magic_is_named() {
        let bytes = encode_labels(&[1, 2]);
        let err = decode_images(p(), &bytes).unwrap_err();
        match &err {
            DataError::BadMagic {
                expected, found, ..
            } => assert_eq!((*expected, *found), (2051, 2049)),
            other => panic!("expected BadMagic, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("fixture-idx3-ubyte") && msg.contains("2051"),
            "{msg}"
        );
    }

    #[test]
    fn truncated_header_is_reported() {
        let bytes = encode_images(&fixture());
        for cut in [0, 3, 9] {
            match decode_images(p(), &bytes[..cut]) {
                Err(DataError::TruncatedHeader {
                    expected, found, ..
                }) => assert_eq!((expected, found), (16, cut)),
                other => panic!("cut {cut}: expected TruncatedHeader, got {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_body_is_a_size_mismatch() {
        let bytes = encode_images(&fixture());
        match decode_images(p(), &bytes[..bytes.len() - 5]) {
            Err(DataError::SizeMismatch {
                expected, found, ..
            }) => assert_eq!((expected, found), (12, 7)),
            other => panic!("expected SizeMismatch, got {other:?}"),
        }
    }

    #[test]
    fn header_dims_disagreeing_with_length_are_rejected() {
        let mut bytes = encode_images(&fixture());
        bytes[15] = 3; // width 2 -> 3: header now claims 18 bytes
        let err = decode_images(p(), &bytes).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::SizeMismatch {
                    expected: 18,
                    found: 12,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("[2, 3, 3]"), "{err}");
    }

    #[test]
    fn checksum_mismatch_names_both_sums() {
        let err = verify(p(), b"abc", "00").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            "{msg}"
        );
        assert!(msg.contains("expected 00"), "{msg}");
        verify(
            p(),
            b"abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        )
        .unwrap();
    }
}
