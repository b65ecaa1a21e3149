"""PyTorch side of bench_backbone: torchvision models (random weights, eval,
no_grad) forward at batch N, 224 px, images/s, one key=value line per model in
bench_backbone's format. Run with /usr/bin/python3 (Debian's torch, oneDNN inside).
Usage: backbone_torch.py THREADS BATCH MIN_SECONDS default|passive MODEL..."""
import os
import sys
import time


def main():
    threads, batch, min_s, policy = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    if policy == "passive":
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # must be set before torch starts its OpenMP pool
    impl = "torch" if policy == "default" else "torch_passive"
    import torch
    import torchvision

    torch.set_num_threads(threads)
    clock = time.perf_counter  # VTAG_BENCH_CLOCK=cpu: process CPU time / threads, as bench_backbone.c
    if os.environ.get("VTAG_BENCH_CLOCK") == "cpu":
        clock = lambda: time.process_time() / threads  # noqa: E731
    for name in sys.argv[5:]:
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)(weights=None).eval()
        x = torch.randn(batch, 3, 224, 224)
        with torch.no_grad():
            model(x)  # warm-up
            runs, t0 = 0, clock()
            while runs < 3 or clock() - t0 < min_s:
                model(x)
                runs += 1
            t = clock() - t0
        print(f"backbone model={name} impl={impl} threads={threads} batch={batch} runs={runs} "
              f"images_per_s={runs * batch / t:.2f}", flush=True)


if __name__ == "__main__":
    main()
