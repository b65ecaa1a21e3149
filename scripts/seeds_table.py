"""Mean ± sd over seeds of vtag eval --json files OUT/run-c<corpus>-s<seed>.eval.json
(scripts/seeds.sh): one Markdown table per corpus. usage: seeds_table.py OUT"""
import collections
import glob
import json
import statistics
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "seeds"
cols = [("OF1", "OF1"), ("CF1", "CF1"), ("GAP@20", "GAP@k"), ("mAP", "mAP"), ("ECE", "ece"),
        ("P@0.9", "high_right"), ("n@0.9", "high_n"), ("unknown", None), ("class1 acc", "class1_acc")]
for c in ("7", "23"):
    files = sorted(f for f in glob.glob("%s/run-c%s-s*.eval.json" % (out, c)) if not f.endswith("-a256.eval.json"))
    if not files:
        continue
    wide = sorted(glob.glob("%s/run-c%s-s*-a256.eval.json" % (out, c)))
    data = collections.defaultdict(lambda: collections.defaultdict(list))
    for f in files + wide:
        for r in json.load(open(f))["runs"]:
            if f in wide and r["baseline"]:
                continue  # the same backbone's classifier as in the run's own file
            if f in wide:
                r["name"] = r["name"].replace("att2in", "att2in-256")
            s = r["scores"]
            for name, key in cols:
                v = s["unknown"] / s["videos"] if key is None else s[key]
                data[r["name"]][name].append(float("nan") if v is None else v)
    print("corpus synth --seed %s: %d seeds\n" % (c, len(files)))
    print("| run | " + " | ".join(n for n, _ in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for run, d in data.items():
        cells = ["%.3f ± %.3f" % (statistics.mean(d[n]), statistics.stdev(d[n])) if len(d[n]) > 1
                 else "%.3f" % d[n][0] for n, _ in cols]
        print("| %s | %s |" % (run, " | ".join(cells)))
    print()
