#!/bin/bash
# vtag eval from the command line: tables and --json on a hand-made case,
# run names, missing videos reported on stderr, and bad input (exit codes,
# FILE:LINE messages, no report left behind).
# usage: cli_test.sh VTAG WORKDIR
set -uo pipefail
VTAG=$1
W=$2
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
fail=0
expect() { # expect CODE DESCRIPTION -- command...
  local want=$1 what=$2
  shift 3
  "$@" >out.txt 2>err.txt
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL $what: exit $got, want $want"; cat err.txt; fail=1
  else
    echo "ok   $what"
  fi
}
has() { # has FILE TEXT DESCRIPTION
  if grep -qF -- "$2" "$1"; then echo "ok   $3"; else echo "FAIL $3: no \"$2\" in $1"; cat "$1"; fail=1; fi
}
cat > labels.jsonl <<'JSON'
{"video": "t1", "class1": "游戏", "class2": "王者荣耀", "tags": ["李白"], "split": "train"}
{"video": "t2", "class1": "体育", "class2": "足球", "tags": ["点球"], "split": "train"}
{"video": "v1", "class1": "游戏", "class2": "王者荣耀", "tags": ["李白", "五杀"], "split": "test"}
{"video": "v2", "class1": "体育", "class2": "足球", "tags": ["点球"], "split": "test"}
JSON
cat > fc.jsonl <<'JSON'
{"video": "v1", "class1": "游戏", "class2": "王者荣耀", "tags": [{"label": "游戏", "frames": 4, "score": 1.0}, {"label": "李白", "frames": 2, "score": 0.5}]}
{"video": "x9", "error": "not in the labels: ignored"}
JSON
cp fc.jsonl other.jsonl
expect 0 "eval runs" -- "$VTAG" eval --labels labels.jsonl --tags fc.jsonl --tags other=other.jsonl --per-video
has out.txt "2 test videos of labels.jsonl" "header"
grep -qE '^fc +[0-9.]+ ' out.txt && echo "ok   run named after its file" || { echo "FAIL run named after its file"; fail=1; }
grep -qE '^other +[0-9.]+ ' out.txt && echo "ok   run named on the command line" || { echo "FAIL run named on the command line"; fail=1; }
has out.txt "(missing)" "per-video: the missing video"
has err.txt "fc: 1 of 2 videos missing, 0 failed: v2 (missing)" "missing videos on stderr"
# v1: tags {游戏 李白} of {游戏 王者荣耀 李白 五杀}; v2 missing, 3 true: OP 1, OR 2/7, OF1 = 4/9
expect 0 "--json" -- "$VTAG" eval --labels labels.jsonl --tags fc.jsonl --json
/usr/bin/python3 - <<'PY' || fail=1
import json
d = json.load(open("out.txt"))
s = d["runs"][0]["scores"]
assert d["videos"] == 2 and s["missing"] == 1, d
assert abs(s["OP"] - 1) < 1e-9 and abs(s["OR"] - 2 / 7) < 1e-9 and abs(s["OF1"] - 4 / 9) < 1e-9, s
assert abs(s["class1_acc"] - 0.5) < 1e-9 and abs(s["class2_acc"] - 0.5) < 1e-9, s
assert d["per_video"][1]["pred"]["fc"]["status"] == "missing"
print("ok   --json figures")
PY
# --keep-tag-order: v1's reference lists 五杀 before 李白 (the labels' order; by
# training frequency 李白 comes first), so a run guessing in that order scores higher
sed 's/\["李白", "五杀"\]/["五杀", "李白"]/' labels.jsonl > kept.jsonl
printf '{"video": "v1", "class1": "游戏", "class2": "王者荣耀", "tags": [{"label": "五杀", "frames": 3, "score": 0.6}, {"label": "李白", "frames": 2, "score": 0.5}]}\n' > k.jsonl
"$VTAG" eval --labels kept.jsonl --tags k.jsonl --json > freq.json 2>/dev/null
expect 0 "--keep-tag-order" -- "$VTAG" eval --labels kept.jsonl --tags k.jsonl --json --keep-tag-order
/usr/bin/python3 - <<'PY' || fail=1
import json
f = json.load(open("freq.json"))["runs"][0]["scores"]; k = json.load(open("out.txt"))["runs"][0]["scores"]
assert k["CIDEr-D"] > f["CIDEr-D"] and k["OF1"] == f["OF1"], (k["CIDEr-D"], f["CIDEr-D"])
print("ok   --keep-tag-order: the references in the labels' order (CIDEr-D %.3f > %.3f)" % (k["CIDEr-D"], f["CIDEr-D"]))
PY
expect 2 "no --labels" -- "$VTAG" eval --tags fc.jsonl
expect 2 "bad option" -- "$VTAG" eval --labels labels.jsonl --tags fc.jsonl --bogus
expect 2 "bad --split" -- "$VTAG" eval --labels labels.jsonl --tags fc.jsonl --split dev
expect 0 "--help" -- "$VTAG" eval --help
has out.txt "usage: vtag eval" "help text"
expect 1 "duplicate run names" -- "$VTAG" eval --labels labels.jsonl --tags fc.jsonl --tags fc=other.jsonl
has err.txt 'two runs are named "fc"' "duplicate run message"
printf '{"video": "v1", "class1": "a", "class2": null, "tags": []}\n{"video": "v2", "tags": 3}\n' > bad.jsonl
expect 1 "bad tags file" -- "$VTAG" eval --labels labels.jsonl --tags bad.jsonl --report r.html
has err.txt "bad.jsonl:2:" "error names the file and the line"
[ ! -e r.html ] && echo "ok   no report after a failure" || { echo "FAIL report written after a failure"; fail=1; }
expect 1 "missing tags file" -- "$VTAG" eval --labels labels.jsonl --tags nope.jsonl
expect 1 "empty split" -- "$VTAG" eval --labels labels.jsonl --tags fc.jsonl --split val
has err.txt "no val video" "empty split message"
expect 0 "report without frames" -- "$VTAG" eval --labels labels.jsonl --tags fc.jsonl --report r.html --sample-videos 1
has r.html "frames unavailable" "undecodable videos are listed without frames"
expect 1 "report in a missing folder" -- "$VTAG" eval --labels labels.jsonl --tags fc.jsonl --report no/such/dir/r.html
has err.txt "no/such/dir/r.html" "the error names the report"
exit $fail
