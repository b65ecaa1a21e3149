#!/usr/bin/python3
"""Fixtures for tests/caption/test_scst_parity.c: one SCST update of each caption model (fc, att2in,
topdown) on FIXED sampled captions and FIXED rewards, computed by reference/scst.py.

Every weight and input is drawn, rounded to float32 and used in float64 (dropout off), so the stored
outputs are exact references for the same float32 data. One file per model, <out>/scst_<model>.safetensors:
  <param name>                  the weights under their SPEC §3 names
  batch.fc [B, Dfc], batch.att [B, K, Datt] (F32)   IMAGES images, each repeated SAMPLE_N times
  batch.labels [B, L] (I32)     the sampled captions, 0-padded (one empty, one of the full max_length)
  scst.rewards [B], scst.adv [B]   rewards and their advantages (mean-of-other-samples baseline)
  out.loss [1], floor.loss [1]  −Σ adv·log p·mask / Σ mask, and the same with |adv| (a scale for the
                                error of a loss whose signed terms cancel)
  grad.<name>                   ∂loss/∂param, before clipping
  floor.<name> [1]              an error floor where the exact gradient is 0 (alpha_net.bias)
  adam0.<name>                  the parameters after the update from a fresh Adam (vtag's first step)
  m3.<name>, v3.<name>          Adam moments as after 3 updates (drawn), and
  adam3.<name>                  the parameters after the update from them (clipping shows there:
                                from a fresh Adam every step is ±lr whatever the gradient)
  metadata vtag.model, vtag.config, vtag.params, scst.lr, scst.clip, scst.sample_n, scst.warm_step.
Run with Debian's /usr/bin/python3 and python3-torch:  scst_fixtures.py --out DIR
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import caption_fixtures  # noqa: E402
import models  # noqa: E402
import safetensors_io  # noqa: E402
import scst  # noqa: E402

SEED = 20241027
CONFIG = caption_fixtures.CONFIG  # V 23, E 12, R 16, A 10, Dfc 19, Datt 14, L 8
IMAGES, SAMPLE_N, K = 2, 3, 6
LENGTHS = [3, 8, 0, 5, 2, 6]  # sample lengths: one ended at once (EOS only), one cut at max_length
# Fixed rewards (CIDEr-D-sized, 0..10) with the mean baseline; every value is exact in float32:
# image 0: 4 − (1+6)/2 = 0.5, 1 − (4+6)/2 = −4, 6 − (4+1)/2 = 3.5
# image 1: 0 − (3+2)/2 = −2.5, 3 − (0+2)/2 = 2, 2 − (0+3)/2 = 0.5
REWARDS = [4.0, 1.0, 6.0, 0.0, 3.0, 2.0]
LR, CLIP, WARM_STEP = 5e-5, 0.1, 3


def make(model_type, out_dir, seed):
    cfg = models.Config(**CONFIG)
    gen = torch.Generator().manual_seed(seed)
    model = models.build(model_type, cfg, torch.float64)  # eval(): dropout off
    caption_fixtures.draw_weights(model, gen)
    fc_img = caption_fixtures.f32(torch.randn(IMAGES, cfg.fc_feat_size, generator=gen, dtype=torch.float64))
    att_img = caption_fixtures.f32(torch.randn(IMAGES, K, cfg.att_feat_size, generator=gen, dtype=torch.float64))
    # Rows = images × samples (the test gives vtag's tape each image once, vtag_model_xe_weighted the rows).
    fc = fc_img.repeat_interleave(SAMPLE_N, dim=0)
    att = att_img.repeat_interleave(SAMPLE_N, dim=0)
    labels = caption_fixtures.draw_labels(gen, cfg.vocab_size, cfg.max_length, LENGTHS)
    adv = scst.advantages(REWARDS, None, SAMPLE_N, "mean")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}

    # Pass 1: fresh Adam (also the loss, the gradients and the kink checks).
    scores = []
    attention = getattr(model.core, "attention", None)
    if attention is not None:
        attention.record = scores
    if hasattr(model.core, "gap"):
        model.core.gap = float("inf")
    loss, logprobs, grads = scst.scst_update(model, fc, att, labels, adv, LR, CLIP)
    if attention is not None:
        attention.record = None
    after0 = {n: p.detach().clone() for n, p in model.named_parameters()}
    problems = []
    if hasattr(model.core, "gap") and model.core.gap < caption_fixtures.MIN_MAXOUT_GAP:
        problems.append("maxout halves %.2g apart" % model.core.gap)
    if hasattr(model, "relu_gap") and model.relu_gap < caption_fixtures.MIN_RELU_GAP:
        problems.append("a pre-ReLU value is %.2g" % model.relu_gap)
    allg = torch.cat([g.reshape(-1) for g in grads.values()])
    clipped = int((allg.abs() > CLIP).sum())
    # The clip must act on some elements but not decide by a hair (float32 vs float64).
    near = float(((allg.abs() - CLIP).abs() / CLIP).min())
    if clipped == 0:
        problems.append("no gradient element exceeds the clip %g" % CLIP)
    if near < 1e-4:
        problems.append("a gradient element is within %.1g of the clip" % near)
    if problems:
        raise AssertionError("%s: %s; change SEED" % (model_type, ", ".join(problems)))

    # Pass 2: the same update from a warm Adam (moments drawn at the scale of the gradients).
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(before[n])
    gscale = min(float(allg.abs().max()), CLIP)
    state = {"step": WARM_STEP}
    for n, p in model.named_parameters():
        m = caption_fixtures.f32(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.3 * gscale)
        v = caption_fixtures.f32(torch.rand(p.shape, generator=gen, dtype=torch.float64) * gscale ** 2 * 1e-2
                                 + 1e-3 * gscale ** 2)
        state[n] = (m, v)
    loss3, _, grads3 = scst.scst_update(model, fc, att, labels, adv, LR, CLIP, adam_state=state)
    assert float(loss3) == float(loss) and all(torch.equal(grads3[n], grads[n]) for n in grads)
    after3 = {n: p.detach().clone() for n, p in model.named_parameters()}

    tensors = {}

    def put_f(name, t):
        if name in tensors:
            raise KeyError("duplicate tensor " + name)
        tensors[name] = safetensors_io.from_torch(t.detach().to(torch.float32), "F32")

    def put_i(name, t):
        tensors[name] = safetensors_io.from_torch(t.detach().to(torch.int32), "I32")

    names = list(before)
    for name in names:
        put_f(name, before[name])
        put_f("grad." + name, grads[name])
        put_f("adam0." + name, after0[name])
        put_f("m3." + name, state[name][0])
        put_f("v3." + name, state[name][1])
        put_f("adam3." + name, after3[name])
    if attention is not None:
        # ∂loss/∂alpha_net.bias = Σ ∂loss/∂score is 0 in exact arithmetic (softmax ignores a shift);
        # its error is measured against the size of the terms summed, max|∂loss/∂score|.
        put_f("floor.core.attention.alpha_net.bias", torch.tensor([max(s.grad.abs().max().item() for s in scores)]))
    put_f("batch.fc", fc)
    put_f("batch.att", att)
    put_i("batch.labels", labels)
    put_f("scst.rewards", torch.tensor(REWARDS, dtype=torch.float64))
    put_f("scst.adv", adv)
    put_f("out.loss", loss.reshape(1))
    put_f("floor.loss", scst.scst_loss(logprobs, labels, adv.abs()).reshape(1))

    meta = {
        "vtag.model": model_type,
        "vtag.config": json.dumps(dict(model=model_type, **cfg.to_dict())),
        "vtag.params": json.dumps(names),
        "vtag.reference": "reference/scst_fixtures.py",
        "scst.lr": repr(LR),
        "scst.clip": repr(CLIP),
        "scst.sample_n": str(SAMPLE_N),
        "scst.warm_step": str(WARM_STEP),
        "torch": torch.__version__,
        "seed": str(seed),
    }
    path = os.path.join(out_dir, "scst_%s.safetensors" % model_type)
    tmp = path + ".tmp"
    safetensors_io.save(tmp, tensors, meta)
    os.replace(tmp, path)
    gaps = "maxout gap %.2g" % model.core.gap if hasattr(model.core, "gap") else "ReLU gap %.2g" % model.relu_gap
    print("%s: %d tensors, loss %.6f, max|grad| %.3g, %d of %d elements clipped, %s"
          % (path, len(tensors), loss.item(), allg.abs().max().item(), clipped, allg.numel(), gaps))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for scst_<model>.safetensors")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # deterministic sums whatever the machine
    for i, model_type in enumerate(models.MODEL_TYPES):
        make(model_type, args.out, SEED + i)


if __name__ == "__main__":
    main()
