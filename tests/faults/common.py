"""Shared pieces of the fault tests (tests/faults): running vtag, counting
checks, file digests, and the small fixture every test starts from.

The fixture (make_fixture, run once by faults/fixture) is 8 one-second clips
made by the ffmpeg CLI with a labels file, a 1-epoch built-in backbone on them,
its features, a 1-epoch fc caption model on those features, a tiny ONNX model,
and the synthetic feature corpus of tests/caption/corpus.py for the training
tests. (vtag synth would do, but takes half a minute in the ASan build.)"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "reference"))
sys.path.insert(0, os.path.join(HERE, "..", "caption"))


class Checks:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL:", what, flush=True)
        return cond

    def done(self):
        print("%s: %d checks passed, %d failed" % (self.name, self.passed, self.failed))
        sys.exit(1 if self.failed else 0)


def run(vtag, args, stdout=subprocess.PIPE, **kw):
    """Runs vtag ARGS; returns the CompletedProcess (text stderr)."""
    p = subprocess.run([vtag] + [str(a) for a in args], stdout=stdout, stderr=subprocess.PIPE, **kw)
    p.err = p.stderr.decode("utf-8", "replace")
    return p


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def one_line(text):
    """The message lines of stderr (JSON epoch lines left out)."""
    return [l for l in text.splitlines() if l.strip() and not l.startswith("{")]


def tiny_onnx(path):
    """A one-node ONNX model (Relu over float [1, 3, 8, 8]) in hand-written protobuf."""
    def varint(n):
        out = b""
        while True:
            b = n & 0x7F
            n >>= 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out

    def field(num, wire, payload):
        key = varint(num << 3 | wire)
        if wire == 0:
            return key + varint(payload)
        return key + varint(len(payload)) + payload

    def s(num, text):
        return field(num, 2, text.encode())

    def value_info(name, dims):
        shape = b"".join(field(1, 2, field(1, 0, d)) for d in dims)  # TensorShapeProto.dim.dim_value
        tensor_type = field(1, 0, 1) + field(2, 2, shape)            # elem_type FLOAT, shape
        return s(1, name) + field(2, 2, field(1, 2, tensor_type))    # name, type.tensor_type
    node = s(1, "x") + s(2, "y") + s(3, "relu") + s(4, "Relu")
    graph = field(1, 2, node) + s(2, "g") + field(11, 2, value_info("x", [1, 3, 8, 8])) + \
        field(12, 2, value_info("y", [1, 3, 8, 8]))
    model = field(1, 0, 8) + s(2, "faults") + field(7, 2, graph) + field(8, 2, s(1, "") + field(2, 0, 13))
    with open(path, "wb") as f:
        f.write(model)


def make_fixture(vtag, d):
    """Builds the fixture into d (replaced)."""
    import corpus  # tests/caption/corpus.py
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    videos = os.path.join(d, "corpus", "videos")
    os.makedirs(videos)
    with open(os.path.join(d, "corpus", "labels.jsonl"), "w") as f:
        for i in range(8):
            clip = "videos/%06d.mp4" % i
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                            "testsrc=size=48x48:rate=8,hue=h=%d" % (45 * i), "-t", "1", "-c:v", "mpeg4", "-q:v", "5",
                            os.path.join(d, "corpus", clip)], check=True)
            f.write(json.dumps({"video": clip, "class1": ["red", "blue"][i % 2], "class2": "c%d" % (i % 4),
                                "tags": ["t%d" % (i % 3), "u%d" % (i % 2)],
                                "split": ["train", "train", "train", "train", "train", "val", "test", "test"][i]})
                    + "\n")
    steps = [
        ["backbone", "train", "--labels", os.path.join(d, "corpus", "labels.jsonl"), "--out",
         os.path.join(d, "backbone.safetensors"), "--size", 16, "--widths", 4, "--blocks", 1, "--sample",
         "uniform:2", "--epochs", 1, "--batch", 4, "--threads", 2],
        ["features", "--backbone", os.path.join(d, "backbone.safetensors"), "--labels",
         os.path.join(d, "corpus", "labels.jsonl"), "--out", os.path.join(d, "features.safetensors"), "--sample",
         "uniform:2", "--quiet", "--threads", 1],
        ["train", "--labels", os.path.join(d, "corpus", "labels.jsonl"), "--feats",
         os.path.join(d, "features.safetensors"), "--model", "fc", "--out", os.path.join(d, "model.safetensors"),
         "--epochs", 1, "--rnn-size", 8, "--input-encoding-size", 8, "--batch", 4, "--threads", 2],
    ]
    for args in steps:
        p = run(vtag, args)
        if p.returncode != 0:
            sys.exit("fixture: vtag %s failed (%d): %s" % (" ".join(map(str, args)), p.returncode, p.err))
    os.remove(os.path.join(d, "model.state.safetensors"))
    os.remove(os.path.join(d, "backbone.state.safetensors"))
    tiny_onnx(os.path.join(d, "tiny.onnx"))
    corpus.make(os.path.join(d, "caption"), seed=7, frames=4, n_videos=12, n_val=3)
    # a tag file and a score file for eval / score
    labels = [json.loads(l) for l in open(os.path.join(d, "corpus", "labels.jsonl"))]
    with open(os.path.join(d, "tags.jsonl"), "w") as f:
        for e in labels:
            f.write(json.dumps({"video": e["video"], "class1": e["class1"], "class2": e["class2"],
                                "tags": [{"label": t, "frames": 1, "score": 1.0} for t in e["tags"]],
                                "labels": [], "frames": []}) + "\n")
    with open(os.path.join(d, "captions.jsonl"), "w") as f:
        f.write(json.dumps({"id": 1, "cand": "a b c", "refs": ["a b c", "a b d"]}) + "\n")
        f.write(json.dumps({"id": 2, "cand": "a c", "refs": ["a b c d"]}) + "\n")
    with open(os.path.join(d, "multilabel.jsonl"), "w") as f:
        f.write(json.dumps({"id": 1, "pred": [["a", 0.9], ["b", 0.2]], "true": ["a"]}) + "\n")
        f.write(json.dumps({"id": 2, "pred": [["a", 0.1], ["b", 0.8]], "true": ["b"]}) + "\n")


def fixture_paths(d):
    c = os.path.join(d, "corpus")
    return {
        "labels": os.path.join(c, "labels.jsonl"),
        "video": os.path.join(c, "videos", "000000.mp4"),
        "backbone": os.path.join(d, "backbone.safetensors"),
        "feats": os.path.join(d, "features.safetensors"),
        "model": os.path.join(d, "model.safetensors"),
        "onnx": os.path.join(d, "tiny.onnx"),
        "tags": os.path.join(d, "tags.jsonl"),
        "captions": os.path.join(d, "captions.jsonl"),
        "multilabel": os.path.join(d, "multilabel.jsonl"),
        "cap_labels": os.path.join(d, "caption", "labels.jsonl"),
        "cap_train": os.path.join(d, "caption", "train.safetensors"),
        "cap_val": os.path.join(d, "caption", "val.safetensors"),
    }


def copy_fixture(src, dst):
    """A private copy of the fixture in dst (the tests change files)."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, symlinks=True)
    return fixture_paths(dst)


if __name__ == "__main__":
    # usage: common.py VTAG DIR   (builds the fixture)
    make_fixture(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
    print("fixture written to", sys.argv[2])
