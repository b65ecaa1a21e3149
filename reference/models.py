#!/usr/bin/python3
"""PyTorch reference of SPEC §3's caption models (fc, att2in, topdown) in self-critical.pytorch's
conventions: teacher-forced log-probabilities, the XE loss of §4, and greedy decoding.

state_dict() keys are the SPEC §3 parameter names, so a vtag checkpoint loads with strict=True.
Run with Debian's /usr/bin/python3 and python3-torch:
  models.py --checkpoint M.safetensors --feats F.safetensors [--compare vtag_caption.jsonl]
      greedy captions of every feature row, one JSON line each, as `vtag caption --json` writes
      them ({"item", "row", "tokens", "logprobs"}); --compare checks them against vtag's output.
  models.py --selftest
      gradcheck of every model in float64, SPEC names and shapes, decode/XE consistency.
"""
import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

MODEL_TYPES = ("fc", "att2in", "topdown")
CONFIG_KEYS = ("vocab_size", "input_encoding_size", "rnn_size", "att_hid_size", "fc_feat_size",
               "att_feat_size", "max_length", "drop_prob_lm")


class Config:
    """The sizes of SPEC §3 (vtag_model_config): V, E, R, A, D_fc, D_att, max_length, dropout."""

    def __init__(self, vocab_size, input_encoding_size=512, rnn_size=512, att_hid_size=512,
                 fc_feat_size=0, att_feat_size=0, max_length=16, drop_prob_lm=0.5):
        self.vocab_size = int(vocab_size)
        self.input_encoding_size = int(input_encoding_size)
        self.rnn_size = int(rnn_size)
        self.att_hid_size = int(att_hid_size)
        self.fc_feat_size = int(fc_feat_size)
        self.att_feat_size = int(att_feat_size)
        self.max_length = int(max_length)
        self.drop_prob_lm = float(drop_prob_lm)

    @classmethod
    def from_json(cls, text):
        """vtag_model_config_from_json's reading: vocab_size required, the other sizes default
        as in vtag_model_config_defaults; "model" (if present) is returned as well."""
        d = json.loads(text)
        if not isinstance(d, dict) or "vocab_size" not in d:
            raise ValueError("vtag.config is not a JSON object with vocab_size")
        return cls(**{k: d[k] for k in CONFIG_KEYS if k in d}), d.get("model")

    def to_dict(self):
        return {k: getattr(self, k) for k in CONFIG_KEYS}


# ---- building blocks ------------------------------------------------------------------------------

class Attention(nn.Module):
    """Additive attention: score_k = alpha_net(tanh(p_att_k + h2att(h))), ctx = Σ_k softmax(score)_k att_k.
    With record = a list, each step's scores are appended (with retain_grad) for diagnostics."""

    def __init__(self, rnn_size, att_hid_size):
        super().__init__()
        self.h2att = nn.Linear(rnn_size, att_hid_size)
        self.alpha_net = nn.Linear(att_hid_size, 1)
        self.record = None

    def forward(self, h, att, p_att):
        # h [B, R], att [B, K, D], p_att [B, K, A]
        dot = torch.tanh(p_att + self.h2att(h).unsqueeze(1))   # [B, K, A]
        score = self.alpha_net(dot).squeeze(2)                  # [B, K]
        if self.record is not None and score.requires_grad:
            score.retain_grad()
            self.record.append(score)
        alpha = F.softmax(score, dim=1)
        return torch.bmm(alpha.unsqueeze(1), att).squeeze(1)   # [B, D]


def maxout_cell(a, c_prev, r):
    """FCModel.LSTMCore after all_input_sums a [B, 5R]: gates i, f, o; cell input max of two halves."""
    gates = torch.sigmoid(a[:, :3 * r])
    i, f, o = gates[:, :r], gates[:, r:2 * r], gates[:, 2 * r:3 * r]
    cell_in = torch.max(a[:, 3 * r:4 * r], a[:, 4 * r:5 * r])
    c = f * c_prev + i * cell_in
    return o * torch.tanh(c), c


