#!/usr/bin/env python3
"""PyTorch twin of `ae-bench bench`: the same workloads (shapes, float32, batch, Adam, loss,
thread count), timed over a fixed number of steps after a warm-up, plus scikit-learn's PCA
fit and a large sgemm for the machine's practical peak. Prints CSV with `ae-bench bench`'s
columns (implementation,backend,workload,threads,batch,steps,seconds,examples_per_s,
flop_per_example); the sgemm row's examples_per_s is GFLOP/s.
"""
import argparse
import gzip
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def deep_ae():
    # 784-1000-500-250-30 sigmoid encoder with a linear code, mirrored decoder emitting logits.
    sizes = [784, 1000, 500, 250, 30]
    enc, dec = [], []
    for i in range(4):
        enc += [nn.Linear(sizes[i], sizes[i + 1])] + ([nn.Sigmoid()] if i < 3 else [])
    rs = sizes[::-1]
    for i in range(4):
        dec += [nn.Linear(rs[i], rs[i + 1])] + ([nn.Sigmoid()] if i < 3 else [])
    return nn.Sequential(*enc, *dec)


class ConvAe(nn.Module):
    # ae-core conv.rs: per stage 3x3 conv (padding 1) + ReLU + 2x2 max-pool (28 -> 14 -> 7,
    # 16 and 32 channels), linear code of 30, linear + ReLU back to 32x7x7, then 2x2
    # stride-2 transposed convs (ReLU between) to one channel of logits.
    def __init__(self, code=30):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, code)
        self.dfc = nn.Linear(code, 32 * 7 * 7)
        self.d1 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.d2 = nn.ConvTranspose2d(16, 1, 2, stride=2)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.c1(x.view(-1, 1, 28, 28))), 2)
        h = F.max_pool2d(F.relu(self.c2(h)), 2)
        z = self.fc(h.flatten(1))
        h = F.relu(self.dfc(z)).view(-1, 32, 7, 7)
        return self.d2(F.relu(self.d1(h))).flatten(1)


class Vae(nn.Module):
    # ae-core vae.rs with hidden [500], ReLU: Gaussian encoder (mu, log var of 30), Bernoulli
    # decoder 30-500-784; loss = BCE per image + KL, batch means.
    def __init__(self, code=30):
        super().__init__()
        self.enc = nn.Linear(784, 500)
        self.mu = nn.Linear(500, code)
        self.logvar = nn.Linear(500, code)
        self.dec = nn.Sequential(nn.Linear(code, 500), nn.ReLU(), nn.Linear(500, 784))

    def loss(self, x):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = F.binary_cross_entropy_with_logits(self.dec(z), x, reduction="sum") / x.shape[0]
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
        return recon + kl


def timed(step, steps, warmup):
    """Seconds for `steps` calls of `step` after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t


def time_ae(model, loss_fn, batch, steps, warmup):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 784)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model, x)
        loss.backward()
        opt.step()

    return timed(step, steps, warmup)


def bce(model, x):
    return F.binary_cross_entropy_with_logits(model(x), x, reduction="sum") / x.shape[0]


def time_rbm(batch, steps, warmup):
    # CD-1 of a 784x1000 Bernoulli RBM with momentum and weight decay, written with matmuls.
    w = torch.randn(784, 1000) * 0.01
    vb, hb = torch.zeros(784), torch.zeros(1000)
    dw, dvb, dhb = torch.zeros_like(w), torch.zeros_like(vb), torch.zeros_like(hb)
    v0 = torch.rand(batch, 784)
    lr, mom, wd = 0.1, 0.9, 2e-4

    def step():
        nonlocal w, vb, hb, dw, dvb, dhb
        h0 = torch.sigmoid(v0 @ w + hb)
        hs = torch.bernoulli(h0)
        v1 = torch.sigmoid(hs @ w.T + vb)
        h1 = torch.sigmoid(v1 @ w + hb)
        gw = (v0.T @ h0 - v1.T @ h1) / batch - wd * w
        dw = mom * dw + lr * gw
        dvb = mom * dvb + lr * (v0 - v1).mean(0)
        dhb = mom * dhb + lr * (h0 - h1).mean(0)
        w, vb, hb = w + dw, vb + dvb, hb + dhb
        # The reconstruction error ae-rbm's cd_step reports.
        return float(((v1 - v0) ** 2).sum(1).mean())

    return timed(step, steps, warmup)


def mnist_train(root):
    with gzip.open(os.path.join(root, "train-images-idx3-ubyte.gz")) as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], "big")
    return torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).view(n, 784).float() / 255.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--mnist", default="data/mnist", help="folder of the gzipped IDX files (PCA)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print("implementation,backend,workload,threads,batch,steps,seconds,examples_per_s,flop_per_example")

    def row(impl, name, batch, steps, seconds):
        print(f"{impl},cpu,{name},{a.threads},{batch},{steps},{seconds:.4f},{batch * steps / seconds:.1f},",
              flush=True)

    s, w = a.steps, a.warmup
    # The version in the name: bench-vs-torch.sh runs two PyTorch releases side by side.
    impl = "pytorch-" + torch.__version__.split("+")[0]
    row(impl, "deep_ae_784_1000_500_250_30", 128, s, time_ae(deep_ae(), bce, 128, s, w))
    row(impl, "conv_ae_16_32_k30", 128, s, time_ae(ConvAe(), bce, 128, s, w))
    row(impl, "vae_784_500_k30", 128, s, time_ae(Vae(), lambda m, x: m.loss(x), 128, s, w))
    row(impl, "rbm_cd1_784x1000", 100, s, time_rbm(100, s, w))

    # scikit-learn's PCA with every component, on the same float32 data; ae-bench's rule
    # for the number of fits (a tenth of the steps).
    try:
        from sklearn import __version__ as skv
        from sklearn.decomposition import PCA
        import numpy as np
        from threadpoolctl import threadpool_limits

        x = mnist_train(a.mnist).numpy().astype(np.float32)
        fits = -(-s // 10)
        with threadpool_limits(a.threads):
            PCA().fit(x)
            t = time.perf_counter()
            for _ in range(fits):
                pca = PCA().fit(x)
            secs = time.perf_counter() - t
        row(f"sklearn-{skv}-{pca._fit_svd_solver}", "pca_fit_60000x784", 60000, fits, secs)
        # The classical solver (LAPACK SVD of the centred data), scikit-learn's default
        # before 1.5 and what most published PCA baselines ran; one fit.
        with threadpool_limits(a.threads):
            t = time.perf_counter()
            PCA(svd_solver="full").fit(x)
            secs = time.perf_counter() - t
        row(f"sklearn-{skv}-full", "pca_fit_60000x784", 60000, 1, secs)
    except ImportError as e:
        print(f"# scikit-learn row skipped: {e}", flush=True)

    # Practical peak: sgemm 2048^3, the best case of the same BLAS (MKL) PyTorch trains with.
    m = torch.randn(2048, 2048)
    reps = 10
    secs = timed(lambda: m @ m, reps, 2)
    gflops = 2 * 2048**3 * reps / secs / 1e9
    print(f"{impl},cpu,sgemm_2048,{a.threads},0,{reps},{secs:.4f},{gflops:.1f},", flush=True)


if __name__ == "__main__":
    main()
