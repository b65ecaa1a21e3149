"""Issue 14 point 3: no command blocks on a FIFO with no writer. Each input
of each command that reads files is given a FIFO in turn; the command must
refuse it ("not a regular file (a FIFO)") within a few seconds. A command
still running after 10 s is killed and fails the test.
Usage: blocking_open.py VTAG"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import Checks, make_clip, run  # noqa: E402

vtag = os.path.abspath(sys.argv[1])
work = tempfile.mkdtemp(prefix="vtag-fifo-")
c = Checks()
os.mkfifo(os.path.join(work, "fifo"))
os.mkdir(os.path.join(work, "fmnist"))
os.mkfifo(os.path.join(work, "fmnist", "train-images-idx3-ubyte"))
os.mkfifo(os.path.join(work, "fmnist", "train-labels-idx1-ubyte"))
make_clip(os.path.join(work, "clip.mp4"))
with open(os.path.join(work, "labels.jsonl"), "w") as f:
    f.write('{"video": "clip.mp4", "class1": "x", "class2": "y", "tags": []}\n')
with open(os.path.join(work, "fifo_video.jsonl"), "w") as f:
    f.write('{"video": "fifo", "class1": "x", "class2": "y", "tags": []}\n')
with open(os.path.join(work, "score.jsonl"), "w") as f:
    f.write('{"id": "a", "cand": "x y", "refs": ["x y"]}\n')

P = "fifo"
cases = [
    ["probe", P],
    ["frames", P, "--out", "frames"],
    ["inspect", P],
    ["onnx-info", P],
    ["score", "--in", P],
    ["score", "--in", "score.jsonl", "--df-from", P],
    ["train", "--labels", P, "--feats", P, "--model", "fc", "--out", "m.safetensors"],
    ["train", "--labels", "labels.jsonl", "--feats", P, "--model", "fc", "--out", "m.safetensors"],
    ["caption", "--model", P, "--feats", P],
    ["eval", "--labels", P, "--tags", P],
    ["eval", "--labels", "labels.jsonl", "--tags", P],
    ["tag", "--checkpoint", P, "--backbone", P, "clip.mp4"],
    ["tag", "--checkpoint", P, "--backbone", P, "--list", P],
    ["features", "--backbone", P, "--labels", P, "--out", "f.safetensors"],
    ["backbone", "predict", "--backbone", P, "clip.mp4"],
    ["backbone", "train", "--labels", P, "--out", "b.safetensors"],
    ["backbone", "train", "--labels", "fifo_video.jsonl", "--out", "b.safetensors"],
    ["synth", "--out", "corpus", "--videos", "1", "--fashion-mnist", "fmnist"],
]
for argv in cases:
    what = " ".join(argv)
    r = run([vtag] + argv, work, timeout=10)
    err = r.err.decode(errors="replace")
    c.check(f"{what}: returns within 5 s", not r.killed and r.seconds < 5, r)
    c.check(f"{what}: fails", r.rc not in (0, None) and not r.killed, r)
    c.check(f"{what}: says why", "not a regular file (a FIFO)" in err, r)

shutil.rmtree(work)
c.done()
