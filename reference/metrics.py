#!/usr/bin/env python3
"""Independent pure-Python (standard library only) implementation of SPEC §5.

CIDEr-D follows coco-caption's pyciderevalcap/ciderD/ciderD_scorer.py and
BLEU-1..4 its pycocoevalcap/bleu/bleu_scorer.py (option "closest"), written
with the same dictionaries of n-gram tuples; the multi-label scores follow
the conventions of docs/ARCHITECTURE.md ("metrics"). vtag's tests run this
file against `vtag score` on random corpora, and bench/bench_metrics.sh times
it against vtag.

    metrics.py score --in FILE.jsonl [--df-from FILE2.jsonl] [--per-item]
    metrics.py score --multilabel --in FILE.jsonl [--k K] [--threshold X]
    metrics.py bench --in FILE.jsonl [--group G] [--limit M] [--repeat R]   # CIDEr-D time
"""
import argparse
import json
import math
import re
import sys
import time
from collections import defaultdict

_WS = re.compile(r"[ \t\n\r\f\v]+")  # ASCII whitespace only, as vtag splits


class InputError(Exception):
    pass


def tokens(value, what):
    """A sentence: a whitespace-separated string or an array of token strings."""
    if isinstance(value, str):
        return tuple(t for t in _WS.split(value) if t)
    if isinstance(value, list):
        for i, t in enumerate(value):
            if not isinstance(t, str):
                raise InputError("%s: token %d is not a string" % (what, i))
            if not t:
                raise InputError("%s: token %d is empty" % (what, i))
        return tuple(value)
    raise InputError("%s must be a string or an array of token strings" % what)


def read_jsonl(path, parse):
    items = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip(" \t\r\n"):
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise InputError("expected a JSON object")
                items.append(parse(obj))
            except (ValueError, InputError) as e:
                raise InputError("%s:%d: %s" % (path, lineno, e))
    if not items:
        raise InputError("%s: no items" % path)
    return items


def parse_caption(need_cand):
    def parse(obj):
        for key in obj:
            if key not in ("id", "cand", "refs"):
                raise InputError('unknown field "%s"' % key)
        if "cand" not in obj and need_cand:
            raise InputError('missing field "cand"')
        cand = tokens(obj["cand"], '"cand"') if "cand" in obj else ()
        if "refs" not in obj:
            raise InputError('missing field "refs"')
        refs = obj["refs"]
        if not isinstance(refs, list) or not refs:
            raise InputError('"refs" must be a non-empty array of sentences')
        return cand, [tokens(r, '"refs"[%d]' % i) for i, r in enumerate(refs)]
    return parse


# ---- CIDEr-D (coco-caption ciderD_scorer.py) --------------------------------

def precook(words, n=4):
    counts = defaultdict(int)
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i:i + k])] += 1
    return counts


def document_frequency(refsets):
    df = defaultdict(float)
    for refs in refsets:
        cooked = [precook(r) for r in refs]
        for ngram in set(g for c in cooked for g in c):
            df[ngram] += 1
    return df, math.log(float(len(refsets)))


class CiderD:
    def __init__(self, refsets, n=4, sigma=6.0):
        self.n, self.sigma = n, sigma
        self.df, self.ref_len = document_frequency(refsets)

    def counts2vec(self, cnts):
        vec = [defaultdict(float) for _ in range(self.n)]
        length = 0
        norm = [0.0 for _ in range(self.n)]
        for ngram, term_freq in cnts.items():
            df = math.log(max(1.0, self.df.get(ngram, 0.0)))
            n = len(ngram) - 1
            vec[n][ngram] = float(term_freq) * (self.ref_len - df)
            norm[n] += pow(vec[n][ngram], 2)
            if n == 1:
                length += term_freq
        return vec, [math.sqrt(x) for x in norm], length

    def sim(self, vec_hyp, vec_ref, norm_hyp, norm_ref, length_hyp, length_ref):
        delta = float(length_hyp - length_ref)
        val = [0.0] * self.n
        for n in range(self.n):
            for ngram in vec_hyp[n]:
                val[n] += min(vec_hyp[n][ngram], vec_ref[n].get(ngram, 0.0)) * vec_ref[n].get(ngram, 0.0)
            if norm_hyp[n] != 0 and norm_ref[n] != 0:
                val[n] /= norm_hyp[n] * norm_ref[n]
            val[n] *= math.e ** (-(delta ** 2) / (2 * self.sigma ** 2))
        return val

    def score(self, cand, refs):
        vec, norm, length = self.counts2vec(precook(cand))
        score = [0.0] * self.n
        for ref in refs:
            vec_ref, norm_ref, length_ref = self.counts2vec(precook(ref))
            for n, v in enumerate(self.sim(vec, vec_ref, norm, norm_ref, length, length_ref)):
                score[n] += v
        return sum(score) / self.n / len(refs) * 10.0


