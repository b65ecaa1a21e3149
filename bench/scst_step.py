"""PyTorch side of bench_scst: one SCST step of each model of reference/models.py (float32, the
XE benchmark's sizes), rewards by the pure-Python CIDEr-D of reference/metrics.py. Prints one line per model."""
import argparse
import math
import os
import statistics
import sys
import time

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("threads", type=int, nargs="?", default=2)
ap.add_argument("iters", type=int, nargs="?", default=5)
ap.add_argument("model", nargs="?", default="all", help="fc, att2in, topdown or all")
# expand: prepare the features of the 10 images once, then repeat them for the 5 samples
# (self-critical.pytorch's _prepare_feature + repeat_tensors; fewer FLOPs than vtag).
# repeat: repeat the raw features 5x and prepare every row, as vtag_scst_step does.
ap.add_argument("--prep", choices=["expand", "repeat"], default="expand")
# --tuned: OMP_WAIT_POLICY=passive, OPENBLAS_NUM_THREADS = threads (as bench_caption.sh's "tuned"):
# by default Debian's torch's OpenMP threads spin after each parallel loop and starve the pthread
# OpenBLAS it calls. Without it, PyTorch runs as Debian ships it (the configuration SPEC §9 quotes).
ap.add_argument("--tuned", action="store_true")
args = ap.parse_args()
if args.tuned:  # read when torch loads libgomp and OpenBLAS
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
import torch  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "reference"))
import metrics  # noqa: E402
import models  # noqa: E402

threads, iters, prep = args.threads, args.iters, args.prep
only = None if args.model == "all" else args.model
impl = "torch_tuned" if args.tuned else "torch"
torch.set_num_threads(threads)
torch.manual_seed(1)
B, N, L, K, D, V = 10, 5, 16, 49, 2048, 999
N_IMG, N_REF, M64 = 1000, 10, (1 << 64) - 1


def corpus():
    """bench_scst.c's reference corpus, same generator (splitmix64, seed 12345): N_IMG images ×
    N_REF references of 3–16 distinct labels, EOS (0) appended."""
    s = 12345

    def nxt():
        nonlocal s
        s = (s + 0x9E3779B97F4A7C15) & M64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    sets = []
    for _ in range(N_IMG):
        refs = []
        for _ in range(N_REF):
            n, w = 3 + nxt() % 14, []
            while len(w) < n:
                x = 1 + nxt() % V
                if x not in w:
                    w.append(x)
            refs.append(tuple(w) + (0,))
        sets.append(refs)
    return sets


def scored(row, length):
    """The caption as scored: its labels, then EOS when it ended before L (SPEC §4)."""
    words = row[:length]
    return tuple(words) + ((0,) if length < L else ())


def expand(feats, n):
    if isinstance(feats, tuple):
        return tuple(f.repeat_interleave(n, dim=0) for f in feats)
    return feats.repeat_interleave(n, dim=0)


def step(model, opt, cider, fc, att, refs):
    opt.zero_grad()
    # Baseline: greedy, dropout off, no gradient; a label is never emitted twice.
    model.eval()
    with torch.no_grad():
        feats = model.prepare(fc, att)
        state = model.init_state(feats, B)
        tokens = torch.zeros(B, dtype=torch.long)
        blocked = torch.zeros(B, V + 1, dtype=torch.bool)
        done = torch.zeros(B, dtype=torch.bool)
        gseq = torch.zeros(B, L, dtype=torch.long)
        glen = torch.full((B,), L, dtype=torch.long)
        for t in range(L):
            lp, state = model.logprobs_step(tokens, feats, state)
            tokens = lp.masked_fill(blocked, -math.inf).argmax(dim=1).masked_fill(done, 0)
            live = ~done
            glen[live & (tokens == 0)] = t
            emit = live & (tokens != 0)
            gseq[emit, t] = tokens[emit]
            blocked[emit, tokens[emit]] = True
            done |= tokens == 0
            if done.all():
                break
    # N samples per image, dropout on; the gradient flows through this pass (self-critical.pytorch).
    model.train()
    bn = B * N
    if prep == "expand":
        feats = expand(model.prepare(fc, att), N)
    else:
        feats = model.prepare(fc.repeat_interleave(N, dim=0) if fc is not None else None,
                              att.repeat_interleave(N, dim=0) if att is not None else None)
    state = model.init_state(feats, bn)
    tokens = torch.zeros(bn, dtype=torch.long)
    blocked = torch.zeros(bn, V + 1, dtype=torch.bool)
    done = torch.zeros(bn, dtype=torch.bool)
    sseq = torch.zeros(bn, L, dtype=torch.long)
    slen = torch.full((bn,), L, dtype=torch.long)
    picked, masks = [], []
    for t in range(L + 1):
        lp, state = model.logprobs_step(tokens, feats, state)
        live = ~done
        if t == L:  # after L labels only EOS remains
            tokens = torch.zeros(bn, dtype=torch.long)
        else:
            probs = lp.detach().masked_fill(blocked, -math.inf).exp()
            tokens = torch.multinomial(probs, 1).squeeze(1).masked_fill(done, 0)
        picked.append(lp.gather(1, tokens.unsqueeze(1)).squeeze(1))
        masks.append(live)  # labels and the first EOS
        if t < L:
            slen[live & (tokens == 0)] = t
            emit = live & (tokens != 0)
            sseq[emit, t] = tokens[emit]
            blocked[emit, tokens[emit]] = True
        done |= tokens == 0
        if done.all():
            break
    # Rewards: pure-Python CIDEr-D against each image's references.
    g, s = gseq.tolist(), sseq.tolist()
    gl, sl = glen.tolist(), slen.tolist()
    greedy = [cider.score(scored(g[i], gl[i]), refs[i]) for i in range(B)]
    reward = [cider.score(scored(s[j], sl[j]), refs[j // N]) for j in range(bn)]
    adv = torch.tensor([reward[j] - greedy[j // N] for j in range(bn)], dtype=torch.float32)
    logp = torch.stack(picked, dim=1)
    mask = torch.stack(masks, dim=1).to(logp.dtype)
    loss = -(logp * adv.unsqueeze(1) * mask).sum() / mask.sum()
    loss.backward()
    torch.nn.utils.clip_grad_value_(model.parameters(), 0.1)
    opt.step()
    return sum(reward) / bn, sum(greedy) / B


sets = corpus()
cider = metrics.CiderD(sets)  # document frequencies: once, outside the timing
refs = sets[:B]
fc = torch.rand(B, D)
att = torch.rand(B, K, D)
for name in ("fc", "att2in", "topdown"):
    if only and name != only:
        continue
    cfg = models.Config(V, fc_feat_size=D, att_feat_size=D, max_length=L)
    model = models.build(name, cfg, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=5e-5)
    times, rs, gs = [], [], []
    for it in range(iters + 1):
        t0 = time.perf_counter()
        r, gr = step(model, opt, cider, fc if name != "att2in" else None, att if name != "fc" else None, refs)
        if it > 0:  # the first step warms up
            times.append(time.perf_counter() - t0)
            rs.append(r)
            gs.append(gr)
    med = statistics.median(times)
    print("%s scst_step model=%s threads=%d ms=%.1f min_ms=%.1f reward=%.3f greedy=%.3f prep=%s"
          % (impl, name, threads, med * 1e3, min(times) * 1e3, sum(rs) / len(rs), sum(gs) / len(gs), prep), flush=True)
