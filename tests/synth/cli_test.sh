#!/usr/bin/env bash
# vtag synth from the command line: help, usage errors (exit 2), failures
# (exit 1, one line), the same seed twice (byte-identical files), another
# seed, progress on stderr only, and no temporary files.
# usage: cli_test.sh VTAG   (run in the build's fixtures folder)
set -uo pipefail
vtag=$1
dir=synth_cli
rm -rf "$dir"
mkdir -p "$dir"
fails=0
pass=0
check() { # description, condition (as a command)
  local what=$1
  shift
  if "$@"; then pass=$((pass + 1)); else
    fails=$((fails + 1))
    echo "FAIL: $what" >&2
  fi
}
code() { # expected exit code, command...
  local want=$1
  shift
  "$@" > "$dir/out.txt" 2> "$dir/err.txt"
  local got=$?
  [ "$got" -eq "$want" ] || { echo "exit $got, expected $want: $*" >&2; cat "$dir/err.txt" >&2; return 1; }
}

check "help" code 0 "$vtag" synth --help
check "help names the options" grep -q -- "--videos N" "$dir/out.txt"
check "listed by vtag --help" bash -c "'$vtag' --help | grep -q synth"
check "no --out" code 2 "$vtag" synth
check "no --out message" grep -q -- "--out DIR is required" "$dir/err.txt"
check "--videos 0" code 2 "$vtag" synth --out "$dir/x" --videos 0
check "--videos abc" code 2 "$vtag" synth --out "$dir/x" --videos abc
check "--seed -1" code 2 "$vtag" synth --out "$dir/x" --seed -1
check "--seed too big" code 2 "$vtag" synth --out "$dir/x" --seed 18446744073709551616
check "--codec vp9" code 2 "$vtag" synth --out "$dir/x" --codec vp9
check "--codec message" grep -q "auto, h264 or mpeg4" "$dir/err.txt"
check "unknown option" code 2 "$vtag" synth --out "$dir/x" --colour red
check "stray argument" code 2 "$vtag" synth --out "$dir/x" extra
check "--shapes with --fashion-mnist" code 2 "$vtag" synth --out "$dir/x" --shapes --fashion-mnist /tmp
check "--videos without a value" code 2 "$vtag" synth --out "$dir/x" --videos
check "nothing written on usage errors" test ! -e "$dir/x"

check "missing dataset folder" code 1 "$vtag" synth --out "$dir/x" --fashion-mnist "$dir/no-such-folder" --videos 1
check "missing dataset message" grep -q "no Fashion-MNIST file" "$dir/err.txt"
check "one-line error" test "$(wc -l < "$dir/err.txt")" -eq 1
: > "$dir/afile"
check "--out is a file" code 1 "$vtag" synth --out "$dir/afile" --videos 1 --shapes
check "--out is a file: message" grep -q "afile" "$dir/err.txt"

check "seed 3, first run" code 0 env VTAG_PROGRESS_SECONDS=0.001 "$vtag" synth --out "$dir/a" --videos 3 --seed 3 --shapes
check "nothing on stdout" test ! -s "$dir/out.txt"
check "progress on stderr" grep -q "3/3 videos" "$dir/err.txt"
check "summary on stderr" grep -q "labels in $dir/a/labels.jsonl" "$dir/err.txt"
check "seed 3, second run" code 0 "$vtag" synth --out "$dir/b" --videos 3 --seed 3 --shapes --threads 1 --quiet
check "--quiet is quiet" test ! -s "$dir/err.txt"
check "same labels" cmp -s "$dir/a/labels.jsonl" "$dir/b/labels.jsonl"
for i in 000000 000001 000002; do
  check "same video $i" cmp -s "$dir/a/videos/$i.mp4" "$dir/b/videos/$i.mp4"
done
check "three lines" test "$(wc -l < "$dir/a/labels.jsonl")" -eq 3
check "relative paths and splits" grep -q '"video": "videos/000000.mp4".*"split": "\(train\|val\|test\)"}' "$dir/a/labels.jsonl"
check "seed 4" code 0 "$vtag" synth --out "$dir/c" --videos 3 --seed 4 --shapes --quiet
check "another seed, other labels" bash -c "! cmp -s '$dir/a/labels.jsonl' '$dir/c/labels.jsonl'"
check "another seed, other video" bash -c "! cmp -s '$dir/a/videos/000000.mp4' '$dir/c/videos/000000.mp4'"
check "--seed=3 spelling, rerun over an existing corpus" code 0 "$vtag" synth --out="$dir/a" --videos=3 --seed=3 --shapes --quiet
check "rerun gives the same labels" cmp -s "$dir/a/labels.jsonl" "$dir/b/labels.jsonl"
check "no temporary files" test -z "$(find "$dir" -name '*.tmp.*')"
check "the video module reads it" code 0 "$vtag" probe "$dir/a/videos/000001.mp4"

rm -rf "$dir"
echo "synth/cli: $pass passed, $fails failed"
[ "$fails" -eq 0 ]
