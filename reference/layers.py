#!/usr/bin/python3
"""PyTorch reference for tests/nn/test_parity.c: builds every layer of include/vtag/nn.h with
fixed weights and a fixed batch, and writes inputs, outputs, upstream gradients and all gradients.

Every input and weight is drawn, rounded to float32 and used in float64, so the stored
(float32-rounded) outputs and gradients are exact references for the same float32 inputs.
The loss of each layer is sum(out * G) for a fixed random G (stored as "<layer>.G..."), except
the masked NLL, whose loss is scaled by a stored dloss. Run with Debian's /usr/bin/python3 and
python3-torch:  layers.py --out layers.safetensors
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

SEED = 20240607

# Sizes: neither square nor tiny, all different, so a transposed or swapped
# dimension cannot go unnoticed.
ROWS = 6    # T·B rows of the row-wise layers
BATCH = 3   # N of the recurrent cells and attention
E = 7       # input size of the maxout core
EL = 13     # input size of the LSTM cell
R = 5       # rnn_size
A = 7       # att_hid_size
D = 13      # att feature size
K = 6       # attention positions
V = 11      # vocabulary (logit) size
DROP_P = 0.3


def f32(t):
    """Rounds to float32 and returns float64, so the reference sees exactly what C sees."""
    return t.detach().to(torch.float32).to(torch.float64)


def randn(*shape, scale=1.0):
    return f32(torch.randn(*shape, dtype=torch.float64) * scale)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def round_params(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(f32(p))
    return module


class Fixture:
    def __init__(self):
        self.tensors = {}

    def f(self, name, t):
        if name in self.tensors:
            raise KeyError("duplicate tensor " + name)
        self.tensors[name] = safetensors_io.from_torch(t.detach().to(torch.float32), "F32")

    def i(self, name, t):
        self.tensors[name] = safetensors_io.from_torch(t.detach().to(torch.int32), "I32")


def check_close(what, a, b, tol=1e-12):
    err = (a - b).abs().max().item()
    if err > tol:
        raise AssertionError("%s: internal cross-check failed (%g)" % (what, err))


def linear(fx):
    x = leaf(randn(ROWS, EL))
    lin = round_params(nn.Linear(EL, E))
    out = lin(x)
    G = randn(ROWS, E)
    (out * G).sum().backward()
    for n, t in [("x", x), ("w", lin.weight), ("b", lin.bias), ("out", out), ("G", G),
                 ("dx", x.grad), ("dw", lin.weight.grad), ("db", lin.bias.grad)]:
        fx.f("linear." + n, t)


def embedding(fx):
    emb = round_params(nn.Embedding(V, R))
    ids = torch.tensor([3, 0, V - 1, 3, 7, 3])  # repeats accumulate; both ends of [0, V)
    out = emb(ids)
    G = randn(ROWS, R)
    (out * G).sum().backward()
    fx.f("embedding.w", emb.weight)
    fx.i("embedding.ids", ids)
    fx.f("embedding.out", out)
    fx.f("embedding.G", G)
    fx.f("embedding.dw", emb.weight.grad)


def relu(fx, name, rows, cols):
    x0 = randn(rows, cols)
    x0[0, 0] = 0.0  # exact zeros: torch's gradient there is 0, as is vtag's [out > 0]
    x0[2, 5] = 0.0
    x = leaf(x0)
    out = F.relu(x)
    G = randn(rows, cols)
    (out * G).sum().backward()
    for n, t in [("x", x), ("out", out), ("G", G), ("dx", x.grad)]:
        fx.f(name + "." + n, t)


def dropout(fx, name, rows, cols):
    # vtag's mask comes from its own RNG, so torch is fed a fixed mask of the
    # same form (0 or 1/(1-p)); out = x * mask is what F.dropout computes.
    x = leaf(randn(rows, cols))
    keep = torch.rand(rows, cols) >= DROP_P
    keep[0, :3] = torch.tensor([False, True, False])
    mask = f32(keep.to(torch.float64) * (1.0 / (1.0 - DROP_P)))
    out = x * mask
    G = randn(rows, cols)
    (out * G).sum().backward()
    fx.f(name + ".p", torch.tensor([DROP_P]))
    for n, t in [("x", x), ("mask", mask), ("out", out), ("G", G), ("dx", x.grad)]:
        fx.f(name + "." + n, t)


def maxout_core(a, c_prev):
    """self-critical.pytorch FCModel.LSTMCore after all_input_sums."""
    R = c_prev.size(1)
    sigmoid_chunk = torch.sigmoid(a.narrow(1, 0, 3 * R))
    in_gate = sigmoid_chunk.narrow(1, 0, R)
    forget_gate = sigmoid_chunk.narrow(1, R, R)
    out_gate = sigmoid_chunk.narrow(1, 2 * R, R)
    in_transform = torch.max(a.narrow(1, 3 * R, R), a.narrow(1, 4 * R, R))
    next_c = forget_gate * c_prev + in_gate * in_transform
    tanh_c = torch.tanh(next_c)
    next_h = out_gate * tanh_c
    # vtag's cache layout [N, 5R]: i, f, o, in, tanh(c)
    cache = torch.cat([in_gate, forget_gate, out_gate, in_transform, tanh_c], dim=1)
    return next_h, next_c, cache


def maxout_lstm(fx):
    x = leaf(randn(BATCH, E))
    h_prev = leaf(randn(BATCH, R, scale=0.5))
    c_prev = leaf(randn(BATCH, R))
    i2h = round_params(nn.Linear(E, 5 * R))
    h2h = round_params(nn.Linear(R, 5 * R))
    a = i2h(x) + h2h(h_prev)
    a.retain_grad()
    gap = (a[:, 3 * R:4 * R] - a[:, 4 * R:5 * R]).abs().min().item()
    if gap < 1e-3:  # float32 rounding in C must not flip which half wins
        raise AssertionError("maxout halves too close (%g); change SEED" % gap)
    h, c, cache = maxout_core(a, c_prev)
    Gh, Gc = randn(BATCH, R), randn(BATCH, R)
    ((h * Gh).sum() + (c * Gc).sum()).backward()
    for n, t in [("cache", cache), ("x", x), ("h_prev", h_prev), ("c_prev", c_prev),
                 ("i2h_w", i2h.weight), ("i2h_b", i2h.bias), ("h2h_w", h2h.weight), ("h2h_b", h2h.bias),
                 ("a", a), ("h", h), ("c", c), ("Gh", Gh), ("Gc", Gc),
                 ("da", a.grad), ("dx", x.grad), ("dh_prev", h_prev.grad), ("dc_prev", c_prev.grad),
                 ("di2h_w", i2h.weight.grad), ("di2h_b", i2h.bias.grad),
                 ("dh2h_w", h2h.weight.grad), ("dh2h_b", h2h.bias.grad)]:
        fx.f("maxout." + n, t)


def maxout_given_a(fx, name, n, r):
    """The core alone on a given a (so C compares the same floats), with exact
    ties between the two halves: torch.max(a, b) sends half the gradient to each."""
    a0 = randn(n, 5 * r)
    ties = [(0, 0), (1, 2), (2, 4), (2, 1), (n - 1, r - 1)]
    for i, j in ties:
        a0[i, 3 * r + j] = a0[i, 4 * r + j]
    a = leaf(a0)
    c_prev = leaf(randn(n, r))
    h, c, cache = maxout_core(a, c_prev)
    Gh, Gc = randn(n, r), randn(n, r)
    ((h * Gh).sum() + (c * Gc).sum()).backward()
    # Only h used downstream (vtag's dc = NULL).
    a_h, c_prev_h = leaf(a), leaf(c_prev)
    h2, _, _ = maxout_core(a_h, c_prev_h)
    (h2 * Gh).sum().backward()
    # The tie rule itself, checked here rather than trusted.
    left, right = a.grad[:, 3 * r:4 * r], a.grad[:, 4 * r:5 * r]
    if not torch.equal(left[0, 0], right[0, 0]) or left[0, 0].item() == 0.0:
        raise AssertionError("torch.max did not split the tie gradient")
    for k, t in [("a", a), ("c_prev", c_prev), ("h", h), ("c", c), ("cache", cache), ("Gh", Gh), ("Gc", Gc),
                 ("da", a.grad), ("dc_prev", c_prev.grad),
                 ("da_honly", a_h.grad), ("dc_prev_honly", c_prev_h.grad)]:
        fx.f(name + "." + k, t)


def lstm_by_hand(gates, cp):
    """nn.LSTMCell after the gate pre-activations (gate order i, f, g, o)."""
    i, f, g, o = gates.chunk(4, 1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * cp + i * g
    tanh_c = torch.tanh(c)
    # vtag's cache layout [N, 5R]: i, f, g, o, tanh(c)
    return o * tanh_c, c, torch.cat([i, f, g, o, tanh_c], dim=1)


def lstm_given_gates(fx, name, n, r):
    """The LSTM cell's element-wise part alone, on given gate pre-activations."""
    gates = leaf(randn(n, 4 * r))
    c_prev = leaf(randn(n, r))
    h, c, cache = lstm_by_hand(gates, c_prev)
    Gh, Gc = randn(n, r), randn(n, r)
    ((h * Gh).sum() + (c * Gc).sum()).backward()
    gates_h, c_prev_h = leaf(gates), leaf(c_prev)
    h2, _, _ = lstm_by_hand(gates_h, c_prev_h)
    (h2 * Gh).sum().backward()
    for k, t in [("gates", gates), ("c_prev", c_prev), ("h", h), ("c", c), ("cache", cache),
                 ("Gh", Gh), ("Gc", Gc), ("dgates", gates.grad), ("dc_prev", c_prev.grad),
                 ("dgates_honly", gates_h.grad), ("dc_prev_honly", c_prev_h.grad)]:
        fx.f(name + "." + k, t)


