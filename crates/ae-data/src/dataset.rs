//! The built-in datasets (MNIST and Fashion-MNIST: where to find them, how to load and
//! verify them), what every dataset is ([`Dataset`]), and splits.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::idx;
use serde::{Deserialize, Serialize};

/// Environment variable naming a data root (a directory holding `mnist/`, `fashion-mnist/`).
pub const DATA_DIR_ENV: &str = "AE_DATA_DIR";
/// Where Debian's `dataset-fashion-mnist` package installs its files (one folder per dataset).
pub const DEBIAN_DATASETS: &str = "/usr/share/datasets";

/// The datasets the toolkit knows, with their published checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasetKind {
    /// LeCun, Cortes & Burges' handwritten digits.
    Mnist,
    /// Zalando's Fashion-MNIST (Xiao, Rasul & Vollgraf 2017).
    FashionMnist,
}

/// The four files of an MNIST-format dataset, in the order of [`DatasetKind::checksums`].
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

impl DatasetKind {
    /// Every known dataset.
    pub const ALL: [DatasetKind; 2] = [DatasetKind::Mnist, DatasetKind::FashionMnist];

    /// The dataset's name in configs, on the command line and as its folder name.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
        }
    }

    /// SHA-256 of the decompressed files, in the order of [`FILES`]; the same values as the
    /// `SHA256SUMS` committed beside `data/mnist/`.
    pub fn checksums(self) -> [&'static str; 4] {
        match self {
            DatasetKind::Mnist => [
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ],
            DatasetKind::FashionMnist => [
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ],
        }
    }

    /// The published checksum of one of [`FILES`].
    pub fn checksum_of(self, file: &str) -> Option<&'static str> {
        FILES
            .iter()
            .position(|f| *f == file)
            .map(|i| self.checksums()[i])
    }

    /// Canonical download mirrors (base URLs; the gzipped file names are appended).
    pub fn mirrors(self) -> &'static [&'static str] {
        match self {
            DatasetKind::Mnist => &[
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
                "http://yann.lecun.com/exdb/mnist/",
            ],
            DatasetKind::FashionMnist => {
                &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
            }
        }
    }

    /// Directories searched for this dataset, in resolution order: the explicit data root
    /// (`--data-dir`), `$AE_DATA_DIR`, a `data/` folder in the working directory or the
    /// nearest of its ancestors that has one (tests run in `crates/<crate>/`), the
    /// workspace this crate was built in, then Debian's `/usr/share/datasets`. Each root is
    /// searched for a `<name>/` folder.
    pub fn search_path(self, explicit_root: Option<&Path>) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = Vec::new();
        roots.extend(explicit_root.map(Path::to_path_buf));
        roots.extend(std::env::var_os(DATA_DIR_ENV).map(PathBuf::from));
        roots.push(PathBuf::from("data"));
        // Found at run time: a build cached from another checkout carries that checkout's
        // path in CARGO_MANIFEST_DIR below.
        if let Ok(cwd) = std::env::current_dir()
            && let Some(up) = cwd.ancestors().skip(1).find(|a| a.join("data").is_dir())
        {
            roots.push(up.join("data"));
        }
        roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data"));
        roots.push(PathBuf::from(DEBIAN_DATASETS));
        let mut dirs: Vec<PathBuf> = Vec::new();
        for r in roots {
            let d = r.join(self.name());
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        dirs
    }

    /// The first directory in [`search_path`](Self::search_path) holding all four files.
    pub fn locate(self, explicit_root: Option<&Path>) -> Result<PathBuf> {
        if let Some(root) = explicit_root {
            if !root.is_dir() {
                return Err(DataError::MissingDir {
                    path: root.to_path_buf(),
                });
            }
            // An explicit root is the only place looked at: a broken or incomplete folder
            // there is an error naming what is wrong, never a silent fallback to another
            // root (whose data the user did not ask for).
            let dir = root.join(self.name());
            if dir.exists() {
                for f in FILES {
                    if idx::find_file(&dir, f).is_none() {
                        let path = dir.join(f);
                        let gz = dir.join(format!("{f}.gz"));
                        let why = if path.exists() || gz.exists() {
                            "is not a regular file (a folder or a broken link?)"
                        } else {
                            "is missing (neither it nor its .gz is there)"
                        };
                        return Err(DataError::Io {
                            path,
                            source: std::io::Error::new(std::io::ErrorKind::NotFound, why),
                        });
                    }
                }
                return Ok(dir);
            }
            return Err(DataError::NotFound {
                dataset: self.name().to_string(),
                searched: vec![dir],
            });
        }
        let searched = self.search_path(explicit_root);
        searched
            .iter()
            .find(|d| FILES.iter().all(|f| idx::find_file(d, f).is_some()))
            .cloned()
            .ok_or_else(|| DataError::NotFound {
                dataset: self.name().to_string(),
                searched,
            })
    }

    /// Locates and loads the dataset, verifying every file's checksum.
    pub fn load(self, explicit_root: Option<&Path>) -> Result<Dataset> {
        let dir = self.locate(explicit_root)?;
        Dataset::load_dir(self, &dir, Verify::Published)
    }
}

