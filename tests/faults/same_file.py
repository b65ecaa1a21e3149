"""Issue 14, point 4: an output that is the same file as an input (the same
path, a symlink to it, a hard link of it, or stdout opened on it) is refused
with one line naming both options, exit 2, and the input is left byte for
byte as it was. A new file, or a dangling symlink, is still a fine output.

usage: same_file.py VTAG FIXTURE_DIR WORKDIR"""
import os
import sys

import common

VTAG, FIX, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
t = common.Checks("faults/same_file")
link_feats = os.path.join(WORK, "link-to-features.safetensors")
hard_labels = os.path.join(WORK, "hard-labels.jsonl")
link_labels = os.path.join(WORK, "link-to-labels.jsonl")


def fresh_copy():
    """Every case starts from an intact copy of the fixture (a failing case must not spoil the next)."""
    p = common.copy_fixture(FIX, WORK)
    os.symlink(p["feats"], link_feats)
    os.link(p["labels"], hard_labels)
    os.symlink(os.path.relpath(p["labels"], WORK), link_labels)
    return p


p = fresh_copy()
labels, feats, model, backbone, video = p["labels"], p["feats"], p["model"], p["backbone"], p["video"]

TRAIN = ["train", "--labels", labels, "--feats", feats, "--model", "fc", "--epochs", 1, "--rnn-size", 8,
         "--input-encoding-size", 8, "--batch", 4, "--threads", 1]
BTRAIN = ["backbone", "train", "--labels", labels, "--size", 16, "--widths", 4, "--blocks", 1, "--sample",
          "uniform:2", "--epochs", 1, "--batch", 4, "--threads", 1]
FEATS = ["features", "--backbone", backbone, "--labels", labels, "--sample", "uniform:2", "--quiet", "--threads", 1]
EVAL = ["eval", "--labels", labels, "--tags", p["tags"], "--split", "test"]


def refused(what, args, victim, opts, stdout_to=None):
    """Runs vtag ARGS; wants exit 2, one line naming both options (or stdout), victim unchanged."""
    fresh_copy()
    before = common.digest(victim)
    out = open(stdout_to, "ab") if stdout_to else None
    r = common.run(VTAG, args, stdout=out if out else common.subprocess.PIPE)
    if out:
        out.close()
    lines = common.one_line(r.err)
    t.check(r.returncode == 2, "%s: exit %d, wanted 2 (%s)" % (what, r.returncode, r.err.strip()[-300:]))
    t.check(len(lines) == 1 and "is the same file as" in lines[0] and all(o in lines[0] for o in opts),
            "%s: one line naming %s, got %r" % (what, " and ".join(opts), lines))
    t.check(common.digest(victim) == before, "%s: %s changed" % (what, victim))


# train
refused("train --out = --feats", TRAIN + ["--out", feats], feats, ["--out", "--feats"])
refused("train --out = symlink to --feats", TRAIN + ["--out", link_feats], feats, ["--out", "--feats"])
refused("train --log = --labels", TRAIN + ["--out", os.path.join(WORK, "m.safetensors"), "--log", labels],
        labels, ["--log", "--labels"])
refused("train --log = hard link of --labels",
        TRAIN + ["--out", os.path.join(WORK, "m.safetensors"), "--log", hard_labels], labels, ["--log", "--labels"])
refused("train --out = --val-feats",
        ["train", "--labels", p["cap_labels"], "--feats", p["cap_train"], "--val-feats", p["cap_val"], "--model", "fc",
         "--epochs", 1, "--rnn-size", 8, "--input-encoding-size", 8, "--out", p["cap_val"]], p["cap_val"],
        ["--out", "--val-feats"])
refused("train --scst --init M --out M",
        ["train", "--labels", labels, "--feats", feats, "--init", model, "--scst", "--out", model, "--epochs", 1],
        model, ["--out", "--init"])
# eval
refused("eval --report = --labels", EVAL + ["--report", labels], labels, ["--report", "--labels"])
refused("eval --report = symlink to --labels", EVAL + ["--report", link_labels], labels, ["--report", "--labels"])
refused("eval --report = --tags", EVAL + ["--report", p["tags"]], p["tags"], ["--report", "--tags"])
# features
refused("features --out = --labels", FEATS + ["--out", labels], labels, ["--out", "--labels"])
refused("features --out = --backbone", FEATS + ["--out", backbone], backbone, ["--out", "--backbone"])
refused("features --out = hard link of --labels", FEATS + ["--out", hard_labels], labels, ["--out", "--labels"])
refused("features --out = a video of --labels", FEATS + ["--out", video], video, ["--out", "video"])
# backbone train
refused("backbone train --out = --labels", BTRAIN + ["--out", labels], labels, ["--out", "--labels"])
refused("backbone train --log = symlink to --labels",
        BTRAIN + ["--out", os.path.join(WORK, "b.safetensors"), "--log", link_labels], labels, ["--log", "--labels"])
# stdout appended to an input
refused("caption >> --feats", ["caption", "--model", model, "--feats", feats], feats, ["stdout", "--feats"],
        stdout_to=feats)
refused("score >> --in", ["score", "--in", p["captions"]], p["captions"], ["stdout", "--in"], stdout_to=p["captions"])
refused("tag >> --checkpoint", ["tag", "--checkpoint", model, "--backbone", backbone, video], model,
        ["stdout", "--checkpoint"], stdout_to=model)
refused("backbone predict >> --backbone", ["backbone", "predict", "--backbone", backbone, video], backbone,
        ["stdout", "--backbone"], stdout_to=backbone)

# frames replaces the files of its --out folder: a video inside it is refused
fresh_copy()
before = common.digest(video)
vdir = os.path.dirname(video)
r = common.run(VTAG, ["frames", os.path.join(vdir, ".", os.path.basename(video)), "--out", vdir, "--size", 16])
lines = common.one_line(r.err)
t.check(r.returncode == 2 and len(lines) == 1 and "is inside --out" in lines[0],
        "frames VIDEO --out its folder: exit %d, %r" % (r.returncode, lines))
t.check(common.digest(video) == before and not os.path.exists(os.path.join(vdir, "frames.jsonl")),
        "frames VIDEO --out its folder: the folder was written")

# Outputs that clash with nothing still work: a new file, and a dangling symlink.
fresh_copy()
fresh = os.path.join(WORK, "fresh.safetensors")
r = common.run(VTAG, FEATS + ["--out", fresh])
t.check(r.returncode == 0 and os.path.exists(fresh), "features --out a new file: exit %d %s" % (r.returncode, r.err))
dangling = os.path.join(WORK, "dangling.jsonl")
os.symlink(os.path.join(WORK, "nowhere", "log.jsonl"), dangling)
r = common.run(VTAG, TRAIN + ["--out", os.path.join(WORK, "m2.safetensors"), "--log", dangling])
t.check(r.returncode != 2 and "same file" not in r.err, "train --log a dangling symlink is no clash: %s" % r.err)
r = common.run(VTAG, ["score", "--in", p["captions"]], stdout=open(os.path.join(WORK, "score.json"), "wb"))
t.check(r.returncode == 0, "score > a new file: exit %d %s" % (r.returncode, r.err))
t.done()
