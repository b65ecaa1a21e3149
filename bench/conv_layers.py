"""PyTorch side of bench_cnn: torch.nn.functional.conv2d (with bias) on every shape of
bench/cnn_shapes.txt at batch N, then the activation, under torch.no_grad; median ms per shape,
one key=value line each, same format as bench_cnn. Run with /usr/bin/python3 (Debian's torch).
Usage: conv_layers.py SHAPES THREADS [BATCH] [MIN_SECONDS] [default|passive]"""
import os
import statistics
import sys
import time


def main():
    shapes, threads = sys.argv[1], int(sys.argv[2])
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    min_s = float(sys.argv[4]) if len(sys.argv) > 4 else 0.3
    policy = sys.argv[5] if len(sys.argv) > 5 else "default"
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    if policy == "passive":
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    impl = "torch" if policy == "default" else "torch_passive"
    # VTAG_BENCH_CLOCK=cpu: process CPU time / threads (see bench_cnn.c); VTAG_BENCH_ONLY: name prefix
    clock = time.perf_counter
    if os.environ.get("VTAG_BENCH_CLOCK") == "cpu":
        clock = lambda: time.process_time() / threads  # noqa: E731
    only = os.environ.get("VTAG_BENCH_ONLY", "")
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    acts = {"relu": F.relu, "relu6": F.relu6, "none": lambda t: t}
    with open(shapes) as f, torch.no_grad():
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, count, cin, h, w, cout, k, s, p, g, act = line.split()
            count, cin, h, w, cout, k, s, p, g = map(int, (count, cin, h, w, cout, k, s, p, g))
            x = torch.randn(batch, cin, h, w)
            wt = torch.randn(cout, cin // g, k, k) * 0.1
            b = torch.randn(cout) * 0.01
            if not name.startswith(only):
                continue
            fn = acts[act]
            y = fn(F.conv2d(x, wt, b, stride=s, padding=p, groups=g))
            times, start = [], clock()
            while len(times) < 5 or clock() - start < min_s:
                t0 = clock()
                y = fn(F.conv2d(x, wt, b, stride=s, padding=p, groups=g))
                times.append(clock() - t0)
            ms = 1e3 * statistics.median(times)
            flop = 2.0 * y.numel() * (cin // g) * k * k
            print("conv impl=%s name=%s count=%d threads=%d batch=%d ms=%.3f gflops=%.1f reps=%d"
                  % (impl, name, count, threads, batch, ms, flop / (ms * 1e6), len(times)), flush=True)


if __name__ == "__main__":
    main()
