#!/usr/bin/python3
"""vtag backbone train --resume trusts nothing in the training state: a tiny model is trained for
one epoch, then its state file is altered field by field (epoch -2^31, 2^40, past --epochs, as a
string; adam_step negative or below the epochs; rng "zz", 15 and 17 hex digits; best 5 and NaN-ish;
an unknown field; a NaN and a negative Adam second moment, an infinite weight; a missing tensor) and each resume must
fail with exit 1 and one error line naming the state file and the field, leaving the state as it
was. The unaltered state resumes (the test is not vacuous). The baseline resumed "after epoch
-2147483648", restarted silently at 2^40 and took "zz" as an RNG.
usage: state_resume.py VTAG WORKDIR"""
import json
import os
import shutil
import struct
import subprocess
import sys

VTAG, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def vtag(*args, timeout=120):
    try:
        return subprocess.run([VTAG] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:  # the baseline trained 2^31 epochs
        out = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return subprocess.CompletedProcess(e.cmd, -9, "", out + "\n(killed after %d s)" % timeout)


def read_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_st(path, header, data):
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.chdir(WORK)
p = vtag("synth", "--out", "corpus", "--videos", 6, "--seed", 3, "--quiet", "--threads", 2)
check(p.returncode == 0, "synth: " + p.stderr)
TRAIN = ["backbone", "train", "--labels", "corpus/labels.jsonl", "--out", "b.safetensors", "--size", 16, "--widths", 4,
         "--blocks", 1, "--sample", "uniform:2", "--batch", 4, "--threads", 1]
p = vtag(*TRAIN, "--epochs", 1)
check(p.returncode == 0, "one epoch of training: " + p.stderr)
STATE = "b.state.safetensors"
shutil.copy(STATE, "pristine.safetensors")
header, data = read_st("pristine.safetensors")
state = json.loads(header["__metadata__"]["vtag.backbone_state"])
check(state.get("epoch") == 1 and len(state.get("rng", "")) == 16, "the state as written: %s" % state)


def altered_fields(**changes):
    s = dict(state)
    for k, v in changes.items():
        if v is None:
            s.pop(k, None)
        else:
            s[k] = v
    h = json.loads(json.dumps(header))
    h["__metadata__"]["vtag.backbone_state"] = json.dumps(s)
    write_st(STATE, h, data)


def altered_tensor(name, value):
    """The first float of tensor `name` set to value (a float32 bit pattern)."""
    off = header[name]["data_offsets"][0]
    write_st(STATE, header, data[:off] + struct.pack("<f", value) + data[off + 4:])


def renamed_tensor(name, new):
    h = {(new if k == name else k): v for k, v in header.items()}
    write_st(STATE, h, data)


def refused(what, field, epochs=2):
    before = open(STATE, "rb").read()
    p = vtag(*TRAIN, "--epochs", epochs, "--resume", timeout=30)
    lines = p.stderr.strip().splitlines()
    print("%s: exit %d: %s" % (what, p.returncode, lines[-1] if lines else ""))
    check(p.returncode == 1, "%s: exit %d (wanted 1)" % (what, p.returncode))
    err = [ln for ln in lines if ln.startswith("vtag backbone: ") and "resuming" not in ln and "training frames" not in ln]
    check(len(err) == 1, "%s: one error line: %s" % (what, lines))
    check(not any("resuming" in ln for ln in lines), "%s: it resumed: %s" % (what, lines))
    check(bool(err) and STATE in err[0] and field in err[0], "%s: names the file and '%s': %s" % (what, field, err))
    check(open(STATE, "rb").read() == before, "%s: the state file was changed" % what)


altered_fields(epoch=-2 ** 31)
refused("epoch -2^31", '"epoch"')
altered_fields(epoch=2 ** 40)
refused("epoch 2^40", '"epoch"')
altered_fields(epoch=3, adam_step=100)
refused("epoch 3 with --epochs 2", '"epoch"')
altered_fields(epoch="1")
refused("epoch as a string", '"epoch"')
altered_fields(epoch=None)
refused("no epoch", '"epoch"')
altered_fields(adam_step=-1)
refused("adam_step -1", '"adam_step"')
altered_fields(epoch=2, adam_step=1)
refused("adam_step below the epochs", '"adam_step"')
altered_fields(rng="zz")
refused("rng zz", '"rng"')
altered_fields(rng="0123456789abcde")
refused("rng of 15 digits", '"rng"')
altered_fields(rng="0123456789abcdef0")
refused("rng of 17 digits", '"rng"')
altered_fields(rng="0123456789abcdeg")
refused("rng with a non-hex digit", '"rng"')
altered_fields(best=5)
refused("best 5", '"best"')
altered_fields(best="nan")
refused("best as a string", '"best"')
altered_fields(beta1=1.0)
refused("an unknown field", '"beta1"')
altered_tensor("adam_v", float("nan"))
refused("a NaN second moment", '"adam_v"')
altered_tensor("adam_v", -1.0)
refused("a negative second moment", '"adam_v"')
altered_tensor("params", float("inf"))
refused("an infinite parameter", '"params"')
renamed_tensor("adam_m", "adam_x")
refused("no adam_m", '"adam_m"')

# the unaltered state resumes after epoch 1 and trains epoch 2
shutil.copy("pristine.safetensors", STATE)
p = vtag(*TRAIN, "--epochs", 2, "--resume")
check(p.returncode == 0, "the unaltered state resumes: " + p.stderr)
check("after epoch 1" in p.stderr and '"epoch": 2' in p.stderr, "resumed after epoch 1: " + p.stderr)

print("state resume: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
