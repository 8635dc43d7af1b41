#!/usr/bin/env python3
"""PyTorch twin of `ae-bench bench --to-target`: `--model deep` is the deep ReLU AE
784-1000-500-250-30 (linear code, mirrored ReLU decoder emitting logits), `conv` the conv AE
16-32 and `vae` the VAE 784-500-30 of scripts/torch_reference.py (the bench's twins), all at
k = 30 with BCE summed over pixels and averaged over the batch (+ KL for the VAE), on all
60 000 MNIST training images, Adam under OneCycleLR (cosine, pct_start 0.3, div_factor 25,
final_div_factor 1e4, no momentum cycling: ae-core's `one-cycle`), the test SSE per image
after every epoch (the VAE decodes its posterior mean, as ae-core's evaluation). Prints CSV
with ae-bench's columns
(implementation,model,images,epochs,batch,lr,threads,epoch,train_seconds,wall_seconds,test_sse).

    python3 scripts/torch_to_target.py --model deep --epochs 30 --batch 128 --lr 3e-3 --threads 2
"""
import argparse
import gzip
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import ConvAe, Vae  # noqa: E402  (the bench's twins, one definition)


def images(root, name):
    with gzip.open(os.path.join(root, name)) as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], "big")
    return torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).view(n, 784).float() / 255.0


def deep_relu_ae():
    sizes = [784, 1000, 500, 250, 30]
    layers = []
    for s in (sizes, sizes[::-1]):
        for i in range(4):
            layers.append(nn.Linear(s[i], s[i + 1]))
            if i < 3:
                layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def bce(model, x):
    return F.binary_cross_entropy_with_logits(model(x), x, reduction="sum") / len(x)


def vae_mean_logits(model, x):
    # The posterior mean decoded: ae-core's Vae::reconstruct.
    return model.dec(model.mu(F.relu(model.enc(x))))


MODELS = {
    # name: (constructor, training loss, test-time logits)
    "deep": (deep_relu_ae, bce, lambda m, x: m(x)),
    "conv": (ConvAe, bce, lambda m, x: m(x)),
    "vae": (Vae, lambda m, x: m.loss(x), vae_mean_logits),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=sorted(MODELS), default="deep")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mnist", default="data/mnist")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    start = time.perf_counter()
    train = images(a.mnist, "train-images-idx3-ubyte.gz")
    test = images(a.mnist, "t10k-images-idx3-ubyte.gz")
    make, loss_fn, logits_fn = MODELS[a.model]
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    per_epoch = -(-len(train) // a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=a.lr, total_steps=a.epochs * per_epoch, pct_start=0.3,
        anneal_strategy="cos", cycle_momentum=False, div_factor=25.0, final_div_factor=1e4)
    impl = "pytorch-" + torch.__version__.split("+")[0]
    print("implementation,model,images,epochs,batch,lr,threads,epoch,train_seconds,wall_seconds,test_sse")
    trained = 0.0
    for epoch in range(1, a.epochs + 1):
        t = time.perf_counter()
        model.train()
        for idx in torch.randperm(len(train)).split(a.batch):
            x = train[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, x)
            loss.backward()
            opt.step()
            sched.step()
        trained += time.perf_counter() - t
        model.eval()
        with torch.no_grad():
            sse = sum(
                float(((torch.sigmoid(logits_fn(model, x)) - x) ** 2).sum()) for x in test.split(1000)
            ) / len(test)
        wall = time.perf_counter() - start
        print(f"{impl},{a.model},{len(train)},{a.epochs},{a.batch},{a.lr},{a.threads},{epoch},{trained:.3f},{wall:.3f},"
              f"{sse:.4f}", flush=True)


if __name__ == "__main__":
    main()