def lstm(fx):
    x = leaf(randn(BATCH, EL))
    h_prev = leaf(randn(BATCH, R, scale=0.5))
    c_prev = leaf(randn(BATCH, R))
    cell = round_params(nn.LSTMCell(EL, R))
    h, c = cell(x, (h_prev, c_prev))
    Gh, Gc = randn(BATCH, R), randn(BATCH, R)
    ((h * Gh).sum() + (c * Gc).sum()).backward()

    # The same cell by hand, for the gate pre-activations, the cache and their
    # gradient (diagnostics for the C side), cross-checked against nn.LSTMCell.
    gates = leaf(F.linear(x, cell.weight_ih, cell.bias_ih) + F.linear(h_prev, cell.weight_hh, cell.bias_hh))
    cp = leaf(c_prev)
    h2, c2, cache = lstm_by_hand(gates, cp)
    ((h2 * Gh).sum() + (c2 * Gc).sum()).backward()
    check_close("lstm h", h, h2)
    check_close("lstm c", c, c2)
    check_close("lstm dc_prev", c_prev.grad, cp.grad)
    check_close("lstm dx", x.grad, gates.grad @ cell.weight_ih.detach())
    check_close("lstm dw_hh", cell.weight_hh.grad, gates.grad.t() @ h_prev.detach())
    for n, t in [("x", x), ("h_prev", h_prev), ("c_prev", c_prev),
                 ("w_ih", cell.weight_ih), ("b_ih", cell.bias_ih),
                 ("w_hh", cell.weight_hh), ("b_hh", cell.bias_hh),
                 ("gates", gates), ("h", h), ("c", c), ("cache", cache), ("Gh", Gh), ("Gc", Gc),
                 ("dgates", gates.grad), ("dx", x.grad), ("dh_prev", h_prev.grad),
                 ("dc_prev", c_prev.grad), ("dw_ih", cell.weight_ih.grad), ("db_ih", cell.bias_ih.grad),
                 ("dw_hh", cell.weight_hh.grad), ("db_hh", cell.bias_hh.grad)]:
        fx.f("lstm." + n, t)


