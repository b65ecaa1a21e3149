"""End-to-end tests of `vtag train` and `vtag caption` (issue 3, points 1, 3, 5):
a small labelled feature set made here; resume after SIGKILL ends with the
same weights as an uninterrupted run; the PyTorch reference reproduces the
greedy captions of a trained checkpoint; bad input gives a one-line error
naming the file and the line or id, exit 1, and no checkpoint.

usage: cli_train.py VTAG_BINARY WORKDIR [MODEL...]"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "reference"))
import safetensors_io as st  # noqa: E402

sys.path.insert(0, here)
import corpus  # noqa: E402

FRAMES = 12  # per video: epochs long enough for a kill to land inside one

vtag, work = sys.argv[1], sys.argv[2]
model_types = sys.argv[3:] or ["fc", "att2in", "topdown"]
failures, passes = 0, 0


def check(cond, what):
    global failures, passes
    if cond:
        passes += 1
    else:
        failures += 1
        print("FAIL:", what, flush=True)


def run(args, **kw):
    return subprocess.run([vtag] + args, capture_output=True, text=True, **kw)


# ---- a small labelled corpus (tests/caption/corpus.py) ----
shutil.rmtree(work, ignore_errors=True)
videos, labels, train_feats, val_feats = corpus.make(work, seed=7, frames=FRAMES)


def train_args(model, out, epochs):
    return ["train", "--labels", labels, "--feats", train_feats, "--val-feats", val_feats, "--model", model,
            "--out", out, "--epochs", str(epochs), "--batch", "10", "--lr", "5e-3", "--threads", "2", "--seed", "3",
            "--input-encoding-size", "32", "--rnn-size", "32", "--att-hid-size", "16", "--max-length", "6"]


def tensors_equal(a, b):
    ta, _ = st.load(a)
    tb, _ = st.load(b)
    return sorted(ta) == sorted(tb) and all(ta[k].values == tb[k].values for k in ta)


def state_epoch(path):
    try:
        _, meta = st.load(path)
        return json.loads(meta["vtag.train_state"])["epoch"]
    except Exception:  # not there yet, or being renamed into place
        return -1


EPOCHS = 8
for model in model_types:
    # Uninterrupted run.
    a = os.path.join(work, model + "-a.safetensors")
    r = run(train_args(model, a, EPOCHS))
    check(r.returncode == 0, "%s: train exit %d: %s" % (model, r.returncode, r.stderr[-500:]))
    lines = [json.loads(x) for x in r.stderr.splitlines() if x.startswith("{")]
    check(len(lines) == EPOCHS and all(k in lines[0] for k in ("epoch", "loss", "val_cider_d", "seconds", "tokens_per_s")),
          "%s: one JSON line per epoch with the documented keys" % model)
    check(lines and lines[-1]["loss"] < lines[0]["loss"], "%s: the loss goes down" % model)
    print("%s: loss %.3f -> %.3f, val CIDEr-D %.3f -> %.3f" % (model, lines[0]["loss"], lines[-1]["loss"],
                                                             lines[0]["val_cider_d"], lines[-1]["val_cider_d"]))

    # Killed with SIGKILL mid-way, then resumed: the same final weights.
    b = os.path.join(work, model + "-b.safetensors")
    b_state = os.path.join(work, model + "-b.state.safetensors")
    p = subprocess.Popen([vtag] + train_args(model, b, EPOCHS), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600  # a hang guard only: epochs take seconds even on a loaded machine
    while state_epoch(b_state) < 3 and time.time() < deadline and p.poll() is None:
        time.sleep(0.01)
    killed_at = state_epoch(b_state)
    p.send_signal(signal.SIGKILL)
    p.wait()
    check(0 < killed_at < EPOCHS, "%s: the run was killed mid-way (after epoch %d)" % (model, killed_at))
    r = run(train_args(model, b, EPOCHS) + ["--resume"])
    check(r.returncode == 0 and "resuming" in r.stderr, "%s: resume: %s" % (model, r.stderr[-300:]))
    check(tensors_equal(a, b), "%s: resumed best checkpoint differs from the uninterrupted run" % model)
    check(tensors_equal(os.path.join(work, model + "-a.state.safetensors"), b_state),
          "%s: resumed final weights and Adam moments differ from the uninterrupted run" % model)

    # The PyTorch reference loads the checkpoint and finds the same greedy captions.
    cap = os.path.join(work, model + "-captions.jsonl")
    r = run(["caption", "--model", a, "--feats", val_feats, "--json", "--threads", "2"])
    check(r.returncode == 0, "%s: caption: %s" % (model, r.stderr))
    with open(cap, "w") as f:
        f.write(r.stdout)
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    check(len(rows) == 8 * FRAMES and all(len(x["logprobs"]) == len(x["tokens"]) + 1 or len(x["tokens"]) == 6 for x in rows),
          "%s: one line per row, a logprob per token and one for EOS" % model)
    check(all(len(set(x["tokens"])) == len(x["tokens"]) for x in rows), "%s: a label twice in a caption" % model)
    ref = subprocess.run(["/usr/bin/python3", os.path.join(here, "..", "..", "reference", "models.py"), "--checkpoint", a,
                          "--feats", val_feats, "--compare", cap], capture_output=True, text=True)
    check(ref.returncode == 0, "%s: reference disagrees with vtag caption: %s" % (model, (ref.stdout + ref.stderr)[-500:]))

# ---- SCST from the command line (issue 5): both entry points, the log, the N = 1 refusal ----
model = model_types[0]
sc = os.path.join(work, model + "-scst.safetensors")
r = run(train_args(model, sc, 4) + ["--scst-after", "2", "--sample-n", "3"])
lines = [json.loads(x) for x in r.stderr.splitlines() if x.startswith("{")]
check(r.returncode == 0 and [x["phase"] for x in lines] == ["xe", "xe", "scst", "scst"],
      "%s: --scst-after 2: %s" % (model, r.stderr[-300:]))
check(all(k in lines[-1] for k in ("reward", "advantage", "greedy_cider_d")) and lines[-1]["lr"] == 5e-5,
      "%s: SCST epoch lines carry reward, advantage, greedy CIDEr-D and lr 5e-5: %s" % (model, lines[-1:]))
init = os.path.join(work, model + "-init.safetensors")
r = run(["train", "--labels", labels, "--feats", train_feats, "--val-feats", val_feats, "--init",
         os.path.join(work, model + "-a.safetensors"), "--scst", "--baseline", "mean", "--sample-n", "2",
         "--epochs", "1", "--out", init, "--threads", "2"])
lines = [json.loads(x) for x in r.stderr.splitlines() if x.startswith("{")]
check(r.returncode == 0 and lines and lines[0]["phase"] == "scst" and lines[0]["greedy_cider_d"] is None,
      "%s: --init --scst --baseline mean: %s" % (model, r.stderr[-300:]))
r = run(train_args(model, os.path.join(work, "never.safetensors"), 2) + ["--scst-after", "1", "--baseline", "mean",
                                                                       "--sample-n", "1"])
check(r.returncode == 2 and "--sample-n >= 2" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
      "mean baseline with one sample: exit %d, %r" % (r.returncode, r.stderr))
check(not os.path.exists(os.path.join(work, "never.safetensors")), "refused run wrote a checkpoint")

# ---- bad input: one line naming the file and line or id, exit 1, no checkpoint ----
bad = os.path.join(work, "bad")
os.makedirs(bad)


def expect_error(what, args, needles):
    out = os.path.join(bad, "never.safetensors")
    r = run(args + ["--out", out] if args[0] == "train" else args)
    msg = r.stderr.strip()
    check(r.returncode == 1, "%s: exit %d (%s)" % (what, r.returncode, msg))
    check(len(msg.splitlines()) == 1, "%s: error is not one line: %r" % (what, msg))
    for n in needles:
        check(n in msg, "%s: %r does not mention %r" % (what, msg, n))
    check(not os.path.exists(out), "%s: a checkpoint was written" % what)


def bad_labels(name, content):
    path = os.path.join(bad, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


base = ["--feats", train_feats, "--model", "fc", "--epochs", "1"]
good_lines = [json.dumps(v).encode() for v in videos]
missing = bad_labels("missing.jsonl", b"\n".join(good_lines[:2] + [b'{"video": "v02.mp4", "class1": "pets", "tags": []}'] + good_lines[3:]))
expect_error("missing field", ["train", "--labels", missing] + base, ["missing.jsonl:3", "class2"])
utf8 = bad_labels("utf8.jsonl", b"\n".join(good_lines[:3] + [b'{"video": "v03.mp4", "class1": "\xff\xfe", "class2": "x", "tags": []}'] + good_lines[4:]))
expect_error("invalid UTF-8", ["train", "--labels", utf8] + base, ["utf8.jsonl:4", "UTF-8"])
notjson = bad_labels("json.jsonl", b"\n".join(good_lines[:4] + [b'{"video": "v04.mp4", "class1": '] + good_lines[5:]))
expect_error("invalid JSON", ["train", "--labels", notjson] + base, ["json.jsonl:5"])
split = bad_labels("split.jsonl", b"\n".join(good_lines[:1] + [json.dumps(dict(videos[1], split="dev")).encode()] + good_lines[2:]))
expect_error("unknown split", ["train", "--labels", split] + base, ["split.jsonl:2", "dev"])
absent = bad_labels("absent.jsonl", b"\n".join(good_lines[1:]))
expect_error("features id absent from labels", ["train", "--labels", absent] + base, ["train.safetensors", "v00.mp4"])

# A training state of another model type is refused, naming the file.
other = os.path.join(bad, "other.safetensors")
shutil.copy(os.path.join(work, model_types[0] + "-a.state.safetensors"), os.path.join(bad, "other.state.safetensors"))
other_type = "topdown" if model_types[0] != "topdown" else "fc"
r = run(train_args(other_type, other, 1) + ["--resume"])
check(r.returncode == 1 and "other.state.safetensors" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
      "resume from another model's state: exit %d, %r" % (r.returncode, r.stderr))

# A checkpoint with a wrongly shaped tensor is refused, naming the tensor.
tensors, meta = st.load(os.path.join(work, model_types[0] + "-a.safetensors"))
w = tensors["logit.bias"]
tensors["logit.bias"] = st.Tensor("F32", [len(w.values) - 1], w.values[:-1])
wrong = os.path.join(bad, "wrong-shape.safetensors")
st.save(wrong, tensors, meta)
r = run(["caption", "--model", wrong, "--feats", val_feats])
check(r.returncode == 1 and "logit.bias" in r.stderr and "wrong-shape.safetensors" in r.stderr,
      "wrong shape: exit %d, %r" % (r.returncode, r.stderr))

print("cli_train: %d passed, %d failed" % (passes, failures))
sys.exit(1 if failures else 0)