# ---- BLEU (coco-caption bleu_scorer.py, option "closest") -----------------------

def bleu(items, n=4):
    small, tiny = 1e-9, 1e-15
    testlen = reflen = 0
    guess, correct = [0] * n, [0] * n
    for cand, refs in items:
        maxcounts = {}
        for ref in refs:
            for ngram, count in precook(ref, n).items():
                maxcounts[ngram] = max(maxcounts.get(ngram, 0), count)
        tl = len(cand)
        testlen += tl
        reflen += min((abs(len(r) - tl), len(r)) for r in refs)[1]
        for k in range(n):
            guess[k] += max(0, tl - k)
        for ngram, count in precook(cand, n).items():
            correct[len(ngram) - 1] += min(maxcounts.get(ngram, 0), count)
    out, b = [], 1.0
    for k in range(n):
        b *= float(correct[k] + tiny) / (guess[k] + small)
        out.append(b ** (1.0 / (k + 1)))
    ratio = (testlen + tiny) / (reflen + small)
    if ratio < 1:
        out = [x * math.exp(1 - 1 / ratio) for x in out]
    return out


def score_captions(path, df_from, per_item):
    items = read_jsonl(path, parse_caption(True))
    refsets = [refs for _, refs in (read_jsonl(df_from, parse_caption(False)) if df_from else items)]
    cider = CiderD(refsets)
    scores = [cider.score(c, r) for c, r in items]
    b = bleu(items)
    out = {"n": len(items), "CIDEr-D": sum(scores) / len(scores)}
    for k in range(4):
        out["BLEU-%d" % (k + 1)] = b[k]
    if per_item:
        out["per_item"] = scores
    return out


# ---- multi-label (SPEC §5; conventions in docs/ARCHITECTURE.md) -------------------

def parse_multilabel(obj):
    for key in obj:
        if key not in ("id", "pred", "true"):
            raise InputError('unknown field "%s"' % key)
    for key in ("pred", "true"):
        if key not in obj:
            raise InputError('missing field "%s"' % key)
    pred, true = obj["pred"], obj["true"]
    if not isinstance(pred, list):
        raise InputError('"pred" must be an array of [label, score] pairs')
    if not isinstance(true, list):
        raise InputError('"true" must be an array of labels')
    out = []
    for i, p in enumerate(pred):
        if not isinstance(p, list) or len(p) != 2:
            raise InputError('"pred"[%d] must be a [label, score] pair' % i)
        label, score = p
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise InputError('"pred"[%d]: score is not a number' % i)
        if not isinstance(label, str):
            raise InputError('"pred"[%d]: label is not a string' % i)
        out.append((label, float(score)))
    for i, t in enumerate(true):
        if not isinstance(t, str):
            raise InputError('"true"[%d]: label is not a string' % i)
    if len(set(l for l, _ in out)) != len(out) or len(set(true)) != len(true):
        raise InputError("a label appears twice")
    return out, set(true)


def ranked(pred):
    """Best first; ties keep list order (sorted() is stable)."""
    return sorted(pred, key=lambda p: -p[1])


def prf(items, chosen):
    nc, np_, ng = defaultdict(int), defaultdict(int), defaultdict(int)
    for (pred, true), picked in zip(items, chosen):
        for label in true:
            ng[label] += 1
        for label in picked:
            np_[label] += 1
            if label in true:
                nc[label] += 1
    snc, snp, sng = sum(nc.values()), sum(np_.values()), sum(ng.values())
    op = snc / snp if snp else 0.0
    orr = snc / sng if sng else 0.0
    classes = [l for l in ng if ng[l] > 0]
    cp = sum(nc[l] / max(np_[l], 1) for l in classes) / len(classes) if classes else 0.0
    cr = sum(nc[l] / ng[l] for l in classes) / len(classes) if classes else 0.0

    def f1(p, r):
        return 2 * p * r / (p + r) if p + r > 0 else 0.0
    return op, orr, f1(op, orr), cp, cr, f1(cp, cr)


