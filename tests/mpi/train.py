"""vtag train under mpirun (issue 20, must-show 1 and 3), on the e2e corpus's
features (fixture e2e_run), small models (64 units), one thread per rank.

Asserts:
  1. for each model (fc, att2in, topdown), 2 XE epochs then 1 SCST epoch with
     --micro-batches 2: `mpirun -np 2` and one process (no mpirun) write
     byte-identical checkpoints and training states, the same per-step losses
     and the same epoch records (timings aside); a second -np 2 run gives the
     same bytes again;
  2. --micro-batches 4 (topdown, 2 XE epochs): -np 1, -np 2 and -np 4 give
     byte-identical checkpoints (the fixed tree of micro-batch sums);
  3. against one process training each step on the whole batch (no
     --micro-batches, dropout 0 so that no random draw differs): -np 2's
     per-step losses agree within 1e-5 relative over the first 20 steps, the
     validation CIDEr-D within 0.5% and every weight tensor within 1e-3
     (max-abs difference over max-abs);
  4. rank 1 killed (SIGKILL) in the middle of an epoch: the job exits
     non-zero within 60 s, stderr names rank 1 (mpirun) and the epoch rank 0
     was in (vtag); the checkpoint still loads (vtag inspect); `--resume` under
     mpirun finishes, with a checkpoint and state byte-identical to an
     uninterrupted -np 2 run.

usage: train.py VTAG WORKDIR E2E_DIR MPIRUN [MPIRUN ARGS...]   (/usr/bin/python3, stdlib only)
"""
import array
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

VTAG, WORK, E2E, MPIRUN = sys.argv[1:5]
MPI = [MPIRUN] + sys.argv[5:]
failures = checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)


def run(args, np=None, ok=True):
    cmd = ([*MPI, "-np", str(np)] if np else []) + [VTAG] + args
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    print("%-5s vtag %-9s %-36s %5.1f s, exit %d" % ("np=%s" % (np or "-"), args[0], os.path.basename(args[-1]),
                                                   time.time() - t, p.returncode))
    if ok and p.returncode != 0:
        print(p.stderr[-3000:])
        raise SystemExit("FAIL: %s exited %d" % (" ".join(cmd), p.returncode))
    return p


def same_file(a, b):
    with open(a, "rb") as f, open(b, "rb") as g:
        return f.read() == g.read()


def records(path):
    """Epoch records without the timings."""
    out = []
    for line in open(path):
        r = json.loads(line)
        for k in ("seconds", "tokens_per_s", "captions_per_s"):
            r.pop(k, None)
        out.append(r)
    return out


def losses(path):
    return [json.loads(line)["loss"] for line in open(path)]


def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in head.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        a = array.array("f")
        a.frombytes(data[t["data_offsets"][0]:t["data_offsets"][1]])
        out[name] = a
    return out


ENV = dict(os.environ, OMP_WAIT_POLICY="passive")
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
labels = os.path.join(E2E, "corpus", "labels.jsonl")
feats = os.path.join(E2E, "run", "features-train.safetensors")
val = os.path.join(E2E, "run", "features-val.safetensors")
SMALL = ["train", "--labels", labels, "--feats", feats, "--val-feats", val, "--rnn-size", "64", "--input-encoding-size", "64",
         "--att-hid-size", "64", "--threads", "1"]


def train(name, model, np, extra):
    out = os.path.join(WORK, name)
    args = SMALL + ["--model", model, "--log", out + ".log", "--step-log", out + ".steps"] + extra + ["--out",
                                                                                                     out + ".safetensors"]
    run(args, np)
    return out


# 1. -np 2 = one process, for every model, XE then SCST, and -np 2 twice
for model in ("fc", "att2in", "topdown"):
    extra = ["--epochs", "3", "--scst-after", "2", "--micro-batches", "2"]
    one = train(model + "-np1", model, None, extra)
    two = train(model + "-np2", model, 2, extra)
    for ext in (".safetensors", ".state.safetensors", ".steps"):
        check(same_file(one + ext, two + ext), "%s: -np 2 and one process: %s differ" % (model, ext))
    check(records(one + ".log") == records(two + ".log"), "%s: the epoch records differ" % model)
    check([json.loads(x)["phase"] for x in open(one + ".log")] == ["xe", "xe", "scst"], "%s: 2 XE + 1 SCST" % model)
    if model == "topdown":
        again = train(model + "-np2-again", model, 2, extra)
        check(same_file(two + ".safetensors", again + ".safetensors"), "topdown: two -np 2 runs differ")

