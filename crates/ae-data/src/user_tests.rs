use super::*;
use ndarray::{Array1, Array3};
use ndarray_npy::{NpzWriter, WriteNpyExt};

fn spec(name: &str, path: &str) -> FileDataset {
    FileDataset {
        name: name.into(),
        path: path.into(),
        test_path: None,
        test_fraction: 0.25,
        format: None,
        kind: ValueKind::Real,
        shape: None,
        label_column: None,
        labels_path: None,
        test_labels_path: None,
        class_names: None,
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// The message of a load that must fail, with the file named in it.
fn fails(s: &FileDataset, dir: &Path) -> String {
    let e = s.load(dir).expect_err("must be refused");
    let msg = e.to_string();
    assert!(msg.contains(&s.path.display().to_string()), "{msg}");
    msg
}

/// 8 rows of 3 real features and a label column: standardised with the training
/// rows' mean and sd, 2 rows held out, labels kept beside their rows.
#[test]
fn csv_real_values_are_standardised_on_the_training_split() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("a,b,class,c\n");
    for i in 0..8 {
        text += &format!("{},{},{},{}\n", i, 10.0 * i as f64, i % 2, 5.0);
    }
    write(dir.path(), "t.csv", &text);
    let mut s = spec("tab", "t.csv");
    s.label_column = Some("class".into());
    let ds = s.load(dir.path()).unwrap();
    assert_eq!((ds.train.len(), ds.test.len()), (6, 2));
    assert_eq!((ds.train.height, ds.train.width), (1, 3));
    assert!(ds.labelled);
    assert_eq!(ds.class_names, vec!["0", "1"]);
    let (mean, sd) = ds.scaling.clone().unwrap();
    // Column c is constant: sd 1, standardised to 0.
    assert_eq!(sd[2], 1.0);
    for j in 0..3 {
        let m: f64 = (0..6).map(|i| f64::from(ds.train.image(i)[j])).sum::<f64>() / 6.0;
        assert!(m.abs() < 1e-6, "feature {j} mean {m}");
    }
    // Every row's label is its first feature's parity: the split kept rows whole.
    for split in [&ds.train, &ds.test] {
        for i in 0..split.len() {
            let a = split.image(i)[0] * sd[0] + mean[0];
            assert_eq!(a.round() as u8 % 2, split.labels[i], "row {i}");
        }
    }
}

#[test]
fn a_short_ragged_row_is_named_by_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "r.csv", "x,y,z\n1,2,3\n4,5\n7,8,9\n");
    let msg = fails(&spec("r", "r.csv"), dir.path());
    assert!(msg.contains("row 2") && msg.contains("`z`"), "{msg}");
}

#[test]
fn a_long_ragged_row_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "r.csv", "x,y\n1,2\n4,5,6\n7,8\n");
    fails(&spec("r", "r.csv"), dir.path());
}

#[test]
fn nan_and_text_values_are_named_by_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "n.csv", "x,y\n1,2\n3,NaN\n5,6\n");
    let msg = fails(&spec("n", "n.csv"), dir.path());
    assert!(
        msg.contains("row 2") && msg.contains("`y`") && msg.contains("finite"),
        "{msg}"
    );
    write(dir.path(), "s.csv", "x,y\n1,2\n3,4\nfive,6\n");
    let msg = fails(&spec("s", "s.csv"), dir.path());
    assert!(
        msg.contains("row 3") && msg.contains("`x`") && msg.contains("five"),
        "{msg}"
    );
}

#[test]
fn unit_values_outside_0_1_point_to_kind_real() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "u.csv", "x,y\n0.5,0.2\n0.1,1.5\n0,1\n1,0\n");
    let mut s = spec("u", "u.csv");
    s.kind = ValueKind::Unit;
    let msg = fails(&s, dir.path());
    assert!(
        msg.contains("row 2") && msg.contains("kind = \"real\""),
        "{msg}"
    );
    s.kind = ValueKind::Counts;
    let msg = fails(&s, dir.path());
    assert!(msg.contains("row 1") && msg.contains("count"), "{msg}");
}

#[test]
fn labels_outside_the_class_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "l.csv", "x,lab\n1,0\n2,1\n3,2\n4,1\n");
    let mut s = spec("l", "l.csv");
    s.label_column = Some("lab".into());
    s.class_names = Some(vec!["a".into(), "b".into()]);
    let msg = fails(&s, dir.path());
    assert!(msg.contains("row 3") && msg.contains("label 2"), "{msg}");
    s.class_names = None;
    write(dir.path(), "l.csv", "x,lab\n1,0\n2,-1\n3,2\n4,1\n");
    let msg = fails(&s, dir.path());
    assert!(msg.contains("row 2") && msg.contains("0..=255"), "{msg}");
    s.label_column = Some("nope".into());
    let msg = fails(&s, dir.path());
    assert!(msg.contains("no such column"), "{msg}");
}

#[test]
fn a_declared_shape_that_does_not_fit_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d.csv", "a,b,c\n1,2,3\n4,5,6\n7,8,9\n1,1,1\n");
    let mut s = spec("d", "d.csv");
    s.shape = Some(vec![2, 2]);
    let msg = fails(&s, dir.path());
    assert!(
        msg.contains("holds 3 values") && msg.contains("declares 4"),
        "{msg}"
    );
    s.shape = Some(vec![3, 0]);
    assert!(
        s.load(dir.path())
            .unwrap_err()
            .to_string()
            .contains("shape")
    );
}

