#!/usr/bin/env python3
"""PyTorch twin of `cargo bench -p ae-core --bench train_step` (and zoo_step / cd_step):
the same shapes, float32, batch, optimizer and thread count, timed over a fixed number of
steps after a warm-up. Prints one CSV line per model: model,threads,batch,steps,seconds,samples_per_s.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def deep_ae():
    # 784-1000-500-250-30 sigmoid encoder, mirrored decoder emitting logits (train_step.rs).
    sizes = [784, 1000, 500, 250, 30]
    enc, dec = [], []
    for i in range(4):
        enc += [nn.Linear(sizes[i], sizes[i + 1])] + ([nn.Sigmoid()] if i < 3 else [])
    rs = sizes[::-1]
    for i in range(4):
        dec += [nn.Linear(rs[i], rs[i + 1])] + ([nn.Sigmoid()] if i < 3 else [])
    return nn.Sequential(*enc, *dec)


class ConvAe(nn.Module):
    # 28 -> 14 -> 7 with 16 and 32 channels, dense bottleneck of 30 (ae-core conv.rs).
    def __init__(self, code=30):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, code)
        self.dfc = nn.Linear(code, 32 * 7 * 7)
        self.d1 = nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1)
        self.d2 = nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        h = F.relu(self.c2(F.relu(self.c1(x.view(-1, 1, 28, 28)))))
        z = self.fc(h.flatten(1))
        h = F.relu(self.dfc(z)).view(-1, 32, 7, 7)
        return self.d2(F.relu(self.d1(h))).flatten(1)


def time_ae(model, batch, steps, warmup):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 784)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(model(x), x, reduction="sum") / batch
        loss.backward()
        opt.step()

    return timed(step, steps, warmup)


def timed(step, steps, warmup):
    """Seconds for `steps` calls of `step` after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t


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

    return timed(step, steps, warmup)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    runs = [
        ("deep_ae_784_1000_500_250_30", 128, lambda: time_ae(deep_ae(), 128, a.steps, a.warmup)),
        ("conv_ae_16_32_k30", 128, lambda: time_ae(ConvAe(), 128, a.steps, a.warmup)),
        ("rbm_cd1_784x1000", 100, lambda: time_rbm(100, a.steps, a.warmup)),
    ]
    for name, batch, run in runs:
        s = run()
        print(f"{name},{a.threads},{batch},{a.steps},{s:.4f},{batch * a.steps / s:.1f}", flush=True)


if __name__ == "__main__":
    main()
