"""The vtag Python package against the CLI (run by install.py with the venv's Python): the
package is the installed one, its library the installed libvtag.so; Tagger.tag gives the dict
of vtag tag --from's line for each video (options too; a broken file raises vtag.Error with its
error line); score gives what vtag score prints (dicts, lists, token lists, --per-item,
--df-from; a bad input raises); read_features gives the features file's arrays and item ids.

usage: use_package.py VTAG RUN_DIR LIBRARY_FILE VIDEO... (the last video broken)
"""
import json
import os
import subprocess
import sys

import numpy as np

import vtag

VTAG, RUN, LIBFILE = sys.argv[1:4]
VIDEOS = sys.argv[4:]
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def cli(*args, ok=(0,)):
    p = subprocess.run([VTAG] + list(args), capture_output=True, text=True, timeout=120)
    if p.returncode not in ok:
        raise SystemExit("vtag %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


check(os.path.realpath(vtag.__file__).startswith(os.path.realpath(sys.prefix)), "vtag imported from the venv: " +
      vtag.__file__)
check(vtag.library_version() == "0.1.0", "library_version")
with open("/proc/self/maps") as f:
    maps = f.read()
check(os.path.realpath(LIBFILE) in maps, "the installed %s is the one loaded" % LIBFILE)

# ---- Tagger ------------------------------------------------------------------------------------
lines = cli("tag", "--from", RUN, *VIDEOS, ok=(1,)).strip("\n").split("\n")
with vtag.Tagger(RUN) as t:
    for v, line in zip(VIDEOS[:-1], lines):
        d = t.tag(v)
        check(d == json.loads(line), "Tagger.tag(%s) == vtag tag's line:\n%s\n%s" % (v, d, line))
        check(t.tag(v) == d, "a second tag of %s gives the same dict" % v)
    try:
        t.tag(VIDEOS[-1])
        check(False, "a broken file raises vtag.Error")
    except vtag.Error as e:
        want = json.loads(lines[-1])
        check(e.line == want and want["error"] in str(e), "the error carries vtag tag's error line: %r %r" %
              (e.line, str(e)))
for kw, args in (({"top_n": 1}, ["--top-n", "1"]), ({"min_frames": 0}, ["--min-frames", "0"]),
                 ({"min_score": 0.6}, ["--min-score", "0.6"]),
                 ({"model": "fc", "threads": 1, "beam": 2}, ["--model", "fc", "--threads", "1", "--beam", "2"])):
    want = json.loads(cli("tag", "--from", RUN, *args, VIDEOS[0]))
    with vtag.Tagger(RUN, **kw) as t:
        check(t.tag(VIDEOS[0]) == want, "Tagger(%s) == vtag tag %s" % (kw, " ".join(args)))
try:
    vtag.Tagger(RUN, min_score=1.5)
    check(False, "min_score 1.5 is refused")
except vtag.Error as e:
    check("min_score" in str(e), "min_score 1.5: " + str(e))
try:
    vtag.Tagger(RUN, top_n=1, min_frames=1)
    check(False, "top_n with min_frames is refused")
except vtag.Error as e:
    check("exclude" in str(e), "top_n with min_frames: " + str(e))
try:
    vtag.Tagger(os.path.join(RUN, "nothing-here"))
    check(False, "a missing run folder is refused")
except vtag.Error as e:
    check("nothing-here" in str(e), "a missing run folder is named: " + str(e))

# ---- score -------------------------------------------------------------------------------------
cands = {"a": "游戏 王者荣耀 李白", "b": "red big", "c": "", "d": ["blue", "sky blue"]}
refs = {"a": ["游戏 王者荣耀 李白 五杀", "游戏 王者荣耀"], "b": ["red big", "red"], "c": ["blue"],
        "d": [["blue", "sky blue"], "blue sky"]}
df_refs = [["red", "red big thing"], ["游戏"], ["blue sky", "blue"]]
with open("score-in.jsonl", "w", encoding="utf-8") as f:
    for k in cands:
        f.write(json.dumps({"id": k, "cand": cands[k], "refs": refs[k]}, ensure_ascii=False) + "\n")
with open("score-df.jsonl", "w", encoding="utf-8") as f:
    for r in df_refs:
        f.write(json.dumps({"refs": r}, ensure_ascii=False) + "\n")
want = json.loads(cli("score", "--in", "score-in.jsonl"))
check(vtag.score(cands, refs) == want, "score(dicts) == vtag score: %s vs %s" % (vtag.score(cands, refs), want))
check(vtag.score(list(cands.values()), list(refs.values())) == want, "score(lists) == vtag score")
check(want["n"] == 4 and want["CIDEr-D"] > 0, "the scores are not trivial: %s" % want)
want = json.loads(cli("score", "--in", "score-in.jsonl", "--per-item"))
got = vtag.score(cands, refs, per_item=True)
check(got == want and len(got["per_item"]) == 4, "score(per_item) == --per-item: %s vs %s" % (got, want))
want = json.loads(cli("score", "--in", "score-in.jsonl", "--df-from", "score-df.jsonl", "--per-item"))
got = vtag.score(cands, refs, df_refs=df_refs, per_item=True)
check(got == want, "score(df_refs) == --df-from: %s vs %s" % (got, want))
check(got["CIDEr-D"] != vtag.score(cands, refs)["CIDEr-D"], "df_refs changes CIDEr-D")
try:
    vtag.score({"x": "a"}, {"x": []})
    check(False, "empty refs raise")
except vtag.Error as e:
    check("refs" in str(e), "empty refs: " + str(e))
try:
    vtag.score({"x": "a"}, {"y": ["a"]})
    check(False, "a candidate without refs raises")
except KeyError:
    pass

# ---- read_features -----------------------------------------------------------------------------
path = os.path.join(RUN, "features-train.safetensors")
f = vtag.read_features(path)
with open(os.path.join(os.path.dirname(os.path.abspath(RUN)), "labels.jsonl")) as lf:
    train = [json.loads(x)["video"] for x in lf if json.loads(x)["split"] == "train"]
check(f["items"] == [v for v in train for _ in range(2)], "items: two frames per train video: %s" % f["items"])
check(f["fc"].dtype == np.float32 and f["fc"].shape[0] == len(f["items"]), "fc (N, D): %s" % (f["fc"].shape,))
check("att" not in f or f["att"].shape[0] == len(f["items"]), "att rows")
check(np.isfinite(f["fc"]).all() and np.abs(f["fc"]).sum() > 0, "fc holds numbers")
info = cli("inspect", path)
check(("[%s]" % ", ".join(str(d) for d in f["fc"].shape)) in info.replace("x", ", ") or
      str(f["fc"].shape[1]) in info, "vtag inspect agrees on fc's shape:\n" + info)
# The values, against the project's own safetensors reader (reference/).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
import safetensors_io  # noqa: E402
try:
    ref, _ = safetensors_io.load(path)
except (ValueError, KeyError):  # its reader knows no U8: the items tensor (large files only)
    ref = None
if ref is not None:
    check(np.array_equal(np.asarray(ref["fc"].values, dtype=np.float32).reshape(ref["fc"].shape), f["fc"]),
          "fc equals reference/safetensors_io's")
with open("bad.safetensors", "wb") as bf:
    bf.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
try:
    vtag.read_features("bad.safetensors")
    check(False, "a bad file raises")
except ValueError as e:
    check("bad.safetensors" in str(e), "a bad file is named: %s" % e)

print("use_package: %d checks, %d failed" % (checks, len(failures)))
sys.exit(1 if failures else 0)
