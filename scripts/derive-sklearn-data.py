#!/usr/bin/env python3
"""Derives two small real data sets from Debian's python3-sklearn package (no download:
the package ships them under sklearn/datasets/data/), as CSV files a user's experiment can
name with `[[datasets]] path = ...`:

  data/breast-cancer/breast-cancer.csv  Wisconsin diagnostic breast cancer (Street, Wolberg &
      Mangasarian 1993): 569 tumours x 30 real-valued features, label `benign` (1) or
      malignant (0); the tabular anomaly-detection set (benign = normal).
  data/digits/digits.csv  UCI optical digits as sklearn ships them (Alpaydin & Kaynak 1998):
      1 797 images of 8 x 8 pixels, 17 grey levels 0..16, scaled to [0, 1] here; label 0..9.

Usage: python3 scripts/derive-sklearn-data.py [SKLEARN_DATA_DIR]
(apt-get install python3-sklearn first; CI does). It checks the package files against the
SHA-256 recorded below, writes the CSVs and checks them against data/*/SHA256SUMS, so a
rebuild on another machine gives the same bytes or fails saying which file differs.
"""
import gzip
import hashlib
import io
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DEFAULT = "/usr/lib/python3/dist-packages/sklearn/datasets/data"
# SHA-256 of the source files in python3-sklearn 1.2.1+dfsg-1 (Debian 12).
SOURCES = {
    "breast_cancer.csv": "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed",
    "digits.csv.gz": "46abec6b12486ad9e51943373abcf22bbea1b5a51a1619b361570d8893f1464a",
}


def sha(b):
    return hashlib.sha256(b).hexdigest()


def read(src, name):
    with open(os.path.join(src, name), "rb") as f:
        body = f.read()
    if sha(body) != SOURCES[name]:
        sys.exit(f"{src}/{name}: SHA-256 {sha(body)}, expected {SOURCES[name]} "
                 "(another python3-sklearn version? the derived files would differ)")
    return body


def breast_cancer(raw):
    lines = raw.decode().strip().splitlines()
    n, d = (int(v) for v in lines[0].split(",")[:2])
    rows = [l.split(",") for l in lines[1:]]
    assert len(rows) == n and all(len(r) == d + 1 for r in rows), "unexpected layout"
    out = io.StringIO()
    out.write(",".join([f"x{j + 1:02d}" for j in range(d)] + ["benign"]) + "\n")
    for r in rows:
        out.write(",".join(r[:d] + [r[d]]) + "\n")
    return out.getvalue().encode()


def digits(raw):
    rows = [l.split(",") for l in gzip.decompress(raw).decode().strip().splitlines()]
    assert len(rows) == 1797 and all(len(r) == 65 for r in rows), "unexpected layout"
    out = io.StringIO()
    out.write(",".join([f"p{j:02d}" for j in range(64)] + ["digit"]) + "\n")
    for r in rows:
        px = [int(float(v)) for v in r[:64]]
        # Exact in decimal: levels 0..16 over 16 have at most 4 decimal places.
        out.write(",".join(f"{v / 16:g}" for v in px) + f",{int(float(r[64]))}\n")
    return out.getvalue().encode()


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    made = {
        "breast-cancer/breast-cancer.csv": breast_cancer(read(src, "breast_cancer.csv")),
        "digits/digits.csv": digits(read(src, "digits.csv.gz")),
    }
    bad = 0
    for rel, body in made.items():
        path = os.path.join(ROOT, "data", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(body)
        sums = os.path.join(os.path.dirname(path), "SHA256SUMS")
        line = f"{sha(body)}  {os.path.basename(path)}\n"
        if os.path.exists(sums):
            want = open(sums).read()
            if want != line:
                print(f"{path}: SHA-256 {sha(body)} differs from {sums}: {want.strip()}")
                bad += 1
                continue
        else:
            with open(sums, "w") as f:
                f.write(line)
        print(f"{path}: {len(body)} bytes, SHA-256 {sha(body)}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