class MaxoutCore(nn.Module):
    """The maxout LSTM of fc (att_feat_size = 0) and att2in (attention on h_{t-1}, a2c into the
    2R cell-input slice only). `gap` collects min |a[3R:4R] − a[4R:5R]| (fixtures check it)."""

    def __init__(self, cfg, with_attention):
        super().__init__()
        e, r = cfg.input_encoding_size, cfg.rnn_size
        self.r = r
        self.i2h = nn.Linear(e, 5 * r)
        self.h2h = nn.Linear(r, 5 * r)
        if with_attention:
            self.a2c = nn.Linear(cfg.att_feat_size, 2 * r)
            self.attention = Attention(r, cfg.att_hid_size)
        self.dropout = nn.Dropout(cfg.drop_prob_lm)
        self.gap = math.inf

    def forward(self, x, state, att=None, p_att=None):
        h_prev, c_prev = state
        a = self.i2h(x) + self.h2h(h_prev)
        if att is not None:
            ctx = self.attention(h_prev, att, p_att)
            a = torch.cat([a[:, :3 * self.r], a[:, 3 * self.r:] + self.a2c(ctx)], dim=1)
        r = self.r
        self.gap = min(self.gap, (a[:, 3 * r:4 * r] - a[:, 4 * r:]).abs().min().item())
        h, c = maxout_cell(a, c_prev, r)
        return self.dropout(h), (h, c)


class TopDownCore(nn.Module):
    """Two nn.LSTMCell: att_lstm([h2_prev, fc_emb, x]) then attention(h1), lang_lstm([ctx, h1])."""

    def __init__(self, cfg):
        super().__init__()
        e, r = cfg.input_encoding_size, cfg.rnn_size
        self.att_lstm = nn.LSTMCell(2 * r + e, r)
        self.lang_lstm = nn.LSTMCell(2 * r, r)
        self.attention = Attention(r, cfg.att_hid_size)
        self.dropout = nn.Dropout(cfg.drop_prob_lm)

    def forward(self, x, state, fc_emb, att, p_att):
        (h1, c1), (h2, c2) = state
        h1, c1 = self.att_lstm(torch.cat([h2, fc_emb, x], dim=1), (h1, c1))
        ctx = self.attention(h1, att, p_att)
        h2, c2 = self.lang_lstm(torch.cat([ctx, h1], dim=1), (h2, c2))
        return self.dropout(h2), ((h1, c1), (h2, c2))


# ---- the three models -----------------------------------------------------------------------------

