#!/usr/bin/env bash
# vtag onnx-info from the command line: the taps and shapes of tiny.onnx, a named tap, and a
# broken model (exit 1, one line naming the node). usage: cli_test.sh VTAG DIR
set -euo pipefail
vtag=$1 dir=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
out=$("$vtag" onnx-info "$dir/tiny.onnx" --batch 4)
echo "$out"
grep -q '^input  input  *float \[?, 3, 32, 32\]' <<<"$out" || fail "input line"
grep -q '^output logits  *float \[4, 5\]' <<<"$out" || fail "output shape"
grep -q '^fc     /GlobalAveragePool_output_0 *float \[4, 16, 1, 1\] -> \[4, 16\]' <<<"$out" || fail "fc tap"
grep -q '^att    /Clip_output_0 *float \[4, 16, 8, 8\] -> \[4, 64, 16\]' <<<"$out" || fail "att tap"
grep -q 'Conv 2, BatchNormalization 2' <<<"$out" || fail "op counts"
out=$("$vtag" onnx-info "$dir/tiny.onnx" --fc-node /Relu_1_output_0 --att-node /pool/MaxPool_output_0 --values)
grep -q '^fc     /Relu_1_output_0 *float \[1, 16, 8, 8\] -> \[1, 1024\]' <<<"$out" || fail "named fc tap"
grep -q '^value  logits  *float \[1, 5\]' <<<"$out" || fail "--values"
set +e
err=$("$vtag" onnx-info "$dir/bad_op.onnx" 2>&1 >/dev/null); rc=$?
set -e
[ $rc -eq 1 ] || fail "bad model: exit $rc"
[ "$(wc -l <<<"$err")" -eq 1 ] && grep -q "FancyConv" <<<"$err" || fail "bad model message: $err"
"$vtag" onnx-info 2>/dev/null && fail "no argument accepted"
echo "onnx cli: ok"
