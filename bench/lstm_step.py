"""PyTorch side of bench_core: one forward+backward step of torch.nn.LSTMCell
(batch 50, E = R = 512), median of ITERS steps after warm-up, one key=value line.
Run with /usr/bin/python3 (Debian's torch 1.13)."""
import argparse
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--e", type=int, default=512)
    ap.add_argument("--r", type=int, default=512)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--omp-wait-policy", choices=["default", "passive"], default="default")
    a = ap.parse_args()

    # Debian's torch calls sgemm in the pthread OpenBLAS, which sizes its own
    # pool from this variable (torch.set_num_threads does not reach it), so it
    # must be set before torch loads the library.
    os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
    # With 2+ threads, torch's OpenMP workers spin-wait after each parallel
    # loop and starve OpenBLAS's own pthreads; OMP_WAIT_POLICY=passive (read
    # when libgomp loads) avoids that, so bench_core.sh also measures it.
    if a.omp_wait_policy == "passive":
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    impl = "torch" if a.omp_wait_policy == "default" else "torch_passive"
    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(a.e, a.r)
    x = (0.1 * torch.randn(a.n, a.e)).requires_grad_()
    h0 = (0.1 * torch.randn(a.n, a.r)).requires_grad_()
    c0 = (0.1 * torch.randn(a.n, a.r)).requires_grad_()
    g_h = 0.1 * torch.randn(a.n, a.r)
    g_c = 0.1 * torch.randn(a.n, a.r)

    def step():
        # Gradients of the parameters and of x, h0, c0 accumulate into .grad,
        # as vtag's backward adds into its gradient buffers.
        h, c = cell(x, (h0, c0))
        loss = (h * g_h).sum() + (c * g_c).sum()
        loss.backward()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.iters):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    if not torch.isfinite(cell.weight_ih.grad).all():
        sys.exit("lstm_step.py: non-finite gradient")
    med = statistics.median(times)
    flop = 3 * 2 * a.n * 4 * a.r * (a.e + a.r)
    print(f"lstm_step impl={impl} threads={a.threads} n={a.n} e={a.e} r={a.r} "
          f"ms_median={1e3 * med:.3f} ms_min={1e3 * min(times):.3f} "
          f"gflops_median={flop / med * 1e-9:.1f} iters={a.iters} warmup={a.warmup} "
          f"torch={torch.__version__} torch_threads={torch.get_num_threads()}")


if __name__ == "__main__":
    main()
