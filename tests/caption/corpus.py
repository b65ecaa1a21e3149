"""A small labelled feature corpus for the train/SCST tests: 36 videos over 3
class1, 6 class2 and 6 tags, `frames` feature rows per video whose fc and att
carry the video's labels (tags more weakly than classes) plus noise."""
import json
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
import safetensors_io as st  # noqa: E402

CLASS1 = ["games", "food", "pets"]
CLASS2 = {"games": ["moba", "racing"], "food": ["noodles", "cake"], "pets": ["cat", "dog"]}
TAGS = ["night", "fast", "cute", "red", "loud", "outdoor"]
EVERY = CLASS1 + sum(CLASS2.values(), []) + TAGS
D_FC, K, D_ATT = 24, 4, 8


def make(work, seed=7, frames=12, n_videos=36, n_val=8, noise=0.1, tag_signal=1.0, types=0):
    """Writes labels.jsonl, train.safetensors and val.safetensors into work;
    returns (videos, labels path, train features path, val features path).
    types > 0: video i has the labels of type i % types (the validation
    videos are the last video of each type), so validation is in-distribution."""
    rng = random.Random(seed)
    os.makedirs(work, exist_ok=True)
    val_ids = set(rng.sample(range(n_videos), n_val)) if not types else set(range(n_videos - types, n_videos))
    type_tags = [rng.sample(TAGS, 1 + t % 3) for t in range(types)]
    videos = []
    for i in range(n_videos):
        c1 = CLASS1[(i % types if types else i) % 3]
        c2 = CLASS2[c1][((i % types if types else i) // 3) % 2]
        tags = list(type_tags[i % types]) if types else rng.sample(TAGS, 1 + i % 3)
        videos.append({"video": "v%02d.mp4" % i, "class1": c1, "class2": c2, "tags": tags,
                       "split": "val" if i in val_ids else "train"})
    labels = os.path.join(work, "labels.jsonl")
    with open(labels, "w") as f:
        for v in videos:
            f.write(json.dumps(v, ensure_ascii=False) + "\n")

    def features(path, vids):
        items, fc, att = [], [], []
        for v in vids:
            on = {v["class1"], v["class2"]}
            for frame in range(frames):
                items.append(v["video"])
                base = [1.0 if e in on else (tag_signal if e in v["tags"] else 0.0) for e in EVERY]
                fc += [b + noise * rng.gauss(0, 1) for b in base] + [rng.gauss(0, 1) for _ in range(D_FC - len(base))]
                for k in range(K):
                    att += [base[(k * D_ATT + j) % len(base)] + noise * rng.gauss(0, 1) for j in range(D_ATT)]
        n = len(items)
        st.save(path, {"fc": st.Tensor("F32", [n, D_FC], fc), "att": st.Tensor("F32", [n, K, D_ATT], att)},
                {"vtag.items": json.dumps(items), "vtag.backbone": "synthetic"})

    train, val = os.path.join(work, "train.safetensors"), os.path.join(work, "val.safetensors")
    features(train, [v for v in videos if v["split"] == "train"])
    features(val, [v for v in videos if v["split"] == "val"])
    return videos, labels, train, val
