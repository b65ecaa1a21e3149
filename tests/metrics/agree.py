#!/usr/bin/env python3
"""`vtag score` against reference/metrics.py (an independent pure-Python
implementation of SPEC §5) on randomized corpora: every number must agree to
1e-9. Usage: agree.py VTAG REFERENCE.py [WORKDIR]"""
import json
import os
import random
import subprocess
import sys

TOL = 1e-9


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("FAIL %s: exit %d\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    return json.loads(p.stdout)


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def words(rng, vocab, n, zipf):
    if zipf:
        return [vocab[min(int(rng.paretovariate(1.1)) - 1, len(vocab) - 1)] for _ in range(n)]
    return [rng.choice(vocab) for _ in range(n)]


def caption_corpus(rng, n_items, n_vocab, max_len, zipf=False, extra_vocab=0):
    """1-5 references per item; repeated references, empty and over-long
    candidates, candidate-only tokens, array-form tokens with spaces."""
    vocab = ["w%d" % i for i in range(n_vocab)] + ["王者荣耀", "li bai", "é"]
    cand_only = ["new%d" % i for i in range(extra_vocab)]
    rows = []
    for i in range(n_items):
        refs = []
        for _ in range(rng.randint(1, 5)):
            if refs and rng.random() < 0.2:
                refs.append(refs[-1])  # a repeated reference
            else:
                refs.append(words(rng, vocab, rng.randint(0, max_len), zipf))
        r = rng.random()
        if r < 0.05:
            cand = []
        elif r < 0.15:
            cand = words(rng, vocab, rng.randint(max_len + 1, 3 * max_len + 2), zipf)  # longer than every ref
        elif r < 0.45:  # a perturbed reference: real overlap
            cand = list(rng.choice(refs))
            for _ in range(rng.randint(0, 3)):
                if cand and rng.random() < 0.5:
                    cand[rng.randrange(len(cand))] = rng.choice(vocab + cand_only if cand_only else vocab)
                else:
                    cand.insert(rng.randint(0, len(cand)), rng.choice(vocab))
        else:
            cand = words(rng, vocab + cand_only, rng.randint(0, max_len), zipf)

        def enc(toks):  # a space-separated string unless a token holds a space
            if any(" " in t for t in toks) or rng.random() < 0.1:
                return toks
            sep = rng.choice([" ", " ", "  ", "\t"])
            return sep.join(toks)
        rows.append({"id": i, "cand": enc(cand), "refs": [enc(x) for x in refs]})
    return rows


def multilabel_corpus(rng, n_items, n_labels, ties):
    labels = ["L%d" % i for i in range(n_labels)] + ["猫", "big dog"]
    rows = []
    for i in range(n_items):
        k = rng.randint(0, min(len(labels), 12))
        pred = [[l, round(rng.random(), 1) if ties else rng.random()] for l in rng.sample(labels, k)]
        true = rng.sample(labels, rng.choice([0, 0, 1, 1, 2, 3]))
        rows.append({"id": "v%d" % i, "pred": pred, "true": true})
    return rows


def compare(name, a, b):
    worst = 0.0
    if set(a) != set(b):
        sys.exit("FAIL %s: keys differ: %s vs %s" % (name, sorted(a), sorted(b)))
    for key in a:
        x, y = a[key], b[key]
        xs, ys = (x, y) if isinstance(x, list) else ([x], [y])
        if len(xs) != len(ys):
            sys.exit("FAIL %s: %s has %d vs %d values" % (name, key, len(xs), len(ys)))
        for u, v in zip(xs, ys):
            d = abs(u - v)
            worst = max(worst, d)
            if not d <= TOL:
                sys.exit("FAIL %s: %s: vtag %.17g, reference %.17g (diff %.3g)" % (name, key, u, v, d))
    n = len(a.get("per_item", [])) or a["n"]
    print("%-44s items %4d  max |diff| %.3g" % (name, n, worst))
    return worst


def main():
    vtag, ref = sys.argv[1], sys.argv[2]
    work = sys.argv[3] if len(sys.argv) > 3 else "."
    os.makedirs(work, exist_ok=True)
    py = [sys.executable, ref, "score"]
    rng = random.Random(20261126)
    worst = 0.0
    cases = [
        ("tiny vocabulary (8 words)", caption_corpus(rng, 400, 8, 12)),
        ("zipf vocabulary (300 words)", caption_corpus(rng, 300, 300, 16, zipf=True, extra_vocab=20)),
        ("large vocabulary (5000 words)", caption_corpus(rng, 500, 5000, 20, extra_vocab=50)),
        ("single item (N = 1)", caption_corpus(rng, 1, 10, 8)),
    ]
    for name, rows in cases:
        path = write(os.path.join(work, "agree_caps.jsonl"), rows)
        a = run([vtag, "score", "--in", path, "--per-item"])
        b = run(py + ["--in", path, "--per-item"])
        worst = max(worst, compare("captions: " + name, a, b))
    # Document frequencies from another corpus; the scored corpus has n-grams it lacks.
    dfp = write(os.path.join(work, "agree_df.jsonl"), caption_corpus(rng, 250, 40, 12))
    path = write(os.path.join(work, "agree_caps.jsonl"), caption_corpus(rng, 300, 60, 12, extra_vocab=30))
    a = run([vtag, "score", "--in", path, "--df-from", dfp, "--per-item"])
    b = run(py + ["--in", path, "--df-from", dfp, "--per-item"])
    worst = max(worst, compare("captions: --df-from another corpus", a, b))
    a = run([vtag, "score", "--in", path])
    b = run(py + ["--in", path])
    worst = max(worst, compare("captions: without --per-item", a, b))

    for name, rows in [("multi-label, continuous scores", multilabel_corpus(rng, 400, 30, False)),
                       ("multi-label, scores with ties", multilabel_corpus(rng, 400, 30, True)),
                       ("multi-label, many labels", multilabel_corpus(rng, 300, 200, False))]:
        path = write(os.path.join(work, "agree_ml.jsonl"), rows)
        for opts in ([], ["--k", "3", "--threshold", "0.3"], ["--k", "1", "--threshold", "0.9"]):
            a = run([vtag, "score", "--multilabel", "--in", path] + opts)
            b = run(py + ["--multilabel", "--in", path] + opts)
            worst = max(worst, compare("%s %s" % (name, " ".join(opts)), a, b))
    print("agreement: max |vtag - reference| = %.3g over all cases (tolerance %g)" % (worst, TOL))


if __name__ == "__main__":
    main()