impl std::str::FromStr for DatasetKind {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        DatasetKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| DataError::UnknownDataset {
                found: s.to_string(),
                expected: "mnist, fashion-mnist",
            })
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether to check files against the published checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Reject any file whose decompressed SHA-256 differs from the published one.
    Published,
    /// Skip verification (fixtures and user-made subsets).
    Skip,
}

/// One split of a dataset: images as f32 in `[0, 1]`, row-major `[n, height * width]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Pixel intensities `byte / 255`, `[n, dim]` row-major.
    pub images: Vec<f32>,
    /// Class labels, `[n]`.
    pub labels: Vec<u8>,
    /// Image height from the IDX header.
    pub height: usize,
    /// Image width from the IDX header.
    pub width: usize,
}

impl Split {
    /// Builds a split from IDX images and labels (counts must agree; checked by the loader).
    pub fn from_idx(images: &idx::IdxImages, labels: Vec<u8>) -> Self {
        Split {
            images: images
                .pixels
                .iter()
                .map(|&b| f32::from(b) / 255.0)
                .collect(),
            labels,
            height: images.height,
            width: images.width,
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image.
    pub fn dim(&self) -> usize {
        self.height * self.width
    }

    /// The `i`-th image, `[dim]`.
    pub fn image(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.images[i * d..(i + 1) * d]
    }

    /// A new split holding the images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Split {
        let mut images = Vec::with_capacity(indices.len() * self.dim());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Split {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            height: self.height,
            width: self.width,
        }
    }

    /// The first `n` images (or all of them if fewer).
    pub fn head(&self, n: usize) -> Split {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.select(&idx)
    }

    /// Splits off a seeded random validation set of `n_val` images; returns `(train, val)`.
    /// The same seed always takes the same images, whatever the platform.
    pub fn split_validation(&self, n_val: usize, seed: u64) -> Result<(Split, Split)> {
        if n_val >= self.len() {
            return Err(DataError::InvalidParameter {
                name: "validation size",
                value: n_val.to_string(),
                expected: "fewer images than the training split holds",
            });
        }
        let mut idx: Vec<usize> = (0..self.len()).collect();
        idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let (val, train) = idx.split_at(n_val);
        let (mut train, mut val) = (train.to_vec(), val.to_vec());
        // Keep the original order inside each part: cheaper to read and easier to debug.
        train.sort_unstable();
        val.sort_unstable();
        Ok((self.select(&train), self.select(&val)))
    }
}

/// What the values of a dataset are; decides which reconstruction loss fits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueKind {
    /// Intensities in [0, 1] (Bernoulli cross-entropy or squared error on a sigmoid).
    #[default]
    Unit,
    /// Real values, standardised per feature with the training split's mean and standard
    /// deviation (Gaussian loss: squared error on a linear output).
    Real,
    /// Non-negative integer counts (word counts of documents).
    Counts,
}

impl ValueKind {
    /// The name in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Unit => "unit",
            ValueKind::Real => "real",
            ValueKind::Counts => "counts",
        }
    }
}

/// Which dataset: a built-in one, or a user's file named in an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasetId {
    /// MNIST or Fashion-MNIST.
    Builtin(DatasetKind),
    /// A user's dataset, by its checked name (see [`crate::user::is_safe_name`]).
    User(String),
}

impl DatasetId {
    /// The name cells, tables and folders use.
    pub fn name(&self) -> &str {
        match self {
            DatasetId::Builtin(k) => k.name(),
            DatasetId::User(n) => n,
        }
    }
}

impl std::fmt::Display for DatasetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<DatasetKind> for DatasetId {
    fn from(k: DatasetKind) -> Self {
        DatasetId::Builtin(k)
    }
}

/// Fashion-MNIST's class names, label 0 first (Xiao et al. 2017).
pub const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// A dataset with its train and test splits.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Which dataset this is.
    pub id: DatasetId,
    /// The directory it was loaded from.
    pub dir: PathBuf,
    /// The training split (60 000 images for MNIST).
    pub train: Split,
    /// The test split (10 000 images for MNIST).
    pub test: Split,
    /// What the values are (built-in sets: intensities in [0, 1]).
    pub values: ValueKind,
    /// Whether the labels are real (a user's set without labels has all zeros).
    pub labelled: bool,
    /// Class names, label 0 first.
    pub class_names: Vec<String>,
    /// Real-valued sets: the training split's per-feature (mean, standard deviation) that
    /// standardised both splits; values in tables are in these standardised units.
    pub scaling: Option<(Vec<f32>, Vec<f32>)>,
}

