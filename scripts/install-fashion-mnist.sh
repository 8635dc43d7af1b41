#!/usr/bin/env bash
# Installs Fashion-MNIST from Debian's package (files land in /usr/share/datasets/fashion-mnist/,
# which ae-data searches last). Alternative without root: `ae-bench data fetch fashion-mnist`.
set -euo pipefail
if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "fashion-mnist already installed in /usr/share/datasets/fashion-mnist"
  exit 0
fi
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get update
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y --no-install-recommends dataset-fashion-mnist
