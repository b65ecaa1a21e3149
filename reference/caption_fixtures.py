#!/usr/bin/python3
"""Fixtures for tests/caption/test_parity.c: for each caption model (fc, att2in, topdown) fixed random
weights and a batch, with the reference's log-probabilities, XE loss, every gradient and greedy captions.

Every weight and input is drawn, rounded to float32 and used in float64, so the stored outputs are
exact references for the same float32 data. One file per model, <out>/caption_<model>.safetensors:
  <param name>            the weights under their SPEC §3 names (as a vtag checkpoint stores them)
  batch.fc [B, Dfc], batch.att [B, K, Datt] (F32), batch.labels [B, L] (I32, 0-padded)
  out.logprobs [B, L+1, V+1], out.loss [1]     teacher forcing, dropout off
  grad.<param name>                            ∂loss/∂param for every parameter
  floor.<param name> [1]                       an error floor where the exact gradient is 0
  greedy.seq [B, L] (I32), greedy.logprobs [B, L+1], greedy.len [B] (I32)   greedy decoding
  metadata vtag.model, vtag.config, vtag.vocab (as in a checkpoint) and vtag.params (the names).
Run with Debian's /usr/bin/python3 and python3-torch:  caption_fixtures.py --out DIR
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
import safetensors_io  # noqa: E402

SEED = 20240611

# Small, all different and non-square, so a swapped or transposed dimension cannot pass.
CONFIG = dict(vocab_size=23, input_encoding_size=12, rnn_size=16, att_hid_size=10, fc_feat_size=19,
              att_feat_size=14, max_length=8, drop_prob_lm=0.5)
BATCH = 5
K = 6
LENGTHS = [3, 8, 5, 4, 6]  # mixed padding, one caption of the full max_length

# float32 rounding in C must not decide a discontinuity differently from float64 here.
MIN_MAXOUT_GAP = 1e-4   # |a[3R:4R] − a[4R:5R]|: which half wins routes the gradient
MIN_RELU_GAP = 1e-5     # |pre-ReLU| of topdown's fc and att embeddings
MIN_GREEDY_MARGIN = 1e-4  # top-1 − top-2 log-probability of every greedy decision


def f32(t):
    """Rounds to float32 and returns float64, so the reference sees exactly what C sees."""
    return t.detach().to(torch.float32).to(torch.float64)


def draw_weights(model, gen):
    """Normal weights scaled by 1/sqrt(fan_in) (a bit above PyTorch's default spread, so that the
    output distribution is peaked enough for greedy decisions to be clear), rounded to float32."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.rsplit(".", 1)[-1].startswith("bias"):
                scale = 0.3
            elif name in ("embed.weight", "embed.0.weight"):
                scale = 0.8
            elif name == "logit.weight":
                scale = 4.0 / p.shape[1] ** 0.5
            else:
                scale = 1.2 / p.shape[1] ** 0.5
            p.copy_(f32(torch.randn(p.shape, generator=gen, dtype=torch.float64) * scale))


def tune_eos(model, fc, att):
    """Shifts logit.bias[0] (EOS) by the first offset for which greedy decoding of the batch gives
    both a caption that ends early at EOS and one cut at max_length, every decision clear."""
    length = model.cfg.max_length
    base = model.logit.bias[0].item()
    for step in range(41):
        offset = (step + 1) // 2 * 0.25 * (1 if step % 2 else -1)  # 0, +.25, −.25, +.5, …
        with torch.no_grad():
            model.logit.bias[0] = f32(torch.tensor(base + offset))
        _, _, lengths, margin = model.greedy(fc, att)
        lengths = lengths.tolist()
        if margin >= MIN_GREEDY_MARGIN and length in lengths and any(0 < n < length for n in lengths):
            return
    raise AssertionError("no EOS bias gives both early-ended and full-length greedy captions; change SEED")


def draw_labels(gen, v, length, lengths):
    """Captions of distinct labels (as §2 builds them), 0-padded; label V occurs somewhere."""
    labels = torch.zeros(len(lengths), length, dtype=torch.long)
    for i, n in enumerate(lengths):
        labels[i, :n] = torch.randperm(v, generator=gen)[:n] + 1
    if not (labels == v).any():  # the last row of the embedding must be exercised too
        longest = max(range(len(lengths)), key=lambda i: lengths[i])
        labels[longest, lengths[longest] - 1] = v
    return labels


