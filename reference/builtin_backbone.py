#!/usr/bin/python3
"""The built-in backbone (src/backbone/builtin_model.c) in PyTorch: the same residual CNN with the same
parameter names, so a vtag backbone file loads into it with load_state_dict and back.

  builtin_backbone.py --fixture DIR   writes, for tests/backbone/test_builtin_parity.c,
    DIR/builtin_parity_model.safetensors: a vtag backbone file (every parameter and BN buffer under its
      name, metadata vtag.backbone) with fixed random weights, rounded to float32;
    DIR/builtin_parity.safetensors: the batch and PyTorch's results in float64 (stored as F32):
      in.images [N,3,S,S], in.targets [N,V]
      train.logits [N,V], train.loss [1]    training mode (batch statistics), float64 reference
      grad.<param name>                     d loss / d param for every parameter
      run.<bn>.running_mean/var             running statistics after that one step (momentum 0.1)
      eval.fc [N,D], eval.att [N,K,D], eval.probs [N,V]   inference mode, after the step
      metadata vtag.params (the parameter names).
  builtin_backbone.py --selftest      checks the module against torchvision-style expectations.
Run with Debian's /usr/bin/python3 and python3-torch."""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class Stem(nn.Module):
    def __init__(self, c_out):
        super().__init__()
        self.conv = nn.Conv2d(3, c_out, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class BuiltinBackbone(nn.Module):
    """stem conv 3x3/2-BN-ReLU, stages of BasicBlocks (stride 2 at the start of every stage but the
    first), global average pool (fc), Linear -> one logit per label."""

    def __init__(self, widths, blocks, n_labels):
        super().__init__()
        self.stem = Stem(widths[0])
        c = widths[0]
        for s, (w, nb) in enumerate(zip(widths, blocks)):
            layer = []
            for b in range(nb):
                layer.append(BasicBlock(c, w, 2 if (s > 0 and b == 0) else 1))
                c = w
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*layer))
        self.n_stages = len(widths)
        self.classifier = nn.Linear(c, n_labels)

    def features(self, x):
        x = self.stem(x)
        for s in range(self.n_stages):
            x = getattr(self, "layer%d" % (s + 1))(x)
        return x  # [N, D, h, w]

    def forward(self, x):
        att = self.features(x)
        fc = att.mean(dim=(2, 3))
        return self.classifier(fc), fc, att


def f32(t):
    return t.detach().to(torch.float32).to(torch.float64)


def pre_relu_margin(net, images):
    """Smallest |input| of any ReLU in a training-mode forward pass (float32 rounding in C must not
    route a kink differently from float64 here)."""
    margins = []
    orig = F.relu

    def spy(x, *a, **k):
        margins.append(x.detach().abs().min().item())
        return orig(x, *a, **k)

    F.relu = spy
    try:
        net(images)
    finally:
        F.relu = orig
    return min(margins)


def write_fixture(out):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20261126)
    widths, blocks, v, size, n = [8, 12, 16], [1, 2, 1], 5, 20, 4
    for attempt in range(50):
        net = BuiltinBackbone(widths, blocks, v).double()
        with torch.no_grad():
            for name, p in net.named_parameters():
                if name.endswith("bn1.weight") or name.endswith("bn2.weight") or name.endswith("bn.weight") \
                        or name.endswith("downsample.1.weight"):
                    p.copy_(f32(0.5 + torch.rand(p.shape, generator=gen, dtype=torch.float64)))
                elif p.dim() == 1:
                    p.copy_(f32(0.4 * torch.rand(p.shape, generator=gen, dtype=torch.float64) - 0.2))
                else:
                    fan_in = p[0].numel()
                    p.copy_(f32(torch.randn(p.shape, generator=gen, dtype=torch.float64) * (2.0 / fan_in) ** 0.5))
            for name, b in net.named_buffers():
                if name.endswith("running_mean"):
                    b.copy_(f32(0.2 * torch.randn(b.shape, generator=gen, dtype=torch.float64)))
                elif name.endswith("running_var"):
                    b.copy_(f32(0.5 + torch.rand(b.shape, generator=gen, dtype=torch.float64)))
        images = f32(torch.randn(n, 3, size, size, generator=gen, dtype=torch.float64))
        targets = (torch.rand(n, v, generator=gen) < 0.4).double()
        net.train()
        if pre_relu_margin(net, images) > 2e-4:
            break
    else:
        raise SystemExit("no draw without a ReLU input near 0")
    params = {k: t.detach().clone() for k, t in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    net.train()
    logits, _, _ = net(images)
    loss = F.binary_cross_entropy_with_logits(logits, targets)
    net.zero_grad()
    loss.backward()
    tensors = {}
    tensors["in.images"] = safetensors_io.from_torch(images)
    tensors["in.targets"] = safetensors_io.from_torch(targets)
    tensors["train.logits"] = safetensors_io.from_torch(logits)
    tensors["train.loss"] = safetensors_io.from_torch(loss.reshape(1))
    for name, p in net.named_parameters():
        tensors["grad." + name] = safetensors_io.from_torch(p.grad)
    for name, b in net.named_buffers():
        if not name.endswith("num_batches_tracked"):
            tensors["run." + name] = safetensors_io.from_torch(b)
    net.eval()
    with torch.no_grad():
        logits, fc, att = net(images)
    tensors["eval.fc"] = safetensors_io.from_torch(fc)
    tensors["eval.att"] = safetensors_io.from_torch(att.flatten(2).transpose(1, 2))
    tensors["eval.probs"] = safetensors_io.from_torch(torch.sigmoid(logits))
    desc = {"arch": "vtag-resnet", "size": size, "widths": widths, "blocks": blocks,
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "bn_eps": 1e-5,
            "labels": ["l%d" % i for i in range(v)]}
    safetensors_io.save(os.path.join(out, "builtin_parity_model.safetensors"),
                        {k: safetensors_io.from_torch(t) for k, t in params.items()}, {"vtag.backbone": json.dumps(desc)})
    safetensors_io.save(os.path.join(out, "builtin_parity.safetensors"), tensors,
                        {"vtag.params": json.dumps([k for k, _ in net.named_parameters()])})


def selftest():
    net = BuiltinBackbone([32, 64, 128, 256], [1, 1, 1, 1], 10)
    logits, fc, att = net(torch.randn(2, 3, 96, 96))
    assert logits.shape == (2, 10) and fc.shape == (2, 256) and att.shape == (2, 256, 6, 6)
    names = [k for k in net.state_dict()]
    assert "layer2.0.downsample.0.weight" in names and "layer1.0.downsample.0.weight" not in names
    print("builtin_backbone.py selftest: ok (%d tensors)" % len(names))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixture", metavar="DIR")
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    if a.selftest:
        selftest()
    if a.fixture:
        write_fixture(a.fixture)
    if not a.selftest and not a.fixture:
        ap.error("nothing to do: --fixture DIR or --selftest")


if __name__ == "__main__":
    main()
