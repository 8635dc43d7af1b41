#!/usr/bin/env python3
"""PyTorch twin of `ae-bench bench --to-target`: the deep ReLU AE 784-1000-500-250-30 (linear
code, mirrored ReLU decoder emitting logits, BCE summed over pixels and averaged over the
batch) on all 60 000 MNIST training images, Adam under OneCycleLR (cosine, pct_start 0.3,
div_factor 25, final_div_factor 1e4, no momentum cycling: ae-core's `one-cycle`), the test SSE
per image after every epoch. Prints CSV with ae-bench's columns
(implementation,images,epochs,batch,lr,threads,epoch,train_seconds,wall_seconds,test_sse).

    python3 scripts/torch_to_target.py --epochs 30 --batch 128 --lr 3e-3 --threads 2
"""
import argparse
import gzip
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


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


def main():
    p = argparse.ArgumentParser()
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
    model = deep_relu_ae()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    per_epoch = -(-len(train) // a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=a.lr, total_steps=a.epochs * per_epoch, pct_start=0.3,
        anneal_strategy="cos", cycle_momentum=False, div_factor=25.0, final_div_factor=1e4)
    impl = "pytorch-" + torch.__version__.split("+")[0]
    print("implementation,images,epochs,batch,lr,threads,epoch,train_seconds,wall_seconds,test_sse")
    trained = 0.0
    for epoch in range(1, a.epochs + 1):
        t = time.perf_counter()
        model.train()
        for idx in torch.randperm(len(train)).split(a.batch):
            x = train[idx]
            opt.zero_grad(set_to_none=True)
            loss = F.binary_cross_entropy_with_logits(model(x), x, reduction="sum") / len(x)
            loss.backward()
            opt.step()
            sched.step()
        trained += time.perf_counter() - t
        model.eval()
        with torch.no_grad():
            sse = sum(
                float(((torch.sigmoid(model(x)) - x) ** 2).sum()) for x in test.split(1000)
            ) / len(test)
        wall = time.perf_counter() - start
        print(f"{impl},{len(train)},{a.epochs},{a.batch},{a.lr},{a.threads},{epoch},{trained:.3f},{wall:.3f},"
              f"{sse:.4f}", flush=True)


if __name__ == "__main__":
    main()
