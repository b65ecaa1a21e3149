"""vtag pipeline --keep-tag-order end to end on the pipeline tests' tiny
corpus (fc, one XE and one SCST epoch): the run finishes (its vtag train
stages, XE and SCST, take the flag: a launcher that writes its command
line shows it there and only there) and records "tag_order": "labels" in
pipeline.json; a rerun without the flag is refused with the manifest's
message and changes nothing; a rerun with it skips every stage; --restart
without it trains again and records "frequency". --help lists the option.

usage: pipeline_tag_order.py VTAG FFMPEG WORKDIR"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
import common  # noqa: E402

VTAG, FFMPEG, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
labels = common.make_corpus(FFMPEG, WORK)
out = os.path.join(WORK, "run")
manifest = os.path.join(out, "pipeline.json")
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run(*extra):
    return subprocess.run([VTAG] + common.pipeline_args(labels, out) + list(extra), env=env, capture_output=True,
                          text=True, timeout=240)


def order():
    with open(manifest) as f:
        return json.load(f).get("tag_order")


h = subprocess.run([VTAG, "pipeline", "--help"], capture_output=True, text=True, timeout=60)
check(h.returncode == 0 and "--keep-tag-order" in h.stdout, "--help lists --keep-tag-order")

argv_log = os.path.join(WORK, "argv.txt")
p = run("--keep-tag-order", "--launcher", "sh -c 'printf \"%%s\\n\" \"$*\" >> %s; exec \"$@\"' sh" % argv_log)
check(p.returncode == 0, "the pipeline with --keep-tag-order: exit %d %s" % (p.returncode, p.stderr[-500:]))
with open(argv_log) as f:
    lines = f.read().splitlines()
train = [x for x in lines if x.split()[1:2] == ["train"]]
check(len(lines) == 4 and len(train) == 2 and all(" --keep-tag-order" in x for x in train) and
      " --scst " in train[1] and not any("--keep-tag-order" in x for x in lines if x not in train),
      "--keep-tag-order on the XE and SCST stages' command lines only:\n" + "\n".join(lines))
check(os.path.isfile(manifest) and order() == "labels", "pipeline.json records tag_order labels")
check(os.path.isfile(os.path.join(out, "fc.safetensors")), "SCST finished")

with open(manifest, "rb") as f:
    before = f.read()
p = run()
want = "%s: was made with another tag_order; use --restart (or another --out)" % manifest
check(p.returncode == 1 and want in p.stderr, "a rerun without the flag is refused: exit %d %s" %
      (p.returncode, p.stderr[-500:]))
with open(manifest, "rb") as f:
    check(f.read() == before, "the refused rerun leaves pipeline.json as it was")

p = run("--keep-tag-order")
check(p.returncode == 0 and p.stderr.count("done before, skipped") == 5 and "cross-entropy, 1 epochs ..." not in
      p.stderr, "a rerun with the flag skips the 5 stages: exit %d %s" % (p.returncode, p.stderr[-500:]))

p = run("--restart")
check(p.returncode == 0 and "done before" not in p.stderr, "--restart without the flag: exit %d %s" %
      (p.returncode, p.stderr[-500:]))
check(order() == "frequency", "pipeline.json records tag_order frequency")

if failures:
    sys.exit("%d failures" % len(failures))
shutil.rmtree(WORK, ignore_errors=True)
