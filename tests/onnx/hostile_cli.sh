#!/usr/bin/env bash
# Hostile ONNX models (written to DIR/hostile by onnx/test_hostile_models) from the command line:
# vtag onnx-info and vtag features refuse each with exit 1 and one stderr line naming the node,
# features writes nothing (the baseline exited 0 with an att tensor of uninitialised memory for
# the 2^62 dilation); the well-formed twin goes through; and a model whose initializer declares
# 2^60 floats without data is refused in well under 200 MB (peak RSS from /usr/bin/time -v).
# usage: hostile_cli.sh VTAG DIR
set -uo pipefail
vtag=$1 dir=$2/hostile
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
cd "$dir" || exit 1

# refused: exit 1, one line on stderr, naming the file and every needle
refused() { # NEEDLE CMD...
    local needle=$1; shift
    local err rc
    err=$("$vtag" "$@" 2>&1 >/dev/null); rc=$?
    echo "vtag $* -> exit $rc: $err"
    [ $rc -eq 1 ] || bad "vtag $*: exit $rc (wanted 1)"
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || bad "vtag $*: not one line: $err"
    grep -qF -- "$needle" <<<"$err" || bad "vtag $*: the message does not name $needle: $err"
}

for m in conv_dilation conv_pads conv_group conv_same_dilation; do
    refused "node 'hostile_conv' (Conv)" onnx-info "$m.onnx"
done
refused "node 'hostile_reshape' (Reshape)" onnx-info reshape_wrap.onnx --fc-node y --att-node y
refused "node 'hostile_pad' (Pad)" onnx-info pad_huge.onnx --fc-node y --att-node y
refused "initializer 'H'" onnx-info init_no_data.onnx

# names from the model are printed escaped: no control byte reaches the terminal
out=$("$vtag" onnx-info escape_names.onnx 2>&1); rc=$?
echo "vtag onnx-info escape_names.onnx -> exit $rc: $out"
[ $rc -eq 0 ] || bad "onnx-info escape_names.onnx: exit $rc"
if printf '%s' "$out" | LC_ALL=C grep -q $'\x1b'; then bad "onnx-info printed an ESC byte"; fi
grep -qF 'pool\nout' <<<"$out" || bad "onnx-info does not show the output name escaped: $out"

# features on a one-video corpus: the hostile conv is refused before anything is written
[ -f corpus/labels.jsonl ] || "$vtag" synth --out corpus --videos 1 --seed 5 --quiet --threads 1 ||
    bad "synth failed"
rm -f feats.safetensors good.safetensors
for m in conv_dilation conv_pads conv_group; do
    rm -f feats.safetensors
    refused "node 'hostile_conv' (Conv)" features --backbone "$m.onnx" --labels corpus/labels.jsonl \
        --out feats.safetensors --sample uniform:2 --threads 1 --quiet
    [ -e feats.safetensors ] && bad "features wrote feats.safetensors for $m.onnx"
done
"$vtag" features --backbone good_conv.onnx --labels corpus/labels.jsonl --out good.safetensors \
    --sample uniform:2 --threads 1 --quiet || bad "features on the well-formed model failed"
[ -s good.safetensors ] || bad "no features from the well-formed model"

# an initializer of 2^40 x 2^20 floats declared without data: refused before any allocation
/usr/bin/time -v -o time.txt "$vtag" onnx-info init_no_data.onnx >/dev/null 2>&1
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' time.txt)
echo "onnx-info init_no_data.onnx: peak RSS ${rss:-?} kB"
[ -n "$rss" ] && [ "$rss" -lt 204800 ] || bad "peak RSS ${rss:-?} kB (wanted < 200 MB)"

[ $fail -eq 0 ] && echo "onnx hostile cli: ok"
exit $fail
