"""SCST raises validation CIDEr-D for each model (issue 5, point 2).

The feature set is built so that greedy decoding of a converged XE model is
suboptimal for CIDEr-D by construction, not by chance:

Four looks (class1 class2); every video of a look has exactly the same fc
and att features (a fixed random pattern per look), so no model can tell
two videos of one look apart and XE converges to the look's empirical
caption distribution. Three "gain" looks (games moba, games racing, pets
cat) each have their own tag X (neon, drift, fluffy) and the tag sets

    {}         4 videos in 10   caption  c1 c2
    {glow, X}  3 videos in 10   caption  c1 c2 glow X
    {X}        3 videos in 10   caption  c1 c2 X

and the fourth look (food cake) always has glow, which makes glow the most
frequent tag, so the canonical order (SPEC §2) puts glow before X. After
"c1 c2" the converged model gives EOS 0.4, glow 0.3 and X 0.3: greedy
stops at "c1 c2", although X is in 60% of the look's videos. Against the
look's references, "c1 c2 X" and "c1 c2 glow X" have a higher expected
CIDEr-D than "c1 c2", both as validation scores it (no EOS, df of the
training references) and as the SCST reward scores it (EOS a token): the
test works these expectations out with reference/metrics.py and asserts
them before training. Validation has the same proportions per look, so the
XE greedy captions' validation CIDEr-D is known in advance (asserted too).
SCST samples both longer captions often (0.3 each), their reward beats the
greedy baseline's, and the policy gradient moves mass from EOS to glow and
X until greedy decoding emits one of them: each gain look that flips adds
about 0.16 ("c1 c2 X") or 0.32 ("c1 c2 glow X") to the corpus CIDEr-D.

For fc, att2in and topdown: XE (dropout 0) to convergence, asserted as a
flat validation CIDEr-D over the last XE epochs equal to the predicted one,
then SCST (greedy baseline, 5 samples, lr 5e-5) continuing from the XE state
(--resume with --scst-after). Asserted: validation CIDEr-D after SCST
exceeds XE's by at least max(0.05, 5% of it, the spread of the last XE
epochs), also on average over the last SCST epochs; the training greedy
CIDEr-D (the SCST log's greedy_cider_d) rises; and a single uninterrupted
run with --threads 1 prints the same figures (first 5 SCST epochs) as the
two-stage run with --threads 2. Dropout 0 keeps the figures independent of
how the sampling pass draws dropout masks. Measured: +0.50 (4.5297 -> 5.0256)
for each model; data and training seeds 1, 2, 5 and 7 give +0.50 to +0.64.
SCST lr 5e-5 (SPEC's): in a trial at 2e-4, topdown's policy collapsed after a few
epochs. 26 s for the three models in the release build, 131 s in the
sanitizer build (7 s and 42 s of CPU), on the 2-core machine at load 10.

usage: scst_gain.py VTAG_BINARY WORKDIR [MODEL...]
"""
import json
import os
import random
import shutil
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "reference"))
import safetensors_io as st  # noqa: E402
from metrics import CiderD  # noqa: E402

# (class1, class2, [(tags, videos in 10)]); the first three are the gain looks.
LOOKS = [
    ("games", "moba", [((), 4), (("glow", "neon"), 3), (("neon",), 3)]),
    ("games", "racing", [((), 4), (("glow", "drift"), 3), (("drift",), 3)]),
    ("pets", "cat", [((), 4), (("glow", "fluffy"), 3), (("fluffy",), 3)]),
    ("food", "cake", [(("glow",), 10)]),
]
GAIN_LOOKS = 3
D_FC, K, D_ATT = 16, 4, 8
TRAIN_PER_10, VAL_PER_10, FRAMES = 2, 1, 5
XE_EPOCHS, SCST_EPOCHS, FLAT, LAST, SAME = 40, 20, 5, 5, 45


def make(work, seed=1):
    """labels.jsonl, train.safetensors, val.safetensors in work; returns
    (videos, labels path, train features, val features)."""
    os.makedirs(work, exist_ok=True)
    videos = []
    for split, mult in (("train", TRAIN_PER_10), ("val", VAL_PER_10)):
        for _ in range(mult):
            for li, (c1, c2, dist) in enumerate(LOOKS):
                for tags, n in dist:
                    for _ in range(n):
                        videos.append({"video": "%s%03d.mp4" % (split[0], len(videos)), "class1": c1, "class2": c2,
                                       "tags": list(tags), "split": split, "look": li})
    labels = os.path.join(work, "labels.jsonl")
    with open(labels, "w") as f:
        for v in videos:
            f.write(json.dumps({k: v[k] for k in ("video", "class1", "class2", "tags", "split")}) + "\n")
    rng = random.Random(seed)
    look_fc = [[rng.gauss(0, 1) for _ in range(D_FC)] for _ in LOOKS]
    look_att = [[rng.gauss(0, 1) for _ in range(K * D_ATT)] for _ in LOOKS]

    def features(path, vids):
        items, fc, att = [], [], []
        for v in vids:
            for _ in range(FRAMES):
                items.append(v["video"])
                fc += look_fc[v["look"]]
                att += look_att[v["look"]]
        n = len(items)
        st.save(path, {"fc": st.Tensor("F32", [n, D_FC], fc), "att": st.Tensor("F32", [n, K, D_ATT], att)},
                {"vtag.items": json.dumps(items), "vtag.backbone": "synthetic"})

    train, val = os.path.join(work, "train.safetensors"), os.path.join(work, "val.safetensors")
    features(train, [v for v in videos if v["split"] == "train"])
    features(val, [v for v in videos if v["split"] == "val"])
    return videos, labels, train, val


failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, flush=True)


def design(videos):
    """Works out, with reference/metrics.py, what the brief claims: the XE
    greedy caption of each gain look and the expected CIDEr-D of it and of
    the two longer captions; returns (caption of a video, predicted XE
    validation CIDEr-D)."""
    train = [v for v in videos if v["split"] == "train"]
    count, first = {}, {}
    for v in train:
        for t in v["tags"]:
            count[t] = count.get(t, 0) + 1
            first.setdefault(t, len(first))

    def caption(v):
        return [v["class1"], v["class2"]] + sorted(v["tags"], key=lambda t: (-count[t], first[t]))

    val_cider = CiderD([[caption(v)] for v in train])  # vtag train's validation: no EOS
    eos = ["<eos>"]
    reward = CiderD([[caption(v) + eos] for v in train])  # SCST: EOS a token of both
    predicted = []
    for li, (c1, c2, _) in enumerate(LOOKS):
        refs = [caption(v) for v in train if v["look"] == li]
        vrefs = [caption(v) for v in videos if v["look"] == li and v["split"] == "val"]
        # The converged XE model's greedy caption: the most frequent next token after each prefix.
        greedy = []
        while True:
            nxt = {}
            for r in refs:
                if r[:len(greedy)] == greedy:
                    tok = r[len(greedy)] if len(r) > len(greedy) else None
                    nxt[tok] = nxt.get(tok, 0) + 1
            ranked = sorted(nxt.items(), key=lambda kv: -kv[1])
            check(len(ranked) == 1 or ranked[0][1] > ranked[1][1], "look %s %s: a tie after %s" % (c1, c2, greedy))
            if ranked[0][0] is None:
                break
            greedy.append(ranked[0][0])
        predicted += [val_cider.score(greedy, [r]) for r in vrefs for _ in range(FRAMES)]
        if li >= GAIN_LOOKS:
            continue
        x = LOOKS[li][2][2][0][0]
        p = {}
        for r in refs:
            tok = r[2] if len(r) > 2 else "EOS"
            p[tok] = p.get(tok, 0) + 1 / len(refs)
        check(greedy == [c1, c2], "look %s %s: XE greedy caption %s, want %s" % (c1, c2, greedy, [c1, c2]))
        line = "design %s %s: after '%s %s' p(EOS) %.2f p(glow) %.2f p(%s) %.2f;" % (
            c1, c2, c1, c2, p.get("EOS", 0), p.get("glow", 0), x, p.get(x, 0))
        base = None
        for cand in ([c1, c2], [c1, c2, x], [c1, c2, "glow", x]):
            v = sum(val_cider.score(cand, [r]) for r in vrefs) / len(vrefs)
            w = sum(reward.score(cand + eos, [r + eos]) for r in refs) / len(refs)
            line += " '%s' val %.3f reward %.3f;" % (" ".join(cand), v, w)
            if base is None:
                base = (v, w)
            else:
                check(v > base[0] + 0.5 and w > base[1] + 0.5,
                      "design: '%s' does not beat the greedy caption clearly (%.3f %.3f vs %.3f %.3f)" %
                      (" ".join(cand), v, w, base[0], base[1]))
        print(line)
    return caption, sum(predicted) / len(predicted)


# Threads that sleep at barriers: with busy-waiting OpenMP threads, a 2-thread
# run on a loaded 2-core machine took 10x longer (the figures do not change).
ENV = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))


def train(vtag, args):
    r = subprocess.run([vtag, "train"] + args, capture_output=True, text=True, env=ENV)
    lines = [json.loads(x) for x in r.stderr.splitlines() if x.startswith("{")]
    check(r.returncode == 0, "vtag train %s: exit %d: %s" % (" ".join(args[-12:]), r.returncode, r.stderr[-400:]))
    return lines


def weights(state, out):
    """The weights of a training state (its Adam moments dropped), as a checkpoint vtag caption reads."""
    tensors, meta = st.load(state)
    meta.pop("vtag.train_state", None)
    st.save(out, {k: t for k, t in tensors.items() if not k.startswith("adam_")}, meta)
    return out


def captions_by_look(vtag, model, feats, videos):
    r = subprocess.run([vtag, "caption", "--model", model, "--feats", feats, "--json", "--threads", "1"],
                       capture_output=True, text=True, env=ENV)
    check(r.returncode == 0, "vtag caption: %s" % r.stderr)
    look = {v["video"]: v["look"] for v in videos}
    out = {}
    for row in (json.loads(x) for x in r.stdout.splitlines()):
        out.setdefault(look[row["item"]], set()).add(" ".join(row["tokens"]))
    return out