class Attention(nn.Module):
    """self-critical.pytorch AttModel.Attention (no att_masks)."""

    def __init__(self, rnn_size, att_hid_size):
        super().__init__()
        self.att_hid_size = att_hid_size
        self.h2att = nn.Linear(rnn_size, att_hid_size)
        self.alpha_net = nn.Linear(att_hid_size, 1)

    def forward(self, h, att_feats, p_att_feats):
        att_size = att_feats.numel() // att_feats.size(0) // att_feats.size(-1)
        att = p_att_feats.view(-1, att_size, self.att_hid_size)
        att_h = self.h2att(h).unsqueeze(1).expand_as(att)
        dot = torch.tanh(att + att_h)
        self.dot = dot
        score = self.alpha_net(dot.view(-1, self.att_hid_size)).view(-1, att_size)
        score.retain_grad()
        self.score = score
        weight = F.softmax(score, dim=1)
        self.weight = weight
        att_feats_ = att_feats.view(-1, att_size, att_feats.size(-1))
        return torch.bmm(weight.unsqueeze(1), att_feats_).squeeze(1)


def attention(fx, name, n, k, d, r, a):
    h = leaf(randn(n, r))
    att = leaf(randn(n, k, d))
    p_att = leaf(randn(n, k, a, scale=0.7))
    m = round_params(Attention(r, a))
    with torch.no_grad():  # a wider spread of scores than the default init gives
        m.alpha_net.weight.copy_(randn(1, a, scale=(7.0 / a) ** 0.5))
    out = m(h, att, p_att)
    G = randn(n, d)
    (out * G).sum().backward()
    # dscore is stored because d(alpha_net.bias) = sum(dscore) is 0 in exact
    # arithmetic: the C test scales that tensor's error by max|dscore|.
    for key, t in [("h", h), ("att", att), ("p_att", p_att),
                   ("h2att_w", m.h2att.weight), ("h2att_b", m.h2att.bias),
                   ("alpha_w", m.alpha_net.weight), ("alpha_b", m.alpha_net.bias),
                   ("out", out), ("dot", m.dot), ("alpha", m.weight), ("G", G),
                   ("dh", h.grad), ("datt", att.grad), ("dp_att", p_att.grad),
                   ("dh2att_w", m.h2att.weight.grad), ("dh2att_b", m.h2att.bias.grad),
                   ("dalpha_w", m.alpha_net.weight.grad), ("dalpha_b", m.alpha_net.bias.grad),
                   ("dscore", m.score.grad)]:
        fx.f(name + "." + key, t)


