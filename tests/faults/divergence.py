"""Issue 14, point 10 (divergence): a loss that turns nan or inf stops
training with one line naming the phase, epoch and step, exit 1; the last
good checkpoint and the training state stay byte for byte as the last good
epoch left them, and the --log never gets a nan line (eval --train-log
still reads it). Provoked by resuming a good 1-epoch run with --lr 1e30.
Caption XE, caption SCST and the built-in backbone.

usage: divergence.py VTAG FIXTURE_DIR WORKDIR"""
import os
import re
import sys

import common

VTAG, FIX, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
t = common.Checks("faults/divergence")
p = common.copy_fixture(FIX, WORK)


def case(what, first, then, out, log, phase):
    """first: a good run writing out (1 epoch); then: its --resume with a huge learning rate."""
    state = out.replace(".safetensors", ".state.safetensors")
    r = common.run(VTAG, first + ["--log", log])
    if not t.check(r.returncode == 0, "%s: the good run: exit %d (%s)" % (what, r.returncode, r.err[-300:])):
        return
    ckpt, st, good_log = common.digest(out), common.digest(state), open(log).read()
    r = common.run(VTAG, then + ["--log", log])
    lines = common.one_line(r.err)
    errors = [l for l in lines if "diverged" in l]
    t.check(r.returncode == 1, "%s: exit %d, wanted 1 (%s)" % (what, r.returncode, r.err.strip()[-300:]))
    pat = r"%s 2 step \d+: .*(nan|inf).*\(diverged\); kept the last good checkpoint %s$" % (phase, re.escape(out))
    t.check(len(errors) == 1 and re.search(pat, errors[0]) is not None,
            "%s: one line like '%s', got %r" % (what, pat, lines))
    t.check(common.digest(out) == ckpt, "%s: the checkpoint changed" % what)
    t.check(common.digest(state) == st, "%s: the training state changed" % what)
    text = open(log).read()
    t.check(text == good_log and "nan" not in text, "%s: the log got lines after the good epoch: %r" % (what, text))
    if not phase.startswith("backbone"):
        r = common.run(VTAG, ["eval", "--labels", p["labels"], "--tags", p["tags"], "--split", "test",
                              "--train-log", log, "--report", os.path.join(WORK, "report.html")])
        t.check(r.returncode == 0, "%s: eval --train-log reads the log: %s" % (what, r.err.strip()[-300:]))


CAP = ["train", "--labels", p["cap_labels"], "--feats", p["cap_train"], "--rnn-size", 8, "--input-encoding-size", 8,
       "--batch", 4, "--threads", 1, "--lr", "1e-3"]
xe = os.path.join(WORK, "xe.safetensors")
case("XE", CAP + ["--model", "fc", "--out", xe, "--epochs", 1],
     CAP + ["--model", "fc", "--out", xe, "--epochs", 3, "--resume", "--lr", "1e30"], xe,
     os.path.join(WORK, "xe.log.jsonl"), "XE epoch")
init = os.path.join(WORK, "init.safetensors")  # a good XE model of its own: the XE case may have spoilt xe
r = common.run(VTAG, CAP + ["--model", "fc", "--out", init, "--epochs", 1])
t.check(r.returncode == 0, "XE model for SCST: exit %d (%s)" % (r.returncode, r.err[-300:]))
scst = os.path.join(WORK, "scst.safetensors")
case("SCST", CAP + ["--init", init, "--scst", "--out", scst, "--epochs", 1],
     CAP + ["--init", init, "--scst", "--out", scst, "--epochs", 3, "--resume", "--scst-lr", "1e30"], scst,
     os.path.join(WORK, "scst.log.jsonl"), "SCST epoch")
BB = ["backbone", "train", "--labels", p["labels"], "--size", 16, "--widths", 4, "--blocks", 1, "--sample",
      "uniform:2", "--batch", 4, "--threads", 1]
bb = os.path.join(WORK, "bb.safetensors")
case("backbone", BB + ["--out", bb, "--epochs", 1], BB + ["--out", bb, "--epochs", 3, "--resume", "--lr", "1e30"], bb,
     os.path.join(WORK, "bb.log.jsonl"), "backbone: epoch")
t.done()