def make(model_type, out_dir, seed):
    cfg = models.Config(**CONFIG)
    gen = torch.Generator().manual_seed(seed)
    model = models.build(model_type, cfg, torch.float64)
    draw_weights(model, gen)
    fc = f32(torch.randn(BATCH, cfg.fc_feat_size, generator=gen, dtype=torch.float64))
    att = f32(torch.randn(BATCH, K, cfg.att_feat_size, generator=gen, dtype=torch.float64))
    labels = draw_labels(gen, cfg.vocab_size, cfg.max_length, LENGTHS)
    tune_eos(model, fc, att)

    scores = []
    attention = getattr(model.core, "attention", None)
    if attention is not None:
        attention.record = scores
    if hasattr(model.core, "gap"):
        model.core.gap = float("inf")
    logprobs = model(fc, att, labels)
    loss = models.xe_loss(logprobs, labels)
    model.zero_grad()
    loss.backward()
    if attention is not None:
        attention.record = None

    problems = []
    if hasattr(model.core, "gap") and model.core.gap < MIN_MAXOUT_GAP:
        problems.append("maxout halves %.2g apart" % model.core.gap)
    if hasattr(model, "relu_gap") and model.relu_gap < MIN_RELU_GAP:
        problems.append("a pre-ReLU value is %.2g" % model.relu_gap)
    seq, seq_lp, lengths, margin = model.greedy(fc, att)
    if margin < MIN_GREEDY_MARGIN:
        problems.append("a greedy decision is decided by %.2g" % margin)
    if problems:
        raise AssertionError("%s: %s; change SEED" % (model_type, ", ".join(problems)))

    tensors = {}

    def put_f(name, t):
        if name in tensors:
            raise KeyError("duplicate tensor " + name)
        tensors[name] = safetensors_io.from_torch(t.detach().to(torch.float32), "F32")

    def put_i(name, t):
        tensors[name] = safetensors_io.from_torch(t.detach().to(torch.int32), "I32")

    names = []
    for name, p in model.named_parameters():
        names.append(name)
        put_f(name, p)
        put_f("grad." + name, p.grad)
    if attention is not None:
        # ∂loss/∂alpha_net.bias = Σ ∂loss/∂score is 0 in exact arithmetic (softmax ignores a
        # shift): its error is measured against the size of the terms summed, max|∂loss/∂score|.
        floor = max(s.grad.abs().max().item() for s in scores)
        put_f("floor.core.attention.alpha_net.bias", torch.tensor([floor]))
    put_f("batch.fc", fc)
    put_f("batch.att", att)
    put_i("batch.labels", labels)
    put_f("out.logprobs", logprobs)
    put_f("out.loss", loss.reshape(1))
    put_i("greedy.seq", seq)
    put_f("greedy.logprobs", seq_lp)
    put_i("greedy.len", lengths)

    meta = {
        "vtag.model": model_type,
        "vtag.config": json.dumps(dict(model=model_type, **cfg.to_dict())),  # as vtag_model_config_to_json
        "vtag.vocab": json.dumps(["label%02d" % (i + 1) for i in range(cfg.vocab_size)]),
        "vtag.params": json.dumps(names),
        "vtag.reference": "reference/caption_fixtures.py",
        "torch": torch.__version__,
        "seed": str(seed),
    }
    path = os.path.join(out_dir, "caption_%s.safetensors" % model_type)
    tmp = path + ".tmp"
    safetensors_io.save(tmp, tensors, meta)
    os.replace(tmp, path)
    gaps = "maxout gap %.2g" % model.core.gap if hasattr(model.core, "gap") else "ReLU gap %.2g" % model.relu_gap
    print("%s: %d tensors, loss %.6f, greedy lengths %s, greedy margin %.2g, %s"
          % (path, len(tensors), loss.item(), lengths.tolist(), margin, gaps))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for caption_<model>.safetensors")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # deterministic sums whatever the machine
    for i, model_type in enumerate(models.MODEL_TYPES):
        make(model_type, args.out, SEED + i)


if __name__ == "__main__":
    main()