def figures(lines):
    """What must not depend on the thread count."""
    keys = ("epoch", "phase", "loss", "val_cider_d", "reward", "advantage", "greedy_cider_d")
    return [tuple(x.get(k) for k in keys) for x in lines]


def main():
    vtag, work = sys.argv[1], sys.argv[2]
    models = sys.argv[3:] or ["fc", "att2in", "topdown"]
    shutil.rmtree(work, ignore_errors=True)
    videos, labels, train_feats, val_feats = make(work)
    _, predicted = design(videos)
    print("design: predicted validation CIDEr-D of the XE greedy captions %.4f" % predicted)
    epochs = XE_EPOCHS + SCST_EPOCHS
    for model in models:
        out = os.path.join(work, model + ".safetensors")
        common = ["--labels", labels, "--feats", train_feats, "--val-feats", val_feats, "--model", model,
                  "--input-encoding-size", "32", "--rnn-size", "32", "--att-hid-size", "16", "--max-length", "6",
                  "--dropout", "0", "--seed", "3", "--batch", "10", "--lr", "5e-3", "--lr-decay-every", "5",
                  "--scst-lr", "5e-5", "--sample-n", "5", "--baseline", "greedy"]
        # XE, then SCST resumed from the XE state (the same as one run with --scst-after).
        xe = train(vtag, common + ["--out", out, "--epochs", str(XE_EPOCHS), "--threads", "2"])
        state = os.path.join(work, model + ".state.safetensors")
        xe_caps = captions_by_look(vtag, weights(state, os.path.join(work, model + "-xe-weights.safetensors")),
                                   val_feats, videos)
        sc = train(vtag, common + ["--out", out, "--epochs", str(epochs), "--scst-after", str(XE_EPOCHS), "--resume",
                                   "--threads", "2"])
        sc_caps = captions_by_look(vtag, weights(state, os.path.join(work, model + "-scst-weights.safetensors")),
                                   val_feats, videos)
        lines = xe + sc
        if len(lines) != epochs or [x["phase"] for x in lines] != ["xe"] * XE_EPOCHS + ["scst"] * SCST_EPOCHS:
            check(False, "%s: %d epoch lines, want %d XE then %d SCST" % (model, len(lines), XE_EPOCHS, SCST_EPOCHS))
            continue
        # The first SAME epochs again in one run on one thread: the same figures.
        one = train(vtag, common + ["--out", os.path.join(work, model + "-t1.safetensors"), "--epochs", str(SAME),
                                    "--scst-after", str(XE_EPOCHS), "--threads", "1"])
        check(figures(one) == figures(lines[:SAME]),
              "%s: --threads 1 (one run) and --threads 2 (XE, then --resume) differ" % model)

        val = [x["val_cider_d"] for x in lines]
        xe_val, flat = val[XE_EPOCHS - 1], val[XE_EPOCHS - FLAT:XE_EPOCHS]
        noise = max(flat) - min(flat)
        scst_val, last = val[-1], val[-LAST:]
        margin = max(0.05, 0.05 * xe_val, noise)
        first, final = lines[XE_EPOCHS], lines[-1]
        print("%s: XE val CIDEr-D %.4f (last %d XE epochs %.4f..%.4f), after SCST %.4f (%+.4f; mean of the last %d "
              "epochs %.4f); training greedy CIDEr-D %.4f -> %.4f, sample reward %.4f -> %.4f" %
              (model, xe_val, FLAT, min(flat), max(flat), scst_val, scst_val - xe_val, LAST, sum(last) / LAST,
               first["greedy_cider_d"], final["greedy_cider_d"], first["reward"], final["reward"]))
        for li, (c1, c2, _) in enumerate(LOOKS):
            print("   %s %s: XE %s -> SCST %s" % (c1, c2, sorted(xe_caps.get(li, [])), sorted(sc_caps.get(li, []))))
        check(noise < 1e-9, "%s: XE has not converged: validation CIDEr-D %s over the last XE epochs" % (model, flat))
        check(abs(xe_val - predicted) < 1e-4,
              "%s: XE validation CIDEr-D %.6f, the converged greedy captions give %.6f" % (model, xe_val, predicted))
        check(scst_val >= xe_val + margin,
              "%s: SCST validation CIDEr-D %.4f, not above XE's %.4f by %.4f" % (model, scst_val, xe_val, margin))
        check(sum(last) / LAST >= xe_val + margin,
              "%s: mean SCST validation CIDEr-D of the last %d epochs %.4f, not above XE's %.4f by %.4f" %
              (model, LAST, sum(last) / LAST, xe_val, margin))
        check(final["greedy_cider_d"] > first["greedy_cider_d"] + 0.05,
              "%s: training greedy CIDEr-D %.4f -> %.4f" % (model, first["greedy_cider_d"], final["greedy_cider_d"]))
    print("%s" % ("FAILED: %d" % failures if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
