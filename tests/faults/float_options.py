"""Issue 14, point 10 (options): every number option is finite and in its
range. nan, inf, a negative learning rate, a dropout of 1, a non-positive
std... are refused before any work with exit 2 and one line naming the
option; nothing is written.

usage: float_options.py VTAG FIXTURE_DIR WORKDIR"""
import os
import sys

import common

VTAG, FIX, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
t = common.Checks("faults/float_options")
p = common.copy_fixture(FIX, WORK)
labels, feats, model, backbone, video = p["labels"], p["feats"], p["model"], p["backbone"], p["video"]
out = os.path.join(WORK, "out.safetensors")

TRAIN = ["train", "--labels", p["cap_labels"], "--feats", p["cap_train"], "--model", "fc", "--epochs", 1,
         "--rnn-size", 8, "--input-encoding-size", 8, "--batch", 4, "--threads", 1, "--out", out]
SCST = TRAIN + ["--scst-after", 0]
BTRAIN = ["backbone", "train", "--labels", labels, "--size", 16, "--widths", 4, "--blocks", 1, "--sample",
          "uniform:2", "--epochs", 1, "--batch", 4, "--threads", 1, "--out", out]
FEATS = ["features", "--backbone", backbone, "--labels", labels, "--sample", "uniform:2", "--quiet", "--threads", 1,
         "--out", out]
CAPTION = ["caption", "--model", model, "--feats", feats, "--threads", 1, "--sample"]

CASES = [
    (TRAIN, "--lr", ["nan", "inf", "-inf", "-1", "0", "1e39", "1x"]),
    (TRAIN, "--lr-decay", ["nan", "inf", "-0.5"]),
    (TRAIN, "--grad-clip", ["nan", "inf", "-1"]),
    (TRAIN, "--dropout", ["nan", "inf", "1", "-0.1"]),
    (SCST, "--scst-lr", ["nan", "inf", "-1", "0"]),
    (SCST, "--cider-weight", ["nan", "inf", "-1"]),
    (SCST, "--bleu-weight", ["nan", "inf", "-1"]),
    (BTRAIN, "--lr", ["nan", "inf", "-1", "0"]),
    (BTRAIN, "--weight-decay", ["nan", "inf", "-1"]),
    (FEATS, "--mean", ["nan,0,0", "0,inf,0", "0,0,-inf", "1,2", "1,2,3,4", "1,2,3x", ""]),
    (FEATS, "--std", ["nan,1,1", "1,inf,1", "0,1,1", "-1,1,1", "1,1"]),
    (CAPTION, "--temperature", ["nan", "inf", "0", "-1"]),
]
for base, opt, values in CASES:
    for v in values:
        args = base + [opt, v]
        if opt in ("--mean", "--std"):
            args += ["--std" if opt == "--mean" else "--mean", "1,1,1" if opt == "--mean" else "0,0,0"]
        if os.path.exists(out):
            os.remove(out)
        r = common.run(VTAG, args)
        what = "%s %s %s" % (base[0] if base[0] != "backbone" else "backbone train", opt, v)
        lines = common.one_line(r.err)
        t.check(r.returncode == 2, "%s: exit %d, wanted 2 (%s)" % (what, r.returncode, r.err.strip()[-200:]))
        t.check(len(lines) == 1 and opt in lines[0], "%s: one line naming %s, got %r" % (what, opt, lines))
        t.check(not os.path.exists(out), "%s: wrote %s" % (what, out))

# In-range values are still taken.
for args in (TRAIN + ["--lr", "1e-3", "--dropout", "0", "--grad-clip", "0", "--lr-decay", "1"],
             FEATS + ["--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25"]):
    r = common.run(VTAG, args)
    t.check(r.returncode == 0, "vtag %s: exit %d (%s)" % (" ".join(map(str, args[:1])), r.returncode, r.err[-300:]))
t.done()
