#!/usr/bin/python3
"""PyTorch twin of `vtag backbone train`'s inner loop, for bench_builtin.sh: the same network
(reference/builtin_backbone.py), batch, optimiser (Adam, L2 1e-4) and BCE loss, trained over N
in-memory uint8 frames for E epochs; prints the best epoch's frames/s.
usage: builtin_train.py FRAMES LABELS SIZE WIDTHS EPOCHS THREADS"""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from builtin_backbone import BuiltinBackbone  # noqa: E402

n, v, size, widths, epochs, threads = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                       [int(w) for w in sys.argv[4].split(",")], int(sys.argv[5]), int(sys.argv[6]))
torch.set_num_threads(threads)
torch.manual_seed(1)
frames = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
targets = (torch.rand(n, v) < 0.07).float()
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
net = BuiltinBackbone(widths, [1] * len(widths), v)
opt = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
net.train()
best = 0.0
for e in range(epochs):
    order = torch.randperm(n)
    t0 = time.perf_counter()
    for b0 in range(0, n - 1, 32):
        idx = order[b0:b0 + 32]
        x = (frames[idx].float() / 255.0 - mean) / std
        if torch.rand(1).item() < 0.5:
            x = x.flip(3)
        logits, _, _ = net(x)
        loss = F.binary_cross_entropy_with_logits(logits, targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    best = max(best, n / (time.perf_counter() - t0))
print("%.1f" % best)
