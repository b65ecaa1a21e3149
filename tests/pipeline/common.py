"""Shared pieces of the pipeline tests: a tiny corpus of ffmpeg test clips,
the pipeline command that trains it in seconds, and /proc helpers to find a
process's children and tell when one is gone."""
import os
import subprocess
import time

LABELS = [
    ("0", "a", "x", ["red"], "train"),
    ("1", "b", "y", ["blue"], "train"),
    ("2", "a", "y", ["red", "big"], "train"),
    ("3", "b", "x", ["blue"], "val"),
]


def make_corpus(ffmpeg, work):
    """4 clips of 1 s (64x48, 8 fps) and their labels; returns the labels path."""
    os.makedirs(os.path.join(work, "v"), exist_ok=True)
    lines = []
    for name, c1, c2, tags, split in LABELS:
        clip = os.path.join(work, "v", name + ".mp4")
        hue = "hue=h=%d" % (60 * int(name))
        subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc2=size=64x48:rate=8:duration=1", "-vf", hue, "-pix_fmt", "yuv420p", clip],
                       check=True)
        lines.append('{"video": "v/%s.mp4", "class1": "%s", "class2": "%s", "tags": [%s], "split": "%s"}' %
                     (name, c1, c2, ", ".join('"%s"' % t for t in tags), split))
    path = os.path.join(work, "labels.jsonl")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def pipeline_args(labels, out, **over):
    """The pipeline on the tiny corpus: fc only, hidden 8, one epoch each."""
    opts = {"--model": "fc", "--sample": "uniform:2", "--hidden": "8", "--xe-epochs": "1", "--scst-epochs": "1",
            "--backbone-epochs": "1", "--size": "16", "--threads": "1", "--batch": "2"}
    opts.update(over)
    args = ["pipeline", "--labels", labels, "--out", out]
    for k, v in opts.items():
        args += [k, v]
    return args


def proc_stat(pid):
    """(state, ppid, starttime) of a process, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def children(pid):
    """PIDs whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[1] == pid:
                out.append(int(d))
    return out


def alive(pid, starttime):
    """True while the process (pid, starttime) exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[2] == starttime and st[0] != "Z"


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def wait_for_stage(pid, stage, timeout):
    """The child of pid that runs `vtag STAGE ...` (past its exec), as (pid, starttime); None on timeout."""
    end = time.time() + timeout
    while time.time() < end:
        for c in children(pid):
            st = proc_stat(c)
            if st and len(cmdline(c)) > 1 and cmdline(c)[1] == stage.encode():
                return c, st[2]
        time.sleep(0.05)
    return None
