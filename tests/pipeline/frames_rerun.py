"""Issue 14, point 8: frames.jsonl always matches the PNGs beside it.
  1. vtag frames into a folder at 16 px (40 frames);
  2. a rerun at 32 px into the same folder with a file size limit that the
     PNGs fit under but frames.jsonl does not (RLIMIT_FSIZE, SIGXFSZ
     ignored: writes fail with EFBIG part-way): non-zero exit, and the folder
     is as step 1 left it: every PNG the index names exists at 16x16, no
     other file (no 32 px PNG, no temporary);
  3. a rerun at 32 px with fewer frames (10) and no limit: the index names
     10 PNGs of 32x32 and the folder holds only those (the 30 stale ones of
     step 1 are gone).

usage: frames_rerun.py VTAG FFMPEG WORKDIR"""
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys

VTAG, FFMPEG, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
clip = os.path.join(WORK, "clip.mp4")
subprocess.run([FFMPEG, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=4",
                "-pix_fmt", "yuv420p", clip], check=True)
out = os.path.join(WORK, "frames")
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def state():
    """(indexed files, {file: (w, h)} of the indexed PNGs, other entries of the folder)."""
    with open(os.path.join(out, "frames.jsonl")) as f:
        files = [json.loads(line)["file"] for line in f]
    sizes = {n: png_size(os.path.join(out, n)) if os.path.isfile(os.path.join(out, n)) else None for n in files}
    others = sorted(set(os.listdir(out)) - set(files) - {"frames.jsonl"})
    return files, sizes, others


def frames(size, count, limit=None):
    def child():
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run([VTAG, "frames", clip, "--out", out, "--size", str(size), "--sample", "uniform:%d" % count],
                          capture_output=True, text=True, preexec_fn=child, timeout=120)


# 1.
p = frames(16, 40)
files, sizes, others = state()
check(p.returncode == 0 and len(files) == 40 and set(sizes.values()) == {(16, 16)} and not others,
      "first run: 40 PNGs of 16x16 (exit %d, %d indexed, sizes %s, others %s)" %
      (p.returncode, len(files), sorted(set(map(str, sizes.values()))), others[:5]))
index_before = open(os.path.join(out, "frames.jsonl"), "rb").read()
index_size = len(index_before)

# 2. a 32 px PNG here is under 2 KB, the index about 4 KB
p = frames(32, 40, limit=3000)
files, sizes, others = state()
print(p.stderr.strip()[-400:])
check(p.returncode != 0, "the rerun with writes failing exits non-zero (exit %d)" % p.returncode)
check(index_size > 3000, "the index (%d bytes) is over the limit, so the rerun fails part-way" % index_size)
check(open(os.path.join(out, "frames.jsonl"), "rb").read() == index_before, "frames.jsonl is the first run's")
check(set(sizes.values()) == {(16, 16)},
      "every PNG it names is there at 16x16: %s" % sorted(set(map(str, sizes.values()))))
check(not others, "no other file in the folder: %s" % others[:5])

# 3.
p = frames(32, 10)
files, sizes, others = state()
check(p.returncode == 0 and len(files) == 10 and set(sizes.values()) == {(32, 32)},
      "rerun with 10 frames at 32 px: exit %d, %d indexed, sizes %s" %
      (p.returncode, len(files), sorted(set(map(str, sizes.values())))))
check(not others, "the stale PNGs of the first run are gone: %d left, %s" % (len(others), others[:3]))
sys.exit(1 if failures else 0)
