"""Hostile checkpoints and training states (issue 14, points 2 and 9).

Point 2: a checkpoint of a few hundred bytes whose vtag.config names a huge
model (rnn_size 8000 or 30000, a size that overflows) or that lacks a tensor
is refused by `vtag caption` and `vtag train --init` with one line naming the
file and the problem, before the model is allocated: peak RSS (GNU time -v,
"Maximum resident set size") stays under 200 MB.

Point 9: every field of vtag.train_state is checked by `vtag train --resume`
(epoch -2^31, 2^40 or past --epochs, rng "zz", Adam beta1 1, eps 0, ...): a
one-line error naming the state file and the field, exit 1.

The files are made with reference/safetensors_io.py (json + struct).
usage: hostile_checkpoint.py VTAG_BINARY WORKDIR"""
import json
import os
import shutil
import signal
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "reference"))
import safetensors_io as st  # noqa: E402

sys.path.insert(0, here)
import corpus  # noqa: E402

vtag, work = sys.argv[1], sys.argv[2]
RSS_LIMIT_KB = 200 * 1024
failures, passes = 0, 0


def check(cond, what):
    global failures, passes
    if cond:
        passes += 1
    else:
        failures += 1
        print("FAIL:", what, flush=True)


def run_timed(args):
    """Runs vtag under /usr/bin/time -v; returns (exit code, stderr lines, max RSS in KiB)."""
    tfile = os.path.join(work, "time.txt")
    p = subprocess.Popen(["/usr/bin/time", "-v", "-o", tfile, vtag] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # e.g. training 2^31 epochs: stop vtag too, not only time
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None, ["(still running after 60 s)"], 0
    rss = 0
    with open(tfile) as f:
        for line in f:
            if "Maximum resident set size" in line:
                rss = int(line.split(":")[1])
    return p.returncode, stderr.splitlines(), rss


def expect_refused(args, path, words, what):
    """exit 1, exactly one stderr line naming path and every word, peak RSS < 200 MB."""
    rc, err, rss = run_timed(args)
    print("%-48s exit %s, max RSS %6.1f MB: %s" % (what, rc, rss / 1024, err[-1][:150] if err else ""), flush=True)
    check(rc == 1, "%s: exit %s (want 1)" % (what, rc))
    check(len(err) == 1, "%s: %d stderr lines (want 1): %r" % (what, len(err), err[-3:]))
    line = err[-1] if err else ""
    check(path in line and all(w in line for w in words), "%s: %r does not name %s and %s" % (what, line, path, words))
    check(rss < RSS_LIMIT_KB, "%s: max RSS %.1f MB (limit 200 MB)" % (what, rss / 1024))


shutil.rmtree(work, ignore_errors=True)
videos, labels, feats, _ = corpus.make(work, seed=3, frames=2)
VOCAB = sorted({w for v in videos for w in [v["class1"], v["class2"]] + v["tags"]})
D_FC = corpus.D_FC


def fc_params(E, R, V):
    """The fc model's tensors and shapes (src/caption/model.c)."""
    return {"img_embed.weight": [E, D_FC], "img_embed.bias": [E], "core.i2h.weight": [5 * R, E],
            "core.i2h.bias": [5 * R], "core.h2h.weight": [5 * R, R], "core.h2h.bias": [5 * R],
            "embed.weight": [V + 1, E], "logit.weight": [V + 1, R], "logit.bias": [V + 1]}


def checkpoint(path, config, tensors=None, vocab=VOCAB):
    meta = {"vtag.model": config.get("model", "fc"), "vtag.config": json.dumps(config), "vtag.vocab": json.dumps(vocab)}
    st.save(path, tensors or {}, meta)
    return path


def config(**kw):
    c = {"model": "fc", "vocab_size": len(VOCAB), "input_encoding_size": 8, "rnn_size": 8, "att_hid_size": 8,
         "fc_feat_size": D_FC, "att_feat_size": 0, "max_length": 6, "drop_prob_lm": 0.5}
    c.update(kw)
    return c


def small_tensors(skip=None, change=None):
    out = {}
    for name, shape in fc_params(8, 8, len(VOCAB)).items():
        if name == skip:
            continue
        n = 1
        for d in shape:
            n *= d
        out[name] = st.Tensor("F32", shape, [0.01] * n)
    if change:
        change(out)
    return out


# ---- point 2: the checkpoint is checked before the model is allocated ----
huge = [("rnn_size 8000", config(rnn_size=8000), ["img_embed.weight", "missing"]),
        ("rnn_size 30000", config(rnn_size=30000), ["parameters"]),
        ("overflowing rnn_size 2^62", config(rnn_size=1 << 62), ["rnn_size"]),
        ("overflowing vocab_size 2^62", config(vocab_size=1 << 62), ["vocab_size"])]
out = os.path.join(work, "out.safetensors")
for what, cfg, words in huge:
    ck = checkpoint(os.path.join(work, "tiny.safetensors"), cfg)
    print("%s: %d bytes" % (what, os.path.getsize(ck)))
    expect_refused(["caption", "--model", ck, "--feats", feats], ck, words, "caption, " + what)
    expect_refused(["train", "--init", ck, "--scst", "--labels", labels, "--feats", feats, "--out", out], ck, words,
                   "train --init, " + what)
    check(not os.path.exists(out), "train --init, %s: no checkpoint written" % what)

ok = checkpoint(os.path.join(work, "ok.safetensors"), config(), small_tensors())
rc, err, rss = run_timed(["caption", "--model", ok, "--feats", feats])
check(rc == 0, "a well-formed small checkpoint is read: %s" % err[-1:])


def scale_nan(t):
    t["logit.bias"].values[3] = float("nan")


def wrong_shape(t):
    t["core.h2h.weight"] = st.Tensor("F32", [40, 4], [0.0] * 160)


def extra(t):
    t["logit.extra"] = st.Tensor("F32", [2], [0.0, 0.0])


bad = [("missing tensor", config(), small_tensors(skip="logit.bias"), ["logit.bias", "missing"]),
       ("wrong shape", config(), small_tensors(change=wrong_shape), ["core.h2h.weight", "[40,4]"]),
       ("extra tensor", config(), small_tensors(change=extra), ["logit.extra", "not a parameter"]),
       ("NaN weight", config(), small_tensors(change=scale_nan), ["logit.bias", "NaN"]),
       ("unknown config field", dict(config(), rnn_sise=8), small_tensors(), ["rnn_sise"]),
       ("negative size", config(input_encoding_size=-8), small_tensors(), ["input_encoding_size"]),
       ("size not an integer", config(rnn_size=8.5), small_tensors(), ["rnn_size"]),
       ("drop_prob_lm 1.5", config(drop_prob_lm=1.5), small_tensors(), ["drop_prob_lm"]),
       ("max_length 10^6", config(max_length=1000000), small_tensors(), ["max_length"]),
       ("unknown model", config(model="rnn"), small_tensors(), ["model"])]
for what, cfg, tensors, words in bad:
    ck = checkpoint(os.path.join(work, "bad.safetensors"), cfg, tensors)
    expect_refused(["caption", "--model", ck, "--feats", feats], ck, words, "caption, " + what)

# ---- point 9: the training state is checked field by field ----
model = os.path.join(work, "m.safetensors")
state = os.path.join(work, "m.state.safetensors")


def train(epochs, resume):
    return ["train", "--labels", labels, "--feats", feats, "--model", "fc", "--out", model, "--epochs", str(epochs),
            "--batch", "16", "--threads", "1", "--input-encoding-size", "8", "--rnn-size", "8", "--max-length", "6"] + (
                ["--resume"] if resume else [])


rc, err, _ = run_timed(train(1, False))
check(rc == 0 and os.path.exists(state), "a one-epoch run writes its state: %s" % err[-1:])
tensors, meta = st.load(state)
good = json.loads(meta["vtag.train_state"])
print("state of the one-epoch run:", good)


def tampered(**kw):
    s = dict(good)
    for k, v in kw.items():
        if v is None:
            s.pop(k, None)
        else:
            s[k] = v
    return s


cases = [("epoch -2^31", tampered(epoch=-(1 << 31)), ["epoch"]),
         ("epoch 2^40", tampered(epoch=1 << 40), ["epoch"]),
         ("epoch 5 past --epochs 2", tampered(epoch=5, best_epoch=0), ["epoch", "--epochs 2"]),
         ("epoch 1.5", tampered(epoch=1.5), ["epoch"]),
         ("rng \"zz\"", tampered(rng="zz"), ["rng"]),
         ("rng of 15 digits", tampered(rng="0123456789abcde"), ["rng"]),
         ("rng of 17 digits", tampered(rng="0123456789abcdef0"), ["rng"]),
         ("rng missing", tampered(rng=None), ["rng"]),
         ("beta1 1", tampered(beta1=1.0), ["beta1"]),
         ("beta2 -0.5", tampered(beta2=-0.5), ["beta2"]),
         ("eps 0", tampered(eps=0.0), ["eps"]),
         ("eps -1e-8", tampered(eps=-1e-8), ["eps"]),
         ("adam_step -1", tampered(adam_step=-1), ["adam_step"]),
         ("best_score a string", tampered(best_score="high"), ["best_score"]),
         ("best_score -5", tampered(best_score=-5), ["best_score"]),
         ("best_epoch 7 after 1 epoch", tampered(best_epoch=7), ["best_epoch"]),
         ("unknown field lr", tampered(lr=0.1), ["lr"])]
for what, s, words in cases:
    st.save(state, tensors, dict(meta, **{"vtag.train_state": json.dumps(s)}))
    expect_refused(train(2, True), state, words, "train --resume, " + what)

neg = dict(tensors)
name = "adam_v.logit.bias"
neg[name] = st.Tensor("F32", tensors[name].shape, [-1.0] + list(tensors[name].values[1:]))
st.save(state, neg, meta)
expect_refused(train(2, True), state, [name, "negative"], "train --resume, negative Adam second moment")

st.save(state, tensors, meta)
rc, err, _ = run_timed(train(2, True))
check(rc == 0 and any("after epoch 1" in line for line in err), "the untouched state resumes: %s" % err[-2:])

print("%d passed, %d failed" % (passes, failures))
if failures == 0:
    shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if failures else 0)