def mean_ap(items):
    ng = defaultdict(int)
    scored = defaultdict(list)  # label -> [(score, item index, correct)]
    for i, (pred, true) in enumerate(items):
        for label in true:
            ng[label] += 1
        for label, s in pred:
            scored[label].append((s, i, label in true))
    classes = [l for l in ng if ng[l] > 0]
    if not classes:
        return 0.0
    total = 0.0
    for l in classes:
        hits, ap = 0, 0.0
        for rank, (_, _, correct) in enumerate(sorted(scored[l], key=lambda e: (-e[0], e[1])), 1):
            if correct:
                hits += 1
                ap += hits / rank
        total += ap / ng[l]
    return total / len(classes)


def gap(items, k):
    pool, positives = [], 0
    for i, (pred, true) in enumerate(items):
        positives += len(true)
        for r, (label, s) in enumerate(ranked(pred)[:k]):
            pool.append((s, i, r, label in true))
    if positives == 0:
        return 0.0
    pool.sort(key=lambda e: (-e[0], e[1], e[2]))
    hits, ap = 0, 0.0
    for i, e in enumerate(pool):
        if e[3]:
            hits += 1
            ap += hits / (i + 1)
    return ap / positives


def hit_at(items, k):
    hits = sum(1 for pred, true in items if any(l in true for l, _ in ranked(pred)[:k]))
    return hits / len(items) if items else 0.0


def score_multilabel(path, k, threshold):
    items = read_jsonl(path, parse_multilabel)
    labels = set()
    for pred, true in items:
        labels.update(l for l, _ in pred)
        labels.update(true)
    at_t = prf(items, [[l for l, s in pred if s >= threshold] for pred, _ in items])
    at_k = prf(items, [[l for l, _ in ranked(pred)[:k]] for pred, _ in items])
    out = {"n": len(items), "labels": len(labels), "threshold": threshold, "k": k}
    for name, v in zip(("OP", "OR", "OF1", "CP", "CR", "CF1"), at_t):
        out[name] = v
    for name, v in zip(("OP", "OR", "OF1", "CP", "CR", "CF1"), at_k):
        out[name + "@k"] = v
    out["mAP"] = mean_ap(items)
    out["GAP@k"] = gap(items, k)
    out["Hit@1"] = hit_at(items, 1)
    return out


def bench(path, group, limit, repeat):
    """CIDEr-D of every line (the first `limit` when given), document
    frequencies from every `group`-th line's references (the lines of one
    image repeat its references), built before the clock starts; each line is
    scored on its own, as coco-caption does; the best of `repeat` passes, by
    the wall clock and (apart) by this process's CPU time."""
    items = read_jsonl(path, parse_caption(True))
    cider = CiderD([refs for _, refs in items[::group]])
    part = items[:limit] if limit else items
    best = best_cpu = float("inf")
    for _ in range(max(1, repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        scores = [cider.score(c, r) for c, r in part]
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return {"candidates": len(part), "seconds": best, "us_per_candidate": best / len(part) * 1e6,
            "cpu_us_per_candidate": best_cpu / len(part) * 1e6, "mean_cider_d": sum(scores) / len(scores)}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("score", "bench"))
    ap.add_argument("--in", dest="path", required=True)
    ap.add_argument("--df-from")
    ap.add_argument("--per-item", action="store_true")
    ap.add_argument("--multilabel", action="store_true")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--group", type=int, default=1)
    a = ap.parse_args(argv)
    try:
        if a.what == "bench":
            out = bench(a.path, a.group, a.limit, a.repeat)
        elif a.multilabel:
            out = score_multilabel(a.path, a.k, a.threshold)
        else:
            out = score_captions(a.path, a.df_from, a.per_item)
    except (InputError, OSError) as e:
        print("metrics.py: %s" % e, file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
