#!/usr/bin/python3
"""PyTorch reference of SPEC §4's self-critical step (vtag_scst_*): advantages against the greedy or
the mean-of-other-samples baseline, the policy-gradient loss from teacher-forced log-probabilities
(reference/models.py's forward), and one update: zero grad, backward, clip elements, Adam.

Run with Debian's /usr/bin/python3 and python3-torch:  scst.py --selftest
"""
import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

BASELINES = ("greedy", "mean")


def advantages(rewards, greedy, n, baseline):
    """rewards [B·n] (image i's samples at i·n … i·n+n−1), greedy [B] (unused for "mean").
    greedy: r − greedy[i]; mean ("new self-critical"): r − mean of image i's other n−1 rewards."""
    r = torch.as_tensor(rewards, dtype=torch.float64).reshape(-1, n)
    if baseline == "greedy":
        base = torch.as_tensor(greedy, dtype=torch.float64).reshape(-1, 1).expand_as(r)
    elif baseline == "mean":
        if n < 2:
            raise ValueError("the mean baseline needs n >= 2")
        base = (r.sum(dim=1, keepdim=True) - r) / (n - 1)
    else:
        raise ValueError("unknown baseline %r (greedy, mean)" % baseline)
    return (r - base).reshape(-1)


def scst_mask(labels, dtype):
    """[B, L+1]: each row's labels plus one EOS (the positions vtag_model_xe_weighted counts)."""
    length = labels.shape[1]
    lengths = models.caption_lengths(labels)
    return (torch.arange(length + 1).unsqueeze(0) <= lengths.unsqueeze(1)).to(dtype)


def scst_loss(logprobs, labels, adv):
    """−Σ_b adv_b Σ_t mask·log p(target) / Σ mask: logprobs [B, L+1, V+1] teacher-forced on the
    sampled captions labels [B, L] (0-padded), target = the caption then EOS, adv [B]."""
    b = labels.shape[0]
    target = torch.cat([labels, labels.new_zeros(b, 1)], dim=1)
    mask = scst_mask(labels, logprobs.dtype)
    picked = logprobs.gather(2, target.unsqueeze(2)).squeeze(2)
    adv = torch.as_tensor(adv, dtype=logprobs.dtype).reshape(b, 1)
    return -(picked * mask * adv).sum() / mask.sum()