def logsoftmax(fx, name, n, v):
    logits = leaf(randn(n, v, scale=2.0))
    out = F.log_softmax(logits, dim=1)
    G = randn(n, v)
    (out * G).sum().backward()
    for key, t in [("logits", logits), ("out", out), ("G", G), ("dlogits", logits.grad)]:
        fx.f(name + "." + key, t)


def nll(fx, name, n, v):
    logits = leaf(randn(n, v, scale=2.0))
    target = torch.randint(0, v, (n,))
    target[0], target[n - 1] = 0, v - 1  # both ends of [0, V)
    mask = (torch.rand(n) < 0.7).to(torch.float64)
    mask[0], mask[1], mask[2] = 1.0, 1.0, 0.0
    dloss = 0.75
    logprobs = F.log_softmax(logits, dim=1)
    logprobs.retain_grad()
    picked = logprobs.gather(1, target.unsqueeze(1)).squeeze(1)
    loss = -(picked * mask).sum() / mask.sum()
    (loss * dloss).backward()
    loss_nomask = -picked.mean()
    fx.i(name + ".target", target)
    for key, t in [("logits", logits), ("mask", mask), ("dloss", torch.tensor([dloss])),
                   ("logprobs", logprobs), ("loss", loss.reshape(1)), ("loss_nomask", loss_nomask.reshape(1)),
                   ("dlogprobs", logprobs.grad), ("dlogits", logits.grad)]:
        fx.f(name + "." + key, t)


def concat_split(fx):
    dims = [E, EL, R]
    xs = [leaf(randn(ROWS, d)) for d in dims]
    out = torch.cat(xs, dim=1)
    G = randn(ROWS, sum(dims))
    (out * G).sum().backward()
    for j, x in enumerate(xs):
        fx.f("concat.x%d" % j, x)
        fx.f("concat.dx%d" % j, x.grad)
    fx.f("concat.out", out)
    fx.f("concat.G", G)

    x = leaf(randn(ROWS, sum(dims)))
    outs = torch.split(x, dims, dim=1)
    Gs = [randn(ROWS, d) for d in dims]
    sum((o * g).sum() for o, g in zip(outs, Gs)).backward()
    # The middle piece unused: its slice of the gradient stays zero.
    xp = leaf(x)
    outs_p = torch.split(xp, dims, dim=1)
    ((outs_p[0] * Gs[0]).sum() + (outs_p[2] * Gs[2]).sum()).backward()
    fx.f("split.x", x)
    for j, (o, g) in enumerate(zip(outs, Gs)):
        fx.f("split.out%d" % j, o)
        fx.f("split.G%d" % j, g)
    fx.f("split.dx", x.grad)
    fx.f("split.dx_partial", xp.grad)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="safetensors file to write")
    args = ap.parse_args()

    torch.manual_seed(SEED)
    torch.set_default_dtype(torch.float64)
    fx = Fixture()
    linear(fx)
    embedding(fx)
    relu(fx, "relu", ROWS, EL)
    dropout(fx, "dropout", ROWS, EL)
    maxout_lstm(fx)
    maxout_given_a(fx, "maxout_tie", BATCH, R)
    lstm(fx)
    lstm_given_gates(fx, "lstm_core", BATCH, R)
    attention(fx, "attention", BATCH, K, D, R, A)
    logsoftmax(fx, "logsoftmax", ROWS, V)
    nll(fx, "nll", ROWS, V)
    concat_split(fx)
    # Training-sized cases, so that the element-wise loops are large enough to
    # be split over threads (the small ones above run on one thread whatever
    # the thread count): 1 and 2 threads must both match.
    relu(fx, "relu_big", 400, 250)
    dropout(fx, "dropout_big", 400, 250)
    maxout_given_a(fx, "maxout_big", 80, 512)
    lstm_given_gates(fx, "lstm_big", 80, 512)
    attention(fx, "attention_big", 20, 49, 96, 64, 160)
    logsoftmax(fx, "logsoftmax_big", 160, 1001)
    nll(fx, "nll_big", 160, 1001)

    tmp = args.out + ".tmp"
    safetensors_io.save(tmp, fx.tensors, {"vtag.reference": "reference/layers.py",
                                          "torch": torch.__version__, "seed": str(SEED)})
    os.replace(tmp, args.out)
    print("%s: %d tensors" % (args.out, len(fx.tensors)))


if __name__ == "__main__":
    main()
