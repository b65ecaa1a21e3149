#!/usr/bin/python3
"""PyTorch reference for tests/cnn/test_parity.c: every layer of include/vtag/cnn.h with fixed
weights and a fixed batch; writes inputs, weights, outputs, upstream gradients and all gradients.

As in layers.py, every input and weight is drawn, rounded to float32 and used in float64, so the
stored (float32-rounded) outputs and gradients are exact references for the same float32 inputs.
The loss of each layer is sum(out * G) for a fixed random G ("<layer>.G"). Each layer also stores
its hyper-parameters as an I32 tensor "<layer>.dims":
  conv:  kh kw stride_h stride_w pad_top pad_left pad_bottom pad_right dil_h dil_w groups has_bias
  pool:  kh kw stride_h stride_w pad_top pad_left pad_bottom pad_right dil_h dil_w ceil count_include_pad
Asymmetric padding is F.pad (zeros) before an unpadded conv, as an ONNX importer feeds it.
Run with Debian's /usr/bin/python3 and python3-torch:  cnn_layers.py --out cnn_layers.safetensors
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

SEED = 20261126


def f32(t):
    return t.detach().to(torch.float32).to(torch.float64)


def randn(*shape, scale=1.0):
    return f32(torch.randn(*shape, dtype=torch.float64) * scale)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


class Fixture:
    def __init__(self):
        self.tensors = {}

    def f(self, name, t):
        if name in self.tensors:
            raise KeyError("duplicate tensor " + name)
        self.tensors[name] = safetensors_io.from_torch(t.detach().to(torch.float32), "F32")

    def i(self, name, values):
        self.tensors[name] = safetensors_io.from_torch(torch.tensor(values, dtype=torch.int32), "I32")


def conv(fx, name, n, cin, h, w, cout, k, stride=(1, 1), pad=(0, 0, 0, 0), dil=(1, 1), groups=1, bias=True):
    """pad = (top, left, bottom, right)."""
    kh, kw = k
    x = leaf(randn(n, cin, h, w))
    wt = leaf(randn(cout, cin // groups, kh, kw, scale=(cin // groups * kh * kw) ** -0.5))
    b = leaf(randn(cout)) if bias else None
    top, left, bottom, right = pad
    xp = F.pad(x, (left, right, top, bottom))
    out = F.conv2d(xp, wt, b, stride=stride, dilation=dil, groups=groups)
    G = randn(*out.shape)
    (out * G).sum().backward()
    fx.i(name + ".dims", [kh, kw, stride[0], stride[1], top, left, bottom, right, dil[0], dil[1], groups,
                          1 if bias else 0])
    for t, v in [("x", x), ("w", wt), ("out", out), ("G", G), ("dx", x.grad), ("dw", wt.grad)]:
        fx.f(name + "." + t, v)
    if bias:
        fx.f(name + ".b", b)
        fx.f(name + ".db", b.grad)


def batchnorm(fx, name, n, c, h, w, momentum=0.1, eps=1e-5):
    x = leaf(randn(n, c, h, w) * 1.5 + 0.7)
    bn = torch.nn.BatchNorm2d(c, eps=eps, momentum=momentum)
    with torch.no_grad():
        bn.weight.copy_(f32(torch.rand(c) + 0.5))
        bn.bias.copy_(randn(c))
        bn.running_mean.copy_(randn(c))
        bn.running_var.copy_(f32(torch.rand(c) + 0.5))
    fx.f(name + ".gamma", bn.weight)
    fx.f(name + ".beta", bn.bias)
    fx.f(name + ".running_mean_in", bn.running_mean)
    fx.f(name + ".running_var_in", bn.running_var)
    bn.train()
    out = bn(x)
    G = randn(*out.shape)
    (out * G).sum().backward()
    for t, v in [("x", x), ("out", out), ("G", G), ("dx", x.grad), ("dgamma", bn.weight.grad),
                 ("dbeta", bn.bias.grad), ("running_mean", bn.running_mean), ("running_var", bn.running_var)]:
        fx.f(name + "." + t, v)
    # Inference with the running stats just updated (rounded to float32, as vtag holds them).
    with torch.no_grad():
        bn.running_mean.copy_(f32(bn.running_mean))
        bn.running_var.copy_(f32(bn.running_var))
    bn.eval()
    fx.f(name + ".infer_out", bn(x.detach()))


def pool(fx, name, kind, n, c, h, w, k, stride, pad=(0, 0), dil=(1, 1), ceil=False, cip=True):
    """pad = (h, w), symmetric as in torch."""
    x = leaf(randn(n, c, h, w))
    if kind == "max":
        out = F.max_pool2d(x, k, stride, pad, dil, ceil_mode=ceil)
    else:
        out = F.avg_pool2d(x, k, stride, pad, ceil_mode=ceil, count_include_pad=cip)
    G = randn(*out.shape)
    (out * G).sum().backward()
    fx.i(name + ".dims", [k[0], k[1], stride[0], stride[1], pad[0], pad[1], pad[0], pad[1], dil[0], dil[1],
                          1 if ceil else 0, 1 if cip else 0])
    for t, v in [("x", x), ("out", out), ("G", G), ("dx", x.grad)]:
        fx.f(name + "." + t, v)


def global_avgpool(fx, name, n, c, h, w):
    x = leaf(randn(n, c, h, w))
    out = F.adaptive_avg_pool2d(x, 1).reshape(n, c)
    G = randn(n, c)
    (out * G).sum().backward()
    for t, v in [("x", x), ("out", out), ("G", G), ("dx", x.grad)]:
        fx.f(name + "." + t, v)


def elementwise(fx, name, fn, n, scale):
    x = leaf(randn(n, scale=scale))
    out = fn(x)
    G = randn(n)
    (out * G).sum().backward()
    for t, v in [("x", x), ("out", out), ("G", G), ("dx", x.grad)]:
        fx.f(name + "." + t, v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="safetensors file to write")
    args = ap.parse_args()

    torch.manual_seed(SEED)
    torch.set_default_dtype(torch.float64)
    fx = Fixture()
    conv(fx, "conv_g2_s2_dil2", 2, 4, 11, 10, 6, (3, 3), stride=(2, 2), pad=(1, 2, 1, 2), dil=(2, 2), groups=2)
    conv(fx, "conv_depthwise", 2, 6, 9, 8, 6, (3, 3), pad=(1, 1, 1, 1), groups=6)
    conv(fx, "conv_depthwise_s2", 3, 4, 11, 12, 4, (3, 3), stride=(2, 2), pad=(1, 1, 1, 1), groups=4)
    conv(fx, "conv_1x1_nobias", 2, 5, 6, 7, 7, (1, 1), bias=False)
    conv(fx, "conv_asym", 2, 3, 9, 8, 4, (3, 2), stride=(2, 1), pad=(0, 1, 2, 0))
    conv(fx, "conv_stem", 2, 3, 32, 30, 8, (7, 7), stride=(2, 2), pad=(3, 3, 3, 3))
    # Large enough to be split over threads and merged across images.
    conv(fx, "conv_big", 4, 16, 28, 28, 32, (3, 3), pad=(1, 1, 1, 1))
    conv(fx, "conv_big_s2", 4, 32, 14, 14, 64, (3, 3), stride=(2, 2), pad=(1, 1, 1, 1))
    conv(fx, "conv_big_1x1", 4, 64, 7, 7, 48, (1, 1))
    batchnorm(fx, "batchnorm", 4, 5, 6, 7)
    batchnorm(fx, "batchnorm_big", 8, 16, 14, 14, momentum=0.2)
    pool(fx, "maxpool_ceil", "max", 2, 3, 10, 9, (3, 3), (2, 2), pad=(1, 1), ceil=True)
    pool(fx, "maxpool_dil", "max", 2, 3, 9, 10, (2, 3), (1, 2), pad=(1, 1), dil=(2, 2))
    pool(fx, "maxpool_stem", "max", 4, 8, 56, 56, (3, 3), (2, 2), pad=(1, 1))
    pool(fx, "avgpool_ceil_cip1", "avg", 2, 3, 10, 9, (3, 3), (2, 2), pad=(1, 1), ceil=True, cip=True)
    pool(fx, "avgpool_ceil_cip0", "avg", 2, 3, 10, 9, (3, 3), (2, 2), pad=(1, 1), ceil=True, cip=False)
    pool(fx, "avgpool_rect", "avg", 2, 2, 7, 9, (2, 3), (2, 1), pad=(1, 0), cip=True)
    global_avgpool(fx, "global_avgpool", 3, 7, 5, 6)
    global_avgpool(fx, "global_avgpool_big", 8, 64, 14, 14)
    elementwise(fx, "relu6", F.relu6, 50000, 4.0)
    elementwise(fx, "hardswish", F.hardswish, 50000, 3.0)
    elementwise(fx, "hardsigmoid", F.hardsigmoid, 50000, 3.0)
    elementwise(fx, "sigmoid", torch.sigmoid, 5000, 3.0)

    tmp = args.out + ".tmp"
    safetensors_io.save(tmp, fx.tensors, {"vtag.reference": "reference/cnn_layers.py",
                                          "torch": torch.__version__, "seed": str(SEED)})
    os.replace(tmp, args.out)
    print("%s: %d tensors" % (args.out, len(fx.tensors)))


if __name__ == "__main__":
    main()