impl Dataset {
    /// Values per item.
    pub fn dim(&self) -> usize {
        self.train.dim()
    }
}

impl Dataset {
    /// Loads the four IDX files in `dir`, gzipped or raw.
    pub fn load_dir(kind: DatasetKind, dir: &Path, verify: Verify) -> Result<Dataset> {
        if !dir.is_dir() {
            return Err(DataError::MissingDir {
                path: dir.to_path_buf(),
            });
        }
        let read = |stem: &str| -> Result<(PathBuf, Vec<u8>)> {
            let path = idx::find_file(dir, stem).ok_or_else(|| DataError::Io {
                path: dir.join(format!("{stem}.gz")),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("neither {stem}.gz nor {stem} is in this folder"),
                ),
            })?;
            let bytes = idx::read_maybe_gzip(&path)?;
            if verify == Verify::Published
                && let Some(sum) = kind.checksum_of(stem)
            {
                idx::verify(&path, &bytes, sum)?;
            }
            Ok((path, bytes))
        };
        let split = |img_stem: &str, lbl_stem: &str| -> Result<Split> {
            let (ip, ib) = read(img_stem)?;
            let (lp, lb) = read(lbl_stem)?;
            let images = idx::decode_images(&ip, &ib)?;
            let labels = idx::decode_labels(&lp, &lb)?;
            if images.count != labels.len() {
                return Err(DataError::CountMismatch {
                    images: ip,
                    n_images: images.count,
                    labels: lp,
                    n_labels: labels.len(),
                });
            }
            Ok(Split::from_idx(&images, labels))
        };
        let class_names = match kind {
            DatasetKind::Mnist => (0..10).map(|d| d.to_string()).collect(),
            DatasetKind::FashionMnist => FASHION_CLASSES.iter().map(|s| s.to_string()).collect(),
        };
        Ok(Dataset {
            id: DatasetId::Builtin(kind),
            dir: dir.to_path_buf(),
            train: split(FILES[0], FILES[1])?,
            test: split(FILES[2], FILES[3])?,
            values: ValueKind::Unit,
            labelled: true,
            class_names,
            scaling: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::{IdxImages, encode_images, encode_labels};
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// Writes a tiny 5x4-pixel dataset (3 train, 2 test images); `gzip` picks the encoding.
    fn write_fixture(dir: &Path, gzip: bool) {
        let img = |n: usize| IdxImages {
            count: n,
            height: 5,
            width: 4,
            pixels: (0..n * 20).map(|i| (i * 13 % 256) as u8).collect(),
        };
        let files = [
            (FILES[0], encode_images(&img(3))),
            (FILES[1], encode_labels(&[0, 1, 2])),
            (FILES[2], encode_images(&img(2))),
            (FILES[3], encode_labels(&[7, 9])),
        ];
        for (name, bytes) in files {
            if gzip {
                std::fs::write(dir.join(format!("{name}.gz")), gz(&bytes)).unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }

    #[test]
    fn loads_gzipped_and_raw_fixtures_identically() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_fixture(a.path(), true);
        write_fixture(b.path(), false);
        let da = Dataset::load_dir(DatasetKind::Mnist, a.path(), Verify::Skip).unwrap();
        let db = Dataset::load_dir(DatasetKind::Mnist, b.path(), Verify::Skip).unwrap();
        assert_eq!(da.train, db.train);
        assert_eq!(
            (da.train.height, da.train.width, da.train.dim()),
            (5, 4, 20)
        );
        assert_eq!(da.test.labels, vec![7, 9]);
        assert_eq!(
            da.train.image(1)[0],
            f32::from((20 * 13 % 256) as u8) / 255.0
        );
        assert!(da.train.images.iter().all(|&x| (0.0..=1.0).contains(&x)));
    }

    #[test]
    fn fixture_fails_published_checksums() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), true);
        let err = Dataset::load_dir(DatasetKind::Mnist, d.path(), Verify::Published).unwrap_err();
        assert!(matches!(err, DataError::Checksum { .. }), "{err:?}");
        assert!(
            err.to_string().contains("train-images-idx3-ubyte.gz"),
            "{err}"
        );
    }

