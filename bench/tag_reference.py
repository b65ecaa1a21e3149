"""What a user would otherwise write to tag a video (the reference of
bench_tag.sh): the frames ffmpeg extracted (tag_reference.sh) through
torchvision's resnet18, eval, no_grad, 224 px, ImageNet normalisation; prints
one JSON line, the video and each frame's top class. Run with /usr/bin/python3.
Usage: tag_reference.py WEIGHTS.pth FRAME_DIR VIDEO [THREADS]
THREADS 0 (default) leaves torch's thread count as shipped; the environment
(OMP_WAIT_POLICY=PASSIVE) is the caller's."""
import glob
import json
import os
import sys

import torch
import torchvision
from PIL import Image


def main():
    weights, frames, video = sys.argv[1], sys.argv[2], sys.argv[3]
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    if threads > 0:
        torch.set_num_threads(threads)
    model = torchvision.models.resnet18(weights=None)
    model.load_state_dict(torch.load(weights))
    model.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    paths = sorted(glob.glob(os.path.join(frames, "*.png")))
    x = torch.stack([(torchvision.transforms.functional.pil_to_tensor(Image.open(p).convert("RGB")).float() / 255
                      - mean) / std for p in paths])
    with torch.no_grad():
        top = model(x).argmax(1).tolist()
    print(json.dumps({"video": video, "frames": len(paths), "top": top}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--save":  # the weights file, made once (not timed)
        torch.manual_seed(0)
        torch.save(torchvision.models.resnet18(weights=None).state_dict(), sys.argv[2])
    else:
        main()
