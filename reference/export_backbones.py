"""Exports torchvision CNNs to ONNX for vtag's ONNX tests and benchmark.

For each model: fixed random weights (torch.manual_seed), every BatchNorm
given random non-trivial running statistics and affine parameters (so that
vtag's Conv+BN folding is really exercised), eval mode, then
  <out>/<name>.onnx          the model, batch dimension dynamic, opset 13
  <out>/<name>.images.f32    normalised input images [N, 3, S, S]
  <out>/<name>.fc.f32        PyTorch's pooled features (avgpool output, flattened) [N, C]
  <out>/<name>.att.f32       the last conv map (the avgpool's input) [N, C, H, W]
  <out>/<name>.json          shapes and tap names
all raw little-endian float32. `--tiny` adds tiny.onnx (conv-bn-relu-pool-
conv-bn-relu6-gap-linear, a few KB) for the error tests, exported twice:
with a dynamic batch and with a fixed batch of 4 (tiny_fixed.onnx).

Run with Debian's python3 (torch 1.13, torchvision 0.14).
"""
import argparse
import json
import os

import torch
import torchvision


def randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(c, generator=gen) * 0.8 + 0.6)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.1)


def build(name, seed):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None)
    randomise_bn(model, torch.Generator().manual_seed(seed + 1))
    return model.eval()


def last_map_module(model, name):
    """The module whose output is the last conv map (the global pool's input)."""
    if name.startswith("resnet"):
        return model.layer4
    return model.features  # mobilenet_v2: features ends with ConvBNReLU6; the pool is functional


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.b1 = torch.nn.BatchNorm2d(8)
        self.pool = torch.nn.MaxPool2d(3, stride=2, padding=1)
        self.c2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.b2 = torch.nn.BatchNorm2d(16)
        self.fc = torch.nn.Linear(16, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.b1(self.c1(x))))
        x = torch.nn.functional.relu6(self.b2(self.c2(x)))
        x = torch.nn.functional.adaptive_avg_pool2d(x, 1)
        # view(size(0), -1): the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain vtag folds
        return self.fc(x.view(x.size(0), -1))


def save(path, t):
    t.detach().contiguous().to(torch.float32).numpy().tofile(path)


def export(model, x, path, dynamic):
    # PRESERVE keeps BatchNormalization nodes (EVAL would fold them into the convs
    # at export, and vtag's own folding would go untested); the model is in eval mode.
    # No constant folding either: vtag folds the shape chains itself.
    kw = dict(input_names=["input"], output_names=["logits"], opset_version=13, do_constant_folding=False,
              training=torch.onnx.TrainingMode.PRESERVE)
    if dynamic:
        kw["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
    torch.onnx.export(model, x, path, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="resnet18,resnet50,mobilenet_v2")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--no-data", action="store_true", help="write the .onnx files only (benchmarks)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(2)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    for i, name in enumerate(n for n in a.models.split(",") if n):
        model = build(name, a.seed + 10 * i)
        g = torch.Generator().manual_seed(a.seed + 100 + i)
        x = (torch.rand(a.batch, 3, a.size, a.size, generator=g) - mean) / std
        base = os.path.join(a.out, name)
        export(model, x, base + ".onnx", dynamic=True)
        if a.no_data:
            continue
        got = {}
        h = last_map_module(model, name).register_forward_hook(lambda m, i, o: got.__setitem__("att", o))
        with torch.no_grad():
            model(x)
        h.remove()
        att = got["att"]
        fc = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(att, 1), 1)
        if name.startswith("resnet"):  # the model's own pooled features, to be sure the hook saw the pool's input
            with torch.no_grad():
                pooled = torch.flatten(model.avgpool(att), 1)
            assert torch.equal(pooled, fc)
        save(base + ".images.f32", x)
        save(base + ".fc.f32", fc)
        save(base + ".att.f32", att)
        with open(base + ".json", "w") as f:
            json.dump({"model": name, "images": list(x.shape), "fc": list(fc.shape), "att": list(att.shape)}, f)
        print(f"{name}: fc {list(fc.shape)} att {list(att.shape)} -> {base}.onnx")
    if a.tiny:
        torch.manual_seed(a.seed)
        t = Tiny()
        randomise_bn(t, torch.Generator().manual_seed(a.seed + 1))
        t.eval()
        x = (torch.rand(4, 3, 32, 32) - mean) / std
        export(t, x, os.path.join(a.out, "tiny.onnx"), dynamic=True)
        export(t, x, os.path.join(a.out, "tiny_fixed.onnx"), dynamic=False)
        with torch.no_grad():
            att = torch.nn.functional.relu6(t.b2(t.c2(t.pool(torch.relu(t.b1(t.c1(x)))))))
            logits = t(x)
        save(os.path.join(a.out, "tiny.images.f32"), x)
        save(os.path.join(a.out, "tiny.att.f32"), att)
        save(os.path.join(a.out, "tiny.fc.f32"), torch.flatten(att.mean((2, 3), keepdim=True), 1))
        save(os.path.join(a.out, "tiny.logits.f32"), logits)
        print(f"tiny: {os.path.join(a.out, 'tiny.onnx')}")


if __name__ == "__main__":
    main()
