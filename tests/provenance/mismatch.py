"""Issue 16, provenance: a caption model records the backbone its features
came from and its vocabulary, and is refused with another backbone or label
set. On the pipeline tests' tiny corpus (tests/pipeline/common.py):
  1. features and checkpoints record the backbone's SHA-256, equal to
     sha256sum's, and `vtag inspect` shows it with the vocabulary's hash;
  2. a backbone of the same sizes trained with another seed: `vtag tag
     --checkpoint C --backbone OTHER` exits 1 with one line naming both
     hashes, printing nothing; the right backbone still tags;
  3. `vtag eval --from` a run whose backbone.safetensors was replaced by the
     other exits 1; the run itself evaluates;
  4. a renamed label set: eval with its labels file exits 1 ("a renamed
     label set?"); `vtag tag --from` a run holding the renamed set's backbone
     and checkpoints without provenance (as older vtag wrote) exits 1;
  5. `vtag train --init C --scst` on features of the other backbone exits 1
     and writes nothing;
  6. checkpoints without provenance are accepted as before.

usage: mismatch.py VTAG FFMPEG WORKDIR"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
import common  # noqa: E402

VTAG, FFMPEG, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run(args, timeout=120):
    p = subprocess.run([VTAG] + args, env=env, capture_output=True, text=True, timeout=timeout)
    return p


def sha256sum(path):
    out = subprocess.run(["sha256sum", path], capture_output=True, text=True, check=True).stdout
    return out.split()[0]


def meta(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__", {})


def strip_provenance(path):
    """Rewrites a checkpoint without vtag.provenance, as vtag wrote it before."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    head = json.loads(data[8:8 + n])
    head["__metadata__"].pop("vtag.provenance", None)
    text = json.dumps(head, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data[8 + n:])


labels = common.make_corpus(FFMPEG, WORK)
renamed = os.path.join(WORK, "renamed.jsonl")
with open(labels) as f, open(renamed, "w") as g:
    for line in f:
        e = json.loads(line)
        e["class1"], e["class2"] = "k" + e["class1"], "k" + e["class2"]
        e["tags"] = ["t" + t for t in e["tags"]]
        g.write(json.dumps(e) + "\n")

runs = {}
for name, lab, seed in (("a", labels, "42"), ("b", labels, "7"), ("c", renamed, "42")):
    out = os.path.join(WORK, name)
    # b and c serve for their backbones and features: no SCST
    over = {"--seed": seed} if name == "a" else {"--seed": seed, "--scst-epochs": "0"}
    p = run(common.pipeline_args(lab, out, **over))
    check(p.returncode == 0, "pipeline %s: %s" % (name, p.stderr.strip()[-300:]))
    runs[name] = out
if failures:
    sys.exit(1)

A, B, C = runs["a"], runs["b"], runs["c"]
bb_a, bb_b, bb_c = (os.path.join(d, "backbone.safetensors") for d in (A, B, C))
ckpt = os.path.join(A, "fc.safetensors")
if not os.path.exists(ckpt):
    ckpt = os.path.join(A, "fc-xe.safetensors")
video = os.path.join(WORK, "v", "0.mp4")
sha_a, sha_b = sha256sum(bb_a), sha256sum(bb_b)
check(sha_a != sha_b, "the two backbones are different files")

# 1. recorded identity
feats = json.loads(meta(os.path.join(A, "features-train.safetensors"))["vtag.backbone"])
check(feats.get("sha256") == sha_a and feats.get("file") == "backbone.safetensors", "features record the backbone")
check(all(isinstance(feats.get(k), int) for k in ("fc", "att_k", "att")), "features record its sizes")
prov = json.loads(meta(ckpt)["vtag.provenance"])
vocab = meta(ckpt)["vtag.vocab"]
check(prov["backbone"]["sha256"] == sha_a, "the checkpoint records the backbone")
check(prov["vocab_sha256"] == hashlib.sha256(vocab.encode()).hexdigest(), "the checkpoint records its vocabulary")
p = run(["inspect", ckpt])
check(p.returncode == 0 and "sha256 " + sha_a in p.stdout and "vocabulary sha256 " + prov["vocab_sha256"] in p.stdout,
      "inspect shows the provenance: " + p.stdout[-300:])

