"""Issue 14, point 7: a write that fails is an error. Every command that
writes to stdout, run with stdout on /dev/full, exits 1 with one line on
stderr naming stdout and the reason; train and backbone train with
--log /dev/full do the same; a PNG that cannot be written (the file size
limit, RLIMIT_FSIZE with SIGXFSZ ignored: write(2) fails with EFBIG) names
the real error, not "Success".

usage: write_errors.py VTAG FIXTURE_DIR WORKDIR"""
import os
import resource
import signal
import sys

import common

VTAG, FIX, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
t = common.Checks("faults/write_errors")
p = common.copy_fixture(FIX, WORK)
labels, feats, model, backbone, video = p["labels"], p["feats"], p["model"], p["backbone"], p["video"]
FULL = "No space left on device"

STDOUT_COMMANDS = {
    "--help": ["--help"],
    "info": ["info"],
    "inspect": ["inspect", model],
    "inspect --help": ["inspect", "--help"],
    "onnx-info": ["onnx-info", p["onnx"]],
    "probe": ["probe", video],
    "score": ["score", "--in", p["captions"]],
    "score --multilabel": ["score", "--multilabel", "--in", p["multilabel"]],
    "caption": ["caption", "--model", model, "--feats", feats, "--threads", 1],
    "caption --json": ["caption", "--model", model, "--feats", feats, "--json", "--threads", 1],
    "eval": ["eval", "--labels", labels, "--tags", p["tags"], "--split", "test"],
    "eval --json": ["eval", "--labels", labels, "--tags", p["tags"], "--split", "test", "--json"],
    "tag": ["tag", "--checkpoint", model, "--backbone", backbone, "--threads", 1, video],
    "backbone predict": ["backbone", "predict", "--backbone", backbone, "--threads", 1, video],
    "train --help": ["train", "--help"],
}
for what, args in STDOUT_COMMANDS.items():
    with open("/dev/full", "wb") as full:
        r = common.run(VTAG, args, stdout=full)
    lines = common.one_line(r.err)
    t.check(r.returncode == 1, "%s > /dev/full: exit %d, wanted 1 (%s)" % (what, r.returncode, r.err.strip()[-300:]))
    t.check(len(lines) == 1 and "stdout" in lines[0] and FULL in lines[0],
            "%s > /dev/full: one line naming stdout and '%s', got %r" % (what, FULL, lines))

# --log on a full disk
TRAIN = ["train", "--labels", labels, "--feats", feats, "--model", "fc", "--epochs", 2, "--rnn-size", 8,
         "--input-encoding-size", 8, "--batch", 4, "--threads", 1, "--out", os.path.join(WORK, "m.safetensors")]
BTRAIN = ["backbone", "train", "--labels", labels, "--size", 16, "--widths", 4, "--blocks", 1, "--sample",
          "uniform:2", "--epochs", 2, "--batch", 4, "--threads", 1, "--out", os.path.join(WORK, "b.safetensors")]
for what, args in (("train", TRAIN), ("backbone train", BTRAIN)):
    r = common.run(VTAG, args + ["--log", "/dev/full"])
    lines = common.one_line(r.err)
    t.check(r.returncode == 1, "%s --log /dev/full: exit %d, wanted 1" % (what, r.returncode))
    t.check(any("/dev/full" in l and FULL in l for l in lines),
            "%s --log /dev/full: a line naming /dev/full and '%s', got %r" % (what, FULL, lines))
    epochs = [l for l in r.err.splitlines() if l.startswith("{")]
    t.check(len(epochs) == 1, "%s --log /dev/full stops after the first epoch: %d epoch lines" % (what, len(epochs)))


def fsize_limit(limit):
    def pre():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return pre


# A PNG (about 1.5 KB, so libpng's writes all fit in the stdio buffer and the failure comes at the
# flush) over a 200-byte file size limit, and one that fails inside libpng (--size 96, 1 KB limit).
for size, limit in ((32, 200), (96, 1024)):
    out = os.path.join(WORK, "frames-%d" % size)
    r = common.run(VTAG, ["frames", "--out", out, "--size", size, "--max-frames", 1, video],
                   preexec_fn=fsize_limit(limit))
    t.check(r.returncode == 1, "frames --size %d over the size limit: exit %d" % (size, r.returncode))
    t.check("File too large" in r.err and "Success" not in r.err,
            "frames --size %d: the PNG error names EFBIG ('File too large'), got %r" % (size, r.err.strip()))
t.done()
