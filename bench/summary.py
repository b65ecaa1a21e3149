#!/usr/bin/env python3
"""The end of `make bench`: every ratio the performance goals name (issue 19), read back from the
run's own output (bench/run.sh keeps it in a log), one row per work and kernel path, with the goal
and whether this run met it. Nothing is measured here; a row whose benchmark printed nothing says
"not measured". Usage: summary.py LOG"""
import re
import sys

GOALS = {"xe": 2.5, "scst": 2.5, "xe_peak": 0.75, "cnn": 1.5, "builtin": 1.5, "tag": 5.0}


def main(path):
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    rows = []  # (work, path, vtag, reference, ratio, goal)
    peak = {}  # threads -> best sgemm GFLOP/s of this run
    gflops = {}  # (path, model) -> XE step GFLOP/s
    for line in lines:
        m = re.match(r"gemm .*threads=(\d+) .*gflops_best=([0-9.]+)", line)
        if m:
            t = int(m.group(1))
            peak[t] = max(peak.get(t, 0.0), float(m.group(2)))
        m = re.match(r"vtag_(\w+) xe_step model=(\w+) threads=(\d+) ms=[0-9.]+ .*gflops=([0-9.]+)", line)
        if m:
            gflops[m.group(1), m.group(2)] = (float(m.group(4)), int(m.group(3)))
        m = re.match(r"xe_step (\w+)\s+(\w+)\s+vtag\s+([0-9.]+) ms\s+torch\s+([0-9.]+) ms .*torch tuned\s+([0-9.]+) ms"
                     r".*best torch ([0-9.]+)x", line)
        if m:
            best = min(float(m.group(4)), float(m.group(5)))
            rows.append(("XE step " + m.group(2), m.group(1), "%s ms" % m.group(3), "%.1f ms" % best,
                         float(m.group(6)), GOALS["xe"]))
        m = re.match(r"scst_step (\w+)\s+(\w+)\s+vtag\s+([0-9.]+) ms \(passive\s+([0-9.]+)\)\s+torch\s+([0-9.]+) ms"
                     r"\s+torch tuned\s+([0-9.]+) ms\s+best vs best ([0-9.]+)x", line)
        if m:
            v = min(float(m.group(3)), float(m.group(4)))
            best = min(float(m.group(5)), float(m.group(6)))
            rows.append(("SCST step " + m.group(2), m.group(1), "%.1f ms" % v, "%.1f ms" % best,
                         float(m.group(7)), GOALS["scst"]))
        m = re.match(r"backbone_ratio model=(\w+) path=(\w+) vtag=([0-9.]+) vtag_passive=([0-9.]+) "
                     r"torch=([0-9.]+) torch_passive=([0-9.]+) .*best_over_best=([0-9.]+)", line)
        if m:
            v = max(float(m.group(3)), float(m.group(4)))
            best = max(float(m.group(5)), float(m.group(6)))
            goal = GOALS["cnn"] if m.group(1).startswith("resnet") else 1.0
            rows.append(("CNN " + m.group(1), m.group(2), "%.1f img/s" % v, "%.1f img/s" % best,
                         float(m.group(7)), goal))
        m = re.match(r"builtin_ratio threads=(\d+) path=(\w+) vtag=([0-9.]+) torch=([0-9.]+) ratio=([0-9.]+)", line)
        if m:
            rows.append(("built-in CNN training, %s thread(s)" % m.group(1), m.group(2), "%s frames/s" % m.group(3),
                         "%s frames/s" % m.group(4), float(m.group(5)), GOALS["builtin"]))
        m = re.match(r"tag_ratio path=(\w+) vtag=([0-9.]+) reference=([0-9.]+) ratio=([0-9.]+)", line)
        if m:
            rows.append(("tag one video end to end", m.group(1), "%s s" % m.group(2), "%s s" % m.group(3),
                         float(m.group(4)), GOALS["tag"]))
        m = re.match(r"tag_ratio_keyframes path=(\w+) vtag=([0-9.]+) reference=([0-9.]+) ratio=([0-9.]+)", line)
        if m:
            rows.append(("tag one video, keyframes:16 (other frames)", m.group(1), "%s s" % m.group(2),
                         "%s s" % m.group(3), float(m.group(4)), GOALS["tag"]))
    for (p, model), (g, t) in sorted(gflops.items()):
        if t in peak:
            rows.append(("XE step %s, share of sgemm peak" % model, p, "%.1f GFLOP/s" % g, "%.1f GFLOP/s" % peak[t],
                         g / peak[t], GOALS["xe_peak"]))
    print("summary: the goals of bench/README.md (vtag over the reference's best configuration, same run)")
    print("%-44s %-7s %-16s %-16s %7s %6s  %s" % ("work", "path", "vtag", "reference", "ratio", "goal", "met"))
    for work, p, v, r, ratio, goal in rows:
        print("%-44s %-7s %-16s %-16s %7.2f %6.2f  %s" % (work, p, v, r, ratio, goal, "yes" if ratio >= goal else "NO"))
    if not rows:
        print("(no benchmark printed a ratio)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: summary.py LOG")
    sys.exit(main(sys.argv[1]))
