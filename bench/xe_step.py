"""PyTorch side of bench_caption: one XE training step (forward, backward,
gradient clipping at 0.1, Adam) of each caption model of reference/models.py,
float32, at the sizes of SPEC §9. Prints one line per model like bench_caption.c."""
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import models  # noqa: E402

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
iters = int(sys.argv[2]) if len(sys.argv) > 2 else 5
only = sys.argv[3] if len(sys.argv) > 3 else None
torch.set_num_threads(threads)
torch.manual_seed(1)
B, L, K, D, V = 50, 16, 49, 2048, 999
fc = torch.rand(B, D)
att = torch.rand(B, K, D)
labels = torch.randint(1, V + 1, (B, L))
for name in ("fc", "att2in", "topdown"):
    if only and name != only:
        continue
    cfg = models.Config(V, fc_feat_size=D, att_feat_size=D)
    model = models.build(name, cfg, dtype=torch.float32).train()
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    times = []
    for it in range(iters + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = models.xe_loss(model(fc, att, labels), labels)
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), 0.1)
        opt.step()
        if it > 0:  # the first step warms up
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print("torch xe_step model=%s threads=%d ms=%.1f tokens_per_s=%.0f" % (name, threads, med * 1e3, B * (L + 1) / med),
          flush=True)
