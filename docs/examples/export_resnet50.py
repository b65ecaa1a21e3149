"""Exports torchvision's ResNet-50 to ONNX for vtag (`--backbone resnet50.onnx`): ImageNet
weights (IMAGENET1K_V2, downloaded once by torchvision into ~/.cache/torch), eval mode, a
dynamic batch axis, opset 13. docs/examples/resnet50.md walks through it.

usage: python3 export_resnet50.py [OUT.onnx] [--random]
  --random  random weights instead of the download: the same graph, to try the commands
            offline (the tags it gives are meaningless)
"""
import argparse

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default="resnet50.onnx")
    ap.add_argument("--random", action="store_true", help="random weights (offline)")
    ap.add_argument("--size", type=int, default=224, help="the example input's side (the batch is dynamic)")
    a = ap.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None if a.random else "IMAGENET1K_V2").eval()
    x = torch.randn(1, 3, a.size, a.size)
    # A dynamic batch: vtag runs the backbone on batches of frames. The rest is torch's default
    # export (BatchNorm folded into the convolutions in eval mode, constants folded).
    torch.onnx.export(model, x, a.out, input_names=["input"], output_names=["logits"], opset_version=13,
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    print("wrote %s (%s weights)" % (a.out, "random" if a.random else "ImageNet IMAGENET1K_V2"))


if __name__ == "__main__":
    main()