# 2. --micro-batches 4: -np 1, 2, 4
extra = ["--epochs", "2", "--micro-batches", "4"]
outs = [train("m4-np%d" % np, "topdown", np, extra) for np in (1, 2, 4)]
for o, np in zip(outs[1:], (2, 4)):
    check(same_file(outs[0] + ".safetensors", o + ".safetensors"), "--micro-batches 4: -np %d differs from -np 1" % np)

# 3. against the whole-batch step of one process (dropout 0: the same draws)
whole = train("whole", "topdown", None, ["--epochs", "2", "--dropout", "0"])
shard = train("shard", "topdown", 2, ["--epochs", "2", "--dropout", "0", "--micro-batches", "2"])
a, b = losses(whole + ".steps")[:20], losses(shard + ".steps")[:20]
rel = max(abs(x - y) / abs(x) for x, y in zip(a, b))
check(len(a) == 20 and rel <= 1e-5, "whole batch vs -np 2: per-step losses differ by %.3g relative" % rel)
va, vb = records(whole + ".log")[-1]["val_cider_d"], records(shard + ".log")[-1]["val_cider_d"]
check(abs(va - vb) <= 0.005 * max(abs(va), 1e-9), "validation CIDEr-D %.6f vs %.6f" % (va, vb))
ta, tb = tensors(whole + ".safetensors"), tensors(shard + ".safetensors")
worst = max(max(abs(x - y) for x, y in zip(ta[k], tb[k])) / max(max(abs(x) for x in ta[k]), 1e-30) for k in ta)
check(set(ta) == set(tb) and worst <= 1e-3, "whole batch vs -np 2: weights differ by %.3g relative" % worst)
print("whole batch vs -np 2: losses %.2g, val CIDEr-D %.6f vs %.6f, weights %.2g" % (rel, va, vb, worst))

# 4. a rank killed mid-epoch, then --resume
extra = ["--epochs", "6", "--micro-batches", "2"]
full = train("full", "topdown", 2, extra)
killed = os.path.join(WORK, "killed")
args = SMALL + ["--model", "topdown", "--log", killed + ".log", "--step-log", killed + ".steps"] + extra + [
    "--out", killed + ".safetensors"]
p = subprocess.Popen([*MPI, "-np", "2", VTAG] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                     env=ENV, start_new_session=True)


def rank1_pid(root):
    """The vtag process of rank 1 under mpirun `root`."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
            stat = open("/proc/%s/stat" % pid).read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == root and b"OMPI_COMM_WORLD_RANK=1" in env:
            return int(pid)
    return None


try:
    deadline = time.time() + 300
    # in the middle of epoch 3: epochs 1 and 2 saved, some steps of 3 done
    while time.time() < deadline and p.poll() is None:
        if os.path.exists(killed + ".steps") and any(json.loads(x)["epoch"] == 3 and json.loads(x)["step"] >= 5
                                                     for x in open(killed + ".steps")):
            break
        time.sleep(0.05)
    victim = rank1_pid(p.pid)
    check(victim is not None, "found rank 1's process")
    if victim:
        os.kill(victim, signal.SIGKILL)
    t0 = time.time()
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        check(False, "the job did not end within 60 s of rank 1's death")
    print("rank 1 killed: the job ended in %.1f s, exit %d" % (time.time() - t0, p.returncode))
    print("\n".join(line for line in err.splitlines() if "rank" in line))
    check(p.returncode != 0, "the job exits non-zero when a rank dies")
    check("rank 1" in err, "stderr names rank 1")
    check("epoch 3/6" in err, "stderr names the epoch rank 0 was in:\n" + err[-2000:])
finally:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
check(len(records(killed + ".log")) == 2, "two epochs were saved before the kill")
check(run(["inspect", killed + ".safetensors"], ok=False).returncode == 0, "the last checkpoint is intact")
r = run(args + ["--resume"], 2)
check("resuming from" in r.stderr and "after epoch 2" in r.stderr, "--resume continues after epoch 2:\n" + r.stderr)
for ext in (".safetensors", ".state.safetensors"):
    check(same_file(full + ext, killed + ext), "resumed run vs uninterrupted: %s differ" % ext)

print("%d checks, %d failures" % (checks, failures))
sys.exit(1 if failures else 0)