# 2. vtag tag with another backbone of the same sizes
p = run(["tag", "--checkpoint", ckpt, "--backbone", bb_b, video])
msg = p.stderr.strip()
check(p.returncode == 1 and p.stdout == "", "tag --backbone other: exit 1, nothing printed (%s)" % p.returncode)
check("trained on features of backbone backbone.safetensors (sha256 %s" % sha_a[:8] in msg and
      "%s is another file (sha256 %s" % (bb_b, sha_b[:8]) in msg and "tag with the backbone it was trained with" in msg
      and len(msg.splitlines()) == 1, "tag --backbone other: the message: " + msg)
p = run(["tag", "--checkpoint", ckpt, "--backbone", bb_a, video])
check(p.returncode == 0 and json.loads(p.stdout.splitlines()[0]).get("video"), "tag with its backbone works")

# 3. eval --from a run whose backbone was replaced
swapped = os.path.join(WORK, "a-swapped")
shutil.copytree(A, swapped)
shutil.copyfile(bb_b, os.path.join(swapped, "backbone.safetensors"))
p = run(["eval", "--labels", labels, "--from", swapped, "--split", "val"])
check(p.returncode == 1 and "is another file" in p.stderr and "evaluate with the backbone" in p.stderr,
      "eval --from a run with another backbone: exit 1: " + p.stderr.strip()[-300:])
p = run(["eval", "--labels", labels, "--from", A, "--split", "val"])
check(p.returncode == 0, "eval --from the run works: " + p.stderr.strip()[-300:])

# 4. a renamed label set
p = run(["eval", "--labels", renamed, "--from", A, "--split", "val"])
check(p.returncode == 1 and "a renamed label set?" in p.stderr and renamed in p.stderr,
      "eval with renamed labels: exit 1: " + p.stderr.strip()[-300:])
old = os.path.join(WORK, "a-old")
shutil.copytree(A, old)
for f in os.listdir(old):
    if f.endswith(".safetensors") and f.startswith("fc"):
        strip_provenance(os.path.join(old, f))
p = run(["tag", "--from", old, video])
check(p.returncode == 0, "tag --from a run whose checkpoints lack provenance: accepted: " + p.stderr.strip()[-300:])
shutil.copyfile(bb_c, os.path.join(old, "backbone.safetensors"))
p = run(["tag", "--from", old, video])
check(p.returncode == 1 and p.stdout == "" and "a renamed label set?" in p.stderr,
      "tag --from with a backbone of renamed labels: exit 1: " + p.stderr.strip()[-300:])

p = run(["caption", "--model", ckpt, "--feats", os.path.join(B, "features-train.safetensors")])
check(p.returncode == 1 and p.stdout == "" and "caption with features of the backbone it was trained with" in p.stderr,
      "caption on features of another backbone: exit 1: " + p.stderr.strip()[-300:])

# 5. SCST from the checkpoint on features of the other backbone
out = os.path.join(WORK, "scst.safetensors")
p = run(["train", "--labels", labels, "--feats", os.path.join(B, "features-train.safetensors"), "--init", ckpt,
         "--scst", "--epochs", "1", "--out", out, "--threads", "1"])
check(p.returncode == 1 and "trained on features of backbone" in p.stderr and not os.path.exists(out),
      "train --init on features of another backbone: exit 1: " + p.stderr.strip()[-300:])
p = run(["train", "--labels", labels, "--feats", os.path.join(A, "features-train.safetensors"), "--init", ckpt,
         "--scst", "--epochs", "1", "--out", out, "--threads", "1", "--scst-batch", "2"])
check(p.returncode == 0 and json.loads(meta(out)["vtag.provenance"])["backbone"]["sha256"] == sha_a,
      "SCST from the checkpoint keeps its provenance: " + p.stderr.strip()[-300:])

# 6. an older checkpoint (no provenance) with any backbone of the right sizes
oldckpt = os.path.join(WORK, "old.safetensors")
shutil.copyfile(ckpt, oldckpt)
strip_provenance(oldckpt)
p = run(["tag", "--checkpoint", oldckpt, "--backbone", bb_b, video])
check(p.returncode == 0, "a checkpoint without provenance is accepted as before: " + p.stderr.strip()[-300:])

sys.exit(1 if failures else 0)
