#!/usr/bin/env python3
"""`vtag score` as a command: bad input (a malformed JSON line, a missing
field, a non-string token, …) exits 1 with one line naming the file and the
line and nothing on stdout; usage errors exit 2; good input prints one JSON
object. Usage: cli.py VTAG [WORKDIR]"""
import json
import os
import subprocess
import sys

failures = 0


def check(cond, msg):
    global failures
    if not cond:
        failures += 1
        print("FAIL " + msg)


def vtag(*args):
    p = subprocess.run([VTAG, "score"] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def write(name, text):
    path = os.path.join(WORK, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


GOOD = '{"id": 1, "cand": "a b", "refs": ["a b c"]}\n'
MGOOD = '{"id": 1, "pred": [["a", 0.9]], "true": ["a"]}\n'


def bad(name, text, line, want, multilabel=False, df=False):
    path = write("cli_" + name + ".jsonl", text)
    if df:
        args = ["--in", write("cli_ok.jsonl", GOOD), "--df-from", path]
    else:
        args = (["--multilabel"] if multilabel else []) + ["--in", path]
    rc, out, err = vtag(*args)
    where = "%s:%d:" % (path, line)
    check(rc == 1, "%s: exit %d, want 1" % (name, rc))
    check(out == "", "%s: stdout not empty: %r" % (name, out))
    check(err.count("\n") == 1 and err.startswith("vtag score: " + where),
          "%s: stderr %r does not start with 'vtag score: %s'" % (name, err, where))
    check(want in err, "%s: stderr %r lacks %r" % (name, err, want))
    print("%-28s exit %d  %s" % (name, rc, err.strip()))


def main():
    bad("malformed_json", GOOD + GOOD + '{"id": 3, "cand": "a", "refs": ["a"\n', 3, "malformed JSON")
    bad("not_an_object", GOOD + "42\n", 2, "expected a JSON object")
    bad("missing_cand", GOOD + '{"id": 2, "refs": ["a"]}\n', 2, 'missing field "cand"')
    bad("missing_refs", GOOD + "\n" + '{"id": 2, "cand": "a"}\n', 3, 'missing field "refs"')
    bad("non_string_ref", GOOD + '{"id": 2, "cand": "a", "refs": ["a", 7]}\n', 2, '"refs"[1] must be a string')
    bad("non_string_token", GOOD + '{"id": 2, "cand": ["a", null], "refs": ["a"]}\n', 2,
        '"cand": token 1 is not a string')
    bad("non_string_ref_token", GOOD + '{"id": 2, "cand": "a", "refs": [["a", 1.5]]}\n', 2,
        '"refs"[0]: token 1 is not a string')
    bad("empty_refs", GOOD + '{"id": 2, "cand": "a", "refs": []}\n', 2, "non-empty array")
    bad("unknown_field", GOOD + '{"id": 2, "cand": "a", "refs": ["a"], "ref": ["a"]}\n', 2,
        'unknown field "ref"')
    bad("df_from_bad", '{"refs": ["a"]}\n{"refs": "a"}\n', 2, '"refs" must be a non-empty array', df=True)
    bad("ml_malformed", MGOOD + '{"pred": [["a", 0.5]], "true": ["a"]\n', 2, "malformed JSON", multilabel=True)
    bad("ml_missing_true", MGOOD + '{"id": 2, "pred": []}\n', 2, 'missing field "true"', multilabel=True)
    bad("ml_missing_pred", MGOOD + MGOOD + '{"id": 3, "true": []}\n', 3, 'missing field "pred"', multilabel=True)
    bad("ml_non_string_label", MGOOD + '{"pred": [[1, 0.5]], "true": []}\n', 2, "label is not a string",
        multilabel=True)
    bad("ml_non_string_true", MGOOD + '{"pred": [], "true": [false]}\n', 2, "label is not a string",
        multilabel=True)
    bad("ml_bad_score", MGOOD + '{"pred": [["a", "0.5"]], "true": []}\n', 2, "score is not a number",
        multilabel=True)
    bad("ml_duplicate", MGOOD + '{"pred": [["a", 0.5], ["a", 0.4]], "true": []}\n', 2, "appears twice",
        multilabel=True)

    rc, out, err = vtag("--in", os.path.join(WORK, "cli_no_such_file.jsonl"))
    check(rc == 1 and out == "" and "cli_no_such_file.jsonl" in err, "missing file: %d %r" % (rc, err))
    rc, out, err = vtag("--in", write("cli_empty.jsonl", "\n"))
    check(rc == 1 and "no items" in err, "empty file: %d %r" % (rc, err))

    good = write("cli_good.jsonl", GOOD + '{"id": 2, "cand": "", "refs": ["x", "y z"]}\n')
    mgood = write("cli_mgood.jsonl", MGOOD)
    for args in ([], ["--in"], ["--in", good, "--k", "3"], ["--in", good, "--bogus"],
                 ["--multilabel", "--in", mgood, "--k", "0"], ["--multilabel", "--in", mgood, "--per-item"],
                 ["--multilabel", "--in", mgood, "--threshold", "nan"]):
        rc, out, err = vtag(*args)
        check(rc == 2 and out == "" and err.startswith("vtag score: "), "usage %s: exit %d %r" % (args, rc, err))
    rc, out, err = vtag("--help")
    check(rc == 0 and out.startswith("usage: vtag score"), "--help: %d" % rc)

    rc, out, err = vtag("--in", good, "--per-item")
    obj = json.loads(out) if rc == 0 else {}
    check(rc == 0 and err == "" and out.count("\n") == 1, "good captions: %d %r" % (rc, err))
    check(list(obj) == ["n", "CIDEr-D", "BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "per_item"],
          "caption keys: %s" % list(obj))
    check(obj.get("n") == 2 and len(obj.get("per_item", [])) == 2, "per_item: %r" % obj)
    rc, out, err = vtag("--multilabel", "--in", mgood, "--k", "5", "--threshold", "0.25")
    obj = json.loads(out) if rc == 0 else {}
    check(rc == 0 and obj.get("k") == 5 and obj.get("threshold") == 0.25, "multi-label options: %r" % obj)
    for key in ("OP", "OR", "OF1", "CP", "CR", "CF1", "OP@k", "CF1@k", "mAP", "GAP@k", "Hit@1"):
        check(key in obj, "multi-label output lacks %s" % key)
    print("cli: %d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    VTAG = sys.argv[1]
    WORK = sys.argv[2] if len(sys.argv) > 2 else "."
    os.makedirs(WORK, exist_ok=True)
    sys.exit(main())