def scst_update(model, fc, att, labels, adv, lr=5e-5, clip=0.1, adam_state=None):
    """One SCST update as vtag_scst_step does it (dropout as the model's mode says): zero grad,
    loss backward, gradient elements clamped to ±clip, one torch.optim.Adam step (0.9, 0.999, 1e-8).
    adam_state (optional): {param name: (exp_avg, exp_avg_sq)} and "step" (updates taken so far),
    to continue from a warm optimiser. Returns (loss, logprobs, {name: gradient before clipping})."""
    params = dict(model.named_parameters())
    opt = torch.optim.Adam(params.values(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    if adam_state is not None:
        for name, p in params.items():
            m, v = adam_state[name]
            opt.state[p] = {"step": torch.tensor(float(adam_state["step"])),
                            "exp_avg": m.clone().to(p.dtype), "exp_avg_sq": v.clone().to(p.dtype)}
    opt.zero_grad()
    logprobs = model(fc, att, labels)
    loss = scst_loss(logprobs, labels, adv)
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in params.items()}
    if clip > 0:
        torch.nn.utils.clip_grad_value_(params.values(), clip)
    opt.step()
    return loss.detach(), logprobs.detach(), grads


# ---- self-test ------------------------------------------------------------------------------------------

def _adam_by_hand(p, g, m, v, step, lr, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.Adam's update written out (the formula vtag_adam_update_flat uses)."""
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
    return p - lr / bc1 * m / (v.sqrt() / math.sqrt(bc2) + eps)


def selftest():
    failures = 0

    def check(ok, what):
        nonlocal failures
        print("  %-4s %s" % ("ok" if ok else "FAIL", what))
        failures += not ok

    # Advantages: rewards 1, 2, 4 — greedy baseline 1.5, or the mean of the other two.
    a = advantages([1.0, 2.0, 4.0], [1.5], 3, "greedy").tolist()
    check(a == [-0.5, 0.5, 2.5], "greedy baseline: 1, 2, 4 − 1.5 = −0.5, 0.5, 2.5")
    a = advantages([1.0, 2.0, 4.0], None, 3, "mean").tolist()
    check(a == [-2.0, -0.5, 2.5], "mean baseline: 1 − 3, 2 − 2.5, 4 − 1.5 = −2, −0.5, 2.5")

    # The hand case of tests/caption/test_scst.c: uniform log p = −log 3 over V+1 = 3 classes,
    # caption A = [1] + EOS, B = [2, 1] + EOS, advantages −0.5, 0.5: 0.1·log 3.
    labels = torch.tensor([[1, 0, 0], [2, 1, 0]])
    lp = torch.full((2, 4, 3), -math.log(3.0), dtype=torch.float64)
    loss = scst_loss(lp, labels, [-0.5, 0.5]).item()
    check(abs(loss - 0.1 * math.log(3.0)) < 1e-15, "hand case: loss = 0.1·log 3")
    # With all advantages 1 the loss is the XE loss.
    lp = torch.randn(2, 4, 3, dtype=torch.float64).log_softmax(dim=2)
    check(abs(scst_loss(lp, labels, [1.0, 1.0]).item() - models.xe_loss(lp, labels).item()) < 1e-15,
          "advantages 1 give models.xe_loss")

    # gradcheck through a model, and the update against Adam written out (fresh and warm state).
    torch.manual_seed(3)
    cfg = models._tiny_config()
    for mt in models.MODEL_TYPES:
        model = models.build(mt, cfg)
        fc = torch.randn(3, cfg.fc_feat_size, dtype=torch.float64)
        att = torch.randn(3, 2, cfg.att_feat_size, dtype=torch.float64)
        seqs = torch.tensor([[2, 5, 1], [4, 0, 0], [0, 0, 0]])
        adv = [0.7, -1.3, 0.4]
        names = [n for n, _ in model.named_parameters()]
        params = tuple(p.detach().clone().requires_grad_(True) for p in model.parameters())

        def loss_of(*ps):
            from torch.nn.utils import stateless
            out = stateless.functional_call(model, dict(zip(names, ps)), (fc, att, seqs))
            return scst_loss(out, seqs, adv)

        check(torch.autograd.gradcheck(loss_of, params, eps=1e-6, atol=1e-7, rtol=1e-5),
              "%s: gradcheck of the SCST loss (signed advantages, float64)" % mt)
        for warm in (False, True):
            before = {n: p.detach().clone() for n, p in model.named_parameters()}
            state = None
            if warm:
                state = {n: (torch.randn_like(p) * 0.01, torch.rand_like(p) * 1e-4) for n, p in before.items()}
                state["step"] = 3
            _, _, grads = scst_update(model, fc, att, seqs, adv, lr=1e-3, clip=0.05, adam_state=state)
            worst = 0.0
            for n, p in model.named_parameters():
                m, v = state[n] if warm else (torch.zeros_like(p), torch.zeros_like(p))
                want = _adam_by_hand(before[n], grads[n].clamp(-0.05, 0.05), m, v, 4 if warm else 1, 1e-3)
                worst = max(worst, (p.detach() - want).abs().max().item())
            check(worst < 1e-15, "%s: update = clip then Adam written out (%s state), max diff %.1e"
                  % (mt, "warm" if warm else "fresh", worst))
    print("%d failed" % failures)
    return failures == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--selftest", action="store_true", help="run the self-test and exit")
    args = ap.parse_args()
    if args.selftest:
        torch.set_num_threads(1)
        return 0 if selftest() else 1
    ap.error("nothing to do (--selftest; fixtures: reference/scst_fixtures.py)")
    return 2


if __name__ == "__main__":
    sys.exit(main())