    #[test]
    fn image_label_count_mismatch_is_rejected() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), false);
        std::fs::write(d.path().join(FILES[3]), encode_labels(&[1, 2, 3])).unwrap();
        let err = Dataset::load_dir(DatasetKind::Mnist, d.path(), Verify::Skip).unwrap_err();
        match &err {
            DataError::CountMismatch {
                n_images, n_labels, ..
            } => assert_eq!((*n_images, *n_labels), (2, 3)),
            other => panic!("expected CountMismatch, got {other:?}"),
        }
        assert!(err.to_string().contains("t10k-labels-idx1-ubyte"), "{err}");
    }

    #[test]
    fn bad_gzip_is_rejected() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), true);
        let p = d.path().join(format!("{}.gz", FILES[0]));
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&p, bytes).unwrap();
        let err = Dataset::load_dir(DatasetKind::Mnist, d.path(), Verify::Skip).unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
        assert!(err.to_string().contains("not a valid gzip"), "{err}");
    }

    #[test]
    fn missing_directory_and_missing_dataset_are_reported() {
        let d = tempfile::tempdir().unwrap();
        let gone = d.path().join("nope");
        let err = Dataset::load_dir(DatasetKind::Mnist, &gone, Verify::Skip).unwrap_err();
        assert!(matches!(err, DataError::MissingDir { .. }), "{err:?}");
        let err = DatasetKind::FashionMnist.locate(Some(&gone)).unwrap_err();
        assert!(matches!(err, DataError::MissingDir { .. }), "{err:?}");
        // An existing but empty root: not found, and the message lists where it looked.
        let searched = DatasetKind::Mnist.search_path(Some(d.path()));
        assert_eq!(searched[0], d.path().join("mnist"));
        assert!(searched.last().unwrap().ends_with("datasets/mnist"));
    }

    #[test]
    fn an_explicit_root_never_falls_back_to_another() {
        let root = tempfile::tempdir().unwrap();
        // No `mnist/` under the given root: not found there, even though the repository's
        // data/ (a later root) holds MNIST; only the given root is named.
        let err = DatasetKind::Mnist.locate(Some(root.path())).unwrap_err();
        match &err {
            DataError::NotFound { searched, .. } => {
                assert_eq!(searched, &vec![root.path().join("mnist")]);
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
        // A folder that lacks a file: the error names the file.
        let dir = root.path().join("mnist");
        std::fs::create_dir(&dir).unwrap();
        write_fixture(&dir, true);
        std::fs::remove_file(dir.join(format!("{}.gz", FILES[1]))).unwrap();
        let err = DatasetKind::Mnist
            .locate(Some(root.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train-labels-idx1-ubyte") && err.contains("missing"),
            "{err}"
        );
        // A folder in a file's place.
        std::fs::create_dir(dir.join(FILES[1])).unwrap();
        let err = DatasetKind::Mnist
            .locate(Some(root.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train-labels-idx1-ubyte") && err.contains("not a regular file"),
            "{err}"
        );
    }

    #[test]
    fn missing_file_names_the_file() {
        let d = tempfile::tempdir().unwrap();
        write_fixture(d.path(), true);
        std::fs::remove_file(d.path().join(format!("{}.gz", FILES[2]))).unwrap();
        let err = Dataset::load_dir(DatasetKind::Mnist, d.path(), Verify::Skip).unwrap_err();
        assert!(err.to_string().contains("t10k-images-idx3-ubyte"), "{err}");
    }

    #[test]
    fn explicit_root_wins_and_validation_split_is_seeded() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("fashion-mnist");
        std::fs::create_dir(&dir).unwrap();
        write_fixture(&dir, true);
        assert_eq!(
            DatasetKind::FashionMnist.locate(Some(root.path())).unwrap(),
            dir
        );
        let ds = Dataset::load_dir(DatasetKind::FashionMnist, &dir, Verify::Skip).unwrap();
        let (t1, v1) = ds.train.split_validation(1, 42).unwrap();
        let (t2, v2) = ds.train.split_validation(1, 42).unwrap();
        assert_eq!((t1.len(), v1.len()), (2, 1));
        assert_eq!((&t1, &v1), (&t2, &v2));
        let mut all: Vec<u8> = t1.labels.iter().chain(&v1.labels).copied().collect();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2]);
        assert!(ds.train.split_validation(3, 1).is_err());
    }

    #[test]
    fn unknown_dataset_lists_valid_names() {
        let err = "cifar".parse::<DatasetKind>().unwrap_err();
        assert!(err.to_string().contains("mnist, fashion-mnist"), "{err}");
        assert_eq!(
            "fashion-mnist".parse::<DatasetKind>().unwrap(),
            DatasetKind::FashionMnist
        );
    }

    #[test]
    fn real_mnist_loads_and_verifies() {
        let ds = DatasetKind::Mnist.load(None).unwrap();
        assert_eq!((ds.train.len(), ds.test.len()), (60_000, 10_000));
        assert_eq!((ds.train.height, ds.train.width), (28, 28));
        // First training digit of MNIST is a 5, first test digit a 7.
        assert_eq!((ds.train.labels[0], ds.test.labels[0]), (5, 7));
    }
}