/// A `[n, 3, 5]` f64 NPY (non-square items) with an NPY of labels; a test file of its own.
#[test]
fn npy_items_keep_their_non_square_shape() {
    let dir = tempfile::tempdir().unwrap();
    let x = Array3::<f64>::from_shape_fn((4, 3, 5), |(i, r, c)| (i + r * c) as f64 / 20.0);
    x.write_npy(std::fs::File::create(dir.path().join("x.npy")).unwrap())
        .unwrap();
    Array1::<i64>::from(vec![0, 1, 2, 1])
        .write_npy(std::fs::File::create(dir.path().join("y.npy")).unwrap())
        .unwrap();
    let head = Array3::<f64>::from_shape_fn((2, 3, 5), |(i, r, c)| x[[i, r, c]]);
    head.write_npy(std::fs::File::create(dir.path().join("xt.npy")).unwrap())
        .unwrap();
    let mut s = spec("arr", "x.npy");
    s.kind = ValueKind::Unit;
    s.labels_path = Some("y.npy".into());
    s.test_path = Some("xt.npy".into());
    s.test_labels_path = Some("yt.txt".into());
    write(dir.path(), "yt.txt", "2\n0\n");
    let ds = s.load(dir.path()).unwrap();
    assert_eq!((ds.train.height, ds.train.width), (3, 5));
    assert_eq!((ds.train.len(), ds.test.len()), (4, 2));
    assert_eq!(ds.train.labels, vec![0, 1, 2, 1]);
    assert_eq!(ds.test.labels, vec![2, 0]);
    assert_eq!(ds.train.image(1)[5 + 2], ((1 + 2) as f64 / 20.0) as f32);
    assert!(ds.scaling.is_none());
    // Three labels for four items.
    write(dir.path(), "yt.txt", "2\n0\n1\n");
    let e = s.load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("3 labels for 2 items"), "{e}");
}

#[test]
fn npz_holds_x_and_y() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = NpzWriter::new(std::fs::File::create(dir.path().join("d.npz")).unwrap());
    let x = ndarray::Array2::<f32>::from_shape_fn((10, 7), |(i, j)| (i * j) as f32);
    w.add_array("x", &x).unwrap();
    w.add_array(
        "y",
        &Array1::<u8>::from((0..10).map(|i| i % 3).collect::<Vec<_>>()),
    )
    .unwrap();
    w.finish().unwrap();
    let mut s = spec("z", "d.npz");
    s.kind = ValueKind::Counts;
    s.test_fraction = 0.3;
    let ds = s.load(dir.path()).unwrap();
    assert_eq!((ds.train.len(), ds.test.len(), ds.dim()), (7, 3, 7));
    assert_eq!(ds.class_names.len(), 3);
    // The held-out rows are the same on every load (seeded split).
    let again = s.load(dir.path()).unwrap();
    assert_eq!(again.test.images, ds.test.images);
}

#[test]
fn parquet_reads_like_csv() {
    let dir = tempfile::tempdir().unwrap();
    let mut df = df!("p" => [0.0f64, 0.5, 1.0, 0.25], "q" => [1.0f64, 0.0, 0.5, 0.75], "k" => [1i64, 0, 1, 0])
        .unwrap();
    let f = std::fs::File::create(dir.path().join("t.parquet")).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
    let mut s = spec("pq", "t.parquet");
    s.kind = ValueKind::Unit;
    s.label_column = Some("k".into());
    s.test_fraction = 0.5;
    let ds = s.load(dir.path()).unwrap();
    assert_eq!(ds.dim(), 2);
    assert_eq!(ds.train.len() + ds.test.len(), 4);
}

#[test]
fn an_idx_file_of_any_image_size_loads_without_a_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let img = crate::idx::IdxImages {
        count: 5,
        height: 4,
        width: 6,
        pixels: (0..120).map(|v| v as u8).collect(),
    };
    std::fs::write(
        dir.path().join("imgs-idx3-ubyte"),
        crate::idx::encode_images(&img),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("labs-idx1-ubyte"),
        crate::idx::encode_labels(&[0, 1, 0, 1, 1]),
    )
    .unwrap();
    let mut s = spec("small", "imgs-idx3-ubyte");
    s.kind = ValueKind::Unit;
    s.labels_path = Some("labs-idx1-ubyte".into());
    s.test_fraction = 0.4;
    let ds = s.load(dir.path()).unwrap();
    assert_eq!((ds.train.height, ds.train.width), (4, 6));
    assert_eq!(ds.train.len(), 3);
}

#[test]
fn names_and_fractions_are_checked_without_reading() {
    for bad_name in ["", "a/b", "../x", "a b", &"x".repeat(65), "x\0"] {
        assert!(spec(bad_name, "x.csv").check().is_err(), "{bad_name:?}");
    }
    assert!(spec("ok_name-1", "x.csv").check().is_ok());
    let mut s = spec("f", "x.csv");
    s.test_fraction = 1.0;
    assert!(s.check().is_err());
    let e = spec("f", "x.weird")
        .load(Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(e.contains("format"), "{e}");
}