class CaptionModel(nn.Module):
    """Common driver. A subclass provides prepare(fc, att) -> features, init_state(features, B)
    (which for fc runs the image step), and step(tokens, features, state) -> (output, state)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.logit = nn.Linear(cfg.rnn_size, cfg.vocab_size + 1)

    def logprobs_step(self, tokens, feats, state):
        out, state = self.step(tokens, feats, state)
        return F.log_softmax(self.logit(out), dim=1), state

    def forward(self, fc, att, labels):
        """Teacher forcing: input BOS then labels[:, :L], output [B, L+1, V+1] log-probabilities.
        Every position is computed (also after a row's end; the loss masks them)."""
        b, length = labels.shape
        feats = self.prepare(fc, att)
        state = self.init_state(feats, b)
        inputs = torch.cat([labels.new_zeros(b, 1), labels], dim=1)
        out = []
        for t in range(length + 1):
            lp, state = self.logprobs_step(inputs[:, t], feats, state)
            out.append(lp)
        return torch.stack(out, dim=1)

    @torch.no_grad()
    def greedy(self, fc, att, max_length=None):
        """Greedy decoding; an emitted label is never emitted again (its log-probability is set to
        −inf from then on, without renormalising). A row ends at EOS (id 0) or after max_length
        labels. Returns seq [B, L] (0 after the end), seq_logprobs [B, L+1] (the log-probability
        of each emitted label, then of EOS — for a row of L labels the EOS log-probability of the
        step after the last label; 0 after), lengths [B], and the smallest top-1 − top-2 margin
        of any decision (float32 may flip a decision closer than ~1e-5)."""
        length = self.cfg.max_length if max_length is None else max_length
        feats = self.prepare(fc, att)
        b = (fc if fc is not None else att).shape[0]
        state = self.init_state(feats, b)
        dtype = self.logit.weight.dtype
        seq = torch.zeros(b, length, dtype=torch.long)
        seq_lp = torch.zeros(b, length + 1, dtype=dtype)
        lengths = torch.full((b,), length, dtype=torch.long)
        done = torch.zeros(b, dtype=torch.bool)
        blocked = torch.zeros(b, self.cfg.vocab_size + 1, dtype=torch.bool)
        tokens = torch.zeros(b, dtype=torch.long)
        margin = math.inf
        for t in range(length + 1):
            lp, state = self.logprobs_step(tokens, feats, state)
            if t == length:  # rows still running are cut here: record their EOS log-probability
                rows = ~done
                seq_lp[rows, t] = lp[rows, 0]
                break
            masked = lp.masked_fill(blocked, -math.inf)
            top2 = masked.topk(2, dim=1)
            tokens = top2.indices[:, 0]
            live = ~done
            if live.any():
                gaps = top2.values[live, 0] - top2.values[live, 1]
                margin = min(margin, gaps.min().item())
            seq_lp[live, t] = top2.values[live, 0]
            ended = live & (tokens == 0)
            lengths[ended] = t
            emit = live & (tokens != 0)
            seq[emit, t] = tokens[emit]
            blocked[emit, tokens[emit]] = True
            done |= ended
            if done.all():
                break
        return seq, seq_lp, lengths, margin


class FCModel(CaptionModel):
    """Step 0 feeds img_embed(fc) (its output is discarded), step 1 BOS, then the words."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.img_embed = nn.Linear(cfg.fc_feat_size, cfg.input_encoding_size)
        self.core = MaxoutCore(cfg, with_attention=False)
        self.embed = nn.Embedding(cfg.vocab_size + 1, cfg.input_encoding_size)

    def prepare(self, fc, att):
        return fc

    def init_state(self, fc, b):
        z = fc.new_zeros(b, self.cfg.rnn_size)
        _, state = self.core(self.img_embed(fc), (z, z))
        return state

    def step(self, tokens, fc, state):
        return self.core(self.embed(tokens), state)


class Att2inModel(CaptionModel):
    """Maxout core with attention over the raw att features (queried by h_{t-1}); no fc."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.embed = nn.Embedding(cfg.vocab_size + 1, cfg.input_encoding_size)
        self.ctx2att = nn.Linear(cfg.att_feat_size, cfg.att_hid_size)
        self.core = MaxoutCore(cfg, with_attention=True)

    def prepare(self, fc, att):
        return att, self.ctx2att(att)

    def init_state(self, feats, b):
        z = feats[0].new_zeros(b, self.cfg.rnn_size)
        return z, z

    def step(self, tokens, feats, state):
        att, p_att = feats
        return self.core(self.embed(tokens), state, att, p_att)


class TopDownModel(CaptionModel):
    """Anderson et al.'s top-down model: embeddings with ReLU + dropout, two LSTM cells."""

    def __init__(self, cfg):
        super().__init__(cfg)
        e, r, p = cfg.input_encoding_size, cfg.rnn_size, cfg.drop_prob_lm
        self.embed = nn.Sequential(nn.Embedding(cfg.vocab_size + 1, e), nn.ReLU(), nn.Dropout(p))
        self.fc_embed = nn.Sequential(nn.Linear(cfg.fc_feat_size, r), nn.ReLU(), nn.Dropout(p))
        self.att_embed = nn.Sequential(nn.Linear(cfg.att_feat_size, r), nn.ReLU(), nn.Dropout(p))
        self.ctx2att = nn.Linear(r, cfg.att_hid_size)
        self.core = TopDownCore(cfg)
        self.relu_gap = math.inf  # min |pre-ReLU| of fc_embed and att_embed (fixtures check it)

    def prepare(self, fc, att):
        pre_fc, pre_att = self.fc_embed[0](fc), self.att_embed[0](att)
        self.relu_gap = min(pre_fc.abs().min().item(), pre_att.abs().min().item())
        fc_emb = self.fc_embed[2](F.relu(pre_fc))
        att_emb = self.att_embed[2](F.relu(pre_att))
        return fc_emb, att_emb, self.ctx2att(att_emb)

    def init_state(self, feats, b):
        z = feats[0].new_zeros(b, self.cfg.rnn_size)
        return (z, z), (z, z)

    def step(self, tokens, feats, state):
        fc_emb, att_emb, p_att = feats
        return self.core(self.embed(tokens), state, fc_emb, att_emb, p_att)


def build(model_type, cfg, dtype=torch.float64):
    cls = {"fc": FCModel, "att2in": Att2inModel, "topdown": TopDownModel, "updown": TopDownModel}
    if model_type not in cls:
        raise ValueError("unknown model type %r (fc, att2in, topdown)" % model_type)
    return cls[model_type](cfg).to(dtype).eval()


def expected_shapes(model_type, cfg):
    """SPEC §3's parameter table, written out independently of the modules above."""
    v1, e, r, a = cfg.vocab_size + 1, cfg.input_encoding_size, cfg.rnn_size, cfg.att_hid_size
    dfc, datt = cfg.fc_feat_size, cfg.att_feat_size

    def lin(name, out, inp):
        return {name + ".weight": [out, inp], name + ".bias": [out]}

    s = lin("logit", v1, r)
    if model_type == "fc":
        s.update(lin("img_embed", e, dfc))
        s.update(lin("core.i2h", 5 * r, e))
        s.update(lin("core.h2h", 5 * r, r))
        s["embed.weight"] = [v1, e]
    elif model_type == "att2in":
        s["embed.weight"] = [v1, e]
        s.update(lin("ctx2att", a, datt))
        s.update(lin("core.i2h", 5 * r, e))
        s.update(lin("core.h2h", 5 * r, r))
        s.update(lin("core.a2c", 2 * r, datt))
        s.update(lin("core.attention.h2att", a, r))
        s.update(lin("core.attention.alpha_net", 1, a))
    else:
        s["embed.0.weight"] = [v1, e]
        s.update(lin("fc_embed.0", r, dfc))
        s.update(lin("att_embed.0", r, datt))
        s.update(lin("ctx2att", a, r))
        for cell, inp in (("core.att_lstm", 2 * r + e), ("core.lang_lstm", 2 * r)):
            s[cell + ".weight_ih"], s[cell + ".weight_hh"] = [4 * r, inp], [4 * r, r]
            s[cell + ".bias_ih"], s[cell + ".bias_hh"] = [4 * r], [4 * r]
        s.update(lin("core.attention.h2att", a, r))
        s.update(lin("core.attention.alpha_net", 1, a))
    return s


# ---- XE loss ----------------------------------------------------------------------------------------

def caption_lengths(labels):
    """Number of labels before the first 0 of each row; labels after a 0 are rejected."""
    nonzero = labels != 0
    lengths = nonzero.sum(dim=1)
    prefix = torch.arange(labels.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
    if not torch.equal(nonzero, prefix):
        raise ValueError("labels must be 0-padded at the end of each row")
    return lengths


def xe_loss(logprobs, labels):
    """Target: the labels then EOS; mask: the labels plus one EOS per row; mean of −log p."""
    b, length = labels.shape
    target = torch.cat([labels, labels.new_zeros(b, 1)], dim=1)            # [B, L+1]
    mask = (torch.arange(length + 1).unsqueeze(0) <= caption_lengths(labels).unsqueeze(1))
    mask = mask.to(logprobs.dtype)
    picked = logprobs.gather(2, target.unsqueeze(2)).squeeze(2)
    return -(picked * mask).sum() / mask.sum()


# ---- safetensors, fast enough for real checkpoints and feature files ----------------------------------

_DTYPES = {"F32": (torch.float32, 4), "I32": (torch.int32, 4), "I64": (torch.int64, 8)}


def load_safetensors(path):
    """Returns (dict name -> torch tensor, metadata dict); every offset is checked."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: shorter than the 8-byte header length" % path)
    (hlen,) = struct.unpack("<Q", raw[:8])
    if 8 + hlen > len(raw):
        raise ValueError("%s: header length %d past the end of the file" % (path, hlen))
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    data = bytearray(raw[8 + hlen:])
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in _DTYPES:
            raise ValueError("%s: tensor %r has unsupported dtype %s" % (path, name, info["dtype"]))
        dtype, size = _DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        count = math.prod(info["shape"])
        if not 0 <= begin <= end <= len(data) or end - begin != count * size:
            raise ValueError("%s: tensor %r has bad offsets %s" % (path, name, [begin, end]))
        if count == 0:
            t = torch.zeros(0, dtype=dtype)
        else:
            t = torch.frombuffer(data, dtype=dtype, count=count, offset=begin).clone()
        tensors[name] = t.reshape(info["shape"])
    return tensors, meta


def load_checkpoint(path, dtype=torch.float64):
    """A `vtag train` checkpoint: the model (weights strictly by name) and its vocabulary."""
    tensors, meta = load_safetensors(path)
    for key in ("vtag.model", "vtag.config", "vtag.vocab"):
        if key not in meta:
            raise ValueError("%s: metadata %s is missing" % (path, key))
    cfg, cfg_model = Config.from_json(meta["vtag.config"])
    if cfg_model is not None and cfg_model != meta["vtag.model"]:
        raise ValueError("%s: vtag.model is %s, vtag.config says %s" % (path, meta["vtag.model"], cfg_model))
    vocab = json.loads(meta["vtag.vocab"])
    if len(vocab) != cfg.vocab_size:
        raise ValueError("%s: vtag.vocab has %d tokens, vtag.config says %d"
                         % (path, len(vocab), cfg.vocab_size))
    model = build(meta["vtag.model"], cfg, dtype)
    want = model.state_dict()
    for name, t in tensors.items():
        if name in want and list(t.shape) != list(want[name].shape):
            raise ValueError("%s: %s has shape %s, the model needs %s"
                             % (path, name, list(t.shape), list(want[name].shape)))
    model.load_state_dict({k: v.to(dtype) for k, v in tensors.items()}, strict=True)
    return model, vocab, meta


# ---- CLI: greedy captions of a features file ---------------------------------------------------------

def caption_file(model, vocab, feats_path, batch):
    tensors, meta = load_safetensors(feats_path)
    dtype = model.logit.weight.dtype
    fc = tensors.get("fc")
    att = tensors.get("att")
    need_fc = not isinstance(model, Att2inModel)
    need_att = not isinstance(model, FCModel)
    if (need_fc and fc is None) or (need_att and att is None):
        raise ValueError("%s: the model needs %s" % (feats_path, " and ".join(
            n for n, ok in (("fc", need_fc), ("att", need_att)) if ok)))
    n = (fc if fc is not None else att).shape[0]
    items = json.loads(meta.get("vtag.items", "null")) or [None] * n
    if len(items) != n:
        raise ValueError("%s: vtag.items has %d ids for %d rows" % (feats_path, len(items), n))
    rows, margin = [], math.inf
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        fcb = fc[lo:hi].to(dtype) if fc is not None else None
        attb = att[lo:hi].to(dtype) if att is not None else None
        seq, seq_lp, lengths, m = model.greedy(fcb, attb)
        margin = min(margin, m)
        for i in range(hi - lo):
            k = int(lengths[i])
            ids = seq[i, :k].tolist()
            rows.append({"item": items[lo + i], "row": lo + i,
                         "tokens": [vocab[t - 1] for t in ids], "ids": ids,
                         "logprobs": [float(x) for x in seq_lp[i, :k + 1]]})
    return rows, margin


def compare_rows(ours, path, tol):
    """vtag caption's JSON lines against ours: same rows, same tokens, logprobs within tol."""
    with open(path, encoding="utf-8") as f:
        theirs = [json.loads(line) for line in f if line.strip()]
    problems = []
    if len(theirs) != len(ours):
        problems.append("%s has %d lines, the features %d rows" % (path, len(theirs), len(ours)))
    by_row = {r["row"]: r for r in theirs}
    worst = 0.0
    for r in ours:
        t = by_row.get(r["row"])
        if t is None:
            problems.append("row %d: missing from %s" % (r["row"], path))
            continue
        if t.get("item") != r["item"]:
            problems.append("row %d: item %r, reference %r" % (r["row"], t.get("item"), r["item"]))
        if t["tokens"] != r["tokens"]:
            problems.append("row %d: tokens %s, reference %s" % (r["row"], t["tokens"], r["tokens"]))
            continue
        lp = t.get("logprobs", [])
        if len(lp) != len(r["logprobs"]):
            problems.append("row %d: %d logprobs, reference %d" % (r["row"], len(lp), len(r["logprobs"])))
            continue
        for j, (a, b) in enumerate(zip(lp, r["logprobs"])):
            err = abs(a - b) / max(1.0, abs(b))
            worst = max(worst, err)
            if err > tol:
                problems.append("row %d: logprob %d is %.7g, reference %.7g" % (r["row"], j, a, b))
    return problems, worst


# ---- self-test ------------------------------------------------------------------------------------------

def _tiny_config():
    return Config(vocab_size=5, input_encoding_size=3, rnn_size=4, att_hid_size=3, fc_feat_size=3,
                  att_feat_size=2, max_length=3, drop_prob_lm=0.5)


def selftest():
    from torch.nn.utils import stateless
    torch.manual_seed(7)
    failures = 0

    def check(ok, what):
        nonlocal failures
        print("  %-4s %s" % ("ok" if ok else "FAIL", what))
        failures += not ok

    for mt in MODEL_TYPES:
        print(mt)
        cfg = _tiny_config()
        model = build(mt, cfg)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn_like(p) * 0.8)
        shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
        want = expected_shapes(mt, cfg)
        check(shapes == want, "parameter names and shapes are SPEC §3's (%d tensors)" % len(want))
        if mt == "fc":
            v1, e, r, dfc = cfg.vocab_size + 1, cfg.input_encoding_size, cfg.rnn_size, cfg.fc_feat_size
            count = (e * dfc + e) + (5 * r * e + 5 * r) + (5 * r * r + 5 * r) + v1 * e + (v1 * r + v1)
            check(sum(p.numel() for p in model.parameters()) == count,
                  "fc has %d parameters (E·Dfc+E + 5R·E+5R + 5R·R+5R + (V+1)·E + (V+1)·R+V+1)" % count)

        b, k = 2, 3
        fc = torch.randn(b, cfg.fc_feat_size, dtype=torch.float64)
        att = torch.randn(b, k, cfg.att_feat_size, dtype=torch.float64)
        labels = torch.tensor([[2, 5, 1], [4, 0, 0]])
        names = [n for n, _ in model.named_parameters()]
        params = tuple(p.detach().clone().requires_grad_(True) for _, p in model.named_parameters())

        def loss_of(*ps):
            out = stateless.functional_call(model, dict(zip(names, ps)), (fc, att, labels))
            return xe_loss(out, labels)

        check(torch.autograd.gradcheck(loss_of, params, eps=1e-6, atol=1e-7, rtol=1e-5),
              "gradcheck of the XE loss w.r.t. every parameter (float64)")

        # The loss by an independent route: per-row sums of −log p over the caption and its EOS.
        lp = model(fc, att, labels)
        check(list(lp.shape) == [b, cfg.max_length + 1, cfg.vocab_size + 1], "logprobs are [B, L+1, V+1]")
        total, count = 0.0, 0
        for i, row in enumerate(labels.tolist()):
            words = [w for w in row if w != 0] + [0]
            for t, w in enumerate(words):
                total -= lp[i, t, w].item()
                count += 1
        check(abs(xe_loss(lp, labels).item() - total / count) < 1e-12, "XE = mean −log p over labels + EOS")

        # Rows are independent: a row's log-probabilities do not depend on the others.
        lp1 = model(fc[1:], att[1:], labels[1:])
        check(torch.allclose(lp[1:], lp1, atol=1e-12, rtol=0), "rows are independent")

        # Decoding and teacher forcing agree: forcing the greedy captions reproduces their
        # log-probabilities (positions up to and including EOS) and the no-repeat rule holds.
        seq, seq_lp, lengths, _ = model.greedy(fc, att, max_length=cfg.max_length)
        forced = model(fc, att, seq)
        ok, norepeat = True, True
        for i in range(b):
            n = int(lengths[i])
            toks = seq[i, :n].tolist() + [0]
            for t, w in enumerate(toks):
                ok &= abs(forced[i, t, w].item() - seq_lp[i, t].item()) < 1e-12
            norepeat &= len(set(toks[:-1])) == n and 0 not in toks[:-1]
            ok &= bool((seq[i, n:] == 0).all()) and bool((seq_lp[i, n + 1:] == 0).all())
        check(ok, "teacher forcing the greedy captions gives their logprobs")
        check(norepeat, "greedy never repeats a label")

        # A label blocked after emission: make one label dominate every step.
        with torch.no_grad():
            model.logit.bias[3] += 50.0
        seq, seq_lp, lengths, _ = model.greedy(fc, att, max_length=cfg.max_length)
        check(all(int(seq[i, 0]) == 3 and 3 not in seq[i, 1:].tolist() for i in range(b)),
              "a dominant label is emitted once, first")
    print("%d failed" % failures)
    return failures == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", help="vtag checkpoint (safetensors)")
    ap.add_argument("--feats", help="features file (safetensors: fc, att, vtag.items)")
    ap.add_argument("--batch", type=int, default=256, help="rows decoded at once")
    ap.add_argument("--float32", action="store_true", help="compute in float32 (default float64)")
    ap.add_argument("--compare", metavar="JSONL", help="check `vtag caption --json` output against ours")
    ap.add_argument("--tol", type=float, default=1e-4, help="logprob tolerance for --compare")
    ap.add_argument("--selftest", action="store_true", help="run the self-test and exit")
    args = ap.parse_args()
    if args.selftest:
        return 0 if selftest() else 1
    if not args.checkpoint or not args.feats:
        ap.error("--checkpoint and --feats are required (or --selftest)")
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    dtype = torch.float32 if args.float32 else torch.float64
    try:
        model, vocab, _ = load_checkpoint(args.checkpoint, dtype)
        rows, margin = caption_file(model, vocab, args.feats, args.batch)
    except (OSError, ValueError, RuntimeError) as e:
        print("models.py: %s" % e, file=sys.stderr)
        return 2
    if margin < 1e-4:
        print("models.py: warning: a greedy decision was decided by %.2g; float32 may differ" % margin,
              file=sys.stderr)
    if args.compare:
        problems, worst = compare_rows(rows, args.compare, args.tol)
        for p in problems[:20]:
            print("models.py: %s" % p, file=sys.stderr)
        print(json.dumps({"rows": len(rows), "mismatches": len(problems), "max_rel_logprob": worst}))
        return 1 if problems else 0
    for r in rows:
        print(json.dumps(r, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
