#!/usr/bin/python3
"""Tiny hostile built-in backbone files: a safetensors header of a few hundred bytes whose
vtag.backbone config asks for a huge network (widths 2048 x 2 stages, 1536 x 2, 2048 x 1, 4096 x 64
blocks, 1024 x 8 blocks x 4 stages) and holds no tensors. `vtag backbone predict` and `vtag features` must
refuse each with one error line naming the file, exit 1, and a peak RSS under 200 MB measured with
/usr/bin/time -v: the tensors are checked against the config before anything is allocated (the
baseline allocated 2.4 GB for 14 s on the first file, then said "missing tensor").
usage: hostile_backbone.py VTAG WORKDIR"""
import json
import os
import shutil
import struct
import subprocess
import sys

VTAG, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
RSS_LIMIT_KB = 200 * 1024
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def backbone_file(path, widths, blocks, labels=("a", "b")):
    desc = {"arch": "vtag-resnet", "size": 64, "widths": widths, "blocks": blocks, "mean": [0.5, 0.5, 0.5],
            "std": [0.25, 0.25, 0.25], "bn_eps": 1e-5, "labels": list(labels)}
    header = json.dumps({"__metadata__": {"vtag.backbone": json.dumps(desc)}}).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
    return os.path.getsize(path)


def run_timed(*args):
    """Runs vtag under /usr/bin/time -v; returns (exit code, stderr lines of vtag, peak RSS in kB)."""
    tfile = os.path.join(WORK, "time.txt")
    p = subprocess.run(["/usr/bin/time", "-v", "-o", tfile, VTAG] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=120)
    rss = None
    for line in open(tfile):
        if "Maximum resident set size (kbytes):" in line:
            rss = int(line.split(":")[1])
    return p.returncode, p.stderr.splitlines(), rss


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
labels = os.path.join(WORK, "labels.jsonl")
with open(labels, "w") as f:
    f.write(json.dumps({"video": "missing.mp4", "class1": "a", "class2": "b", "tags": [], "split": "train"}) + "\n")

cases = [("w2048x2", [2048, 2048], [1, 1], "parameters"),  # 2.4 GB for 14 s on the baseline
         ("w1536x2", [1536, 1536], [1, 1], "missing tensor"),  # within every limit: 1.4 GB on the baseline
         ("w2048", [2048], [1], "missing tensor"),
         ("w4096b64", [4096], [64], "width"),
         ("w1024b8x4", [1024] * 4, [8] * 4, "parameters")]
for name, widths, blocks, needle in cases:
    path = os.path.join(WORK, name + ".safetensors")
    size = backbone_file(path, widths, blocks)
    for cmd in (["backbone", "predict", "--backbone", path, os.path.join(WORK, "missing.mp4")],
                ["features", "--backbone", path, "--labels", labels, "--out", os.path.join(WORK, "f.safetensors"),
                 "--quiet"]):
        rc, err, rss = run_timed(*cmd)
        what = "vtag %s on %s (%d bytes)" % (cmd[0], name, size)
        print("%s: exit %d, peak RSS %s kB: %s" % (what, rc, rss, err[-1] if err else ""))
        check(rc == 1, "%s: exit %d (wanted 1)" % (what, rc))
        check(len(err) == 1, "%s: %d stderr lines (wanted 1): %s" % (what, len(err), err))
        check(bool(err) and path in err[0], "%s: the message names the file: %s" % (what, err))
        check(bool(err) and needle in err[0], "%s: the message says '%s': %s" % (what, needle, err))
        check(rss is not None and rss < RSS_LIMIT_KB, "%s: peak RSS %s kB (wanted < %d)" % (what, rss, RSS_LIMIT_KB))
        check(not os.path.exists(os.path.join(WORK, "f.safetensors")), "%s: a features file was written" % what)

print("hostile backbone: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
