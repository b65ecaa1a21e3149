"""The CLI is a thin layer over the library (issue 15): every tools/*.c and
tools/*.h includes only public headers ("vtag/....h" from include/vtag/),
its own "cli.h", and C/POSIX system headers (no jansson, no libav*, no
src/ internals), and every command file (tools/cmd_*.c) is under 250 lines.

usage: tools_shape.py SOURCE_DIR   (stdlib only)
"""
import os
import re
import sys

root = sys.argv[1]
tools = os.path.join(root, "tools")
public = set(os.listdir(os.path.join(root, "include", "vtag")))
system = {"stdio.h", "stdlib.h", "string.h", "stdint.h", "stdarg.h", "stddef.h", "math.h", "errno.h", "limits.h",
          "time.h", "unistd.h", "getopt.h", "signal.h", "ctype.h", "inttypes.h", "fcntl.h", "sys/stat.h",
          "sys/types.h"}
failures, checked = [], 0
for name in sorted(os.listdir(tools)):
    if not name.endswith((".c", ".h")):
        continue
    path = os.path.join(tools, name)
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    checked += 1
    for n, line in enumerate(lines, 1):
        m = re.match(r'\s*#\s*include\s*([<"])([^>"]+)[>"]', line)
        if not m:
            continue
        kind, header = m.groups()
        ok = (kind == "<" and header in system) or (kind == '"' and (header == "cli.h" or (
            header.startswith("vtag/") and header[5:] in public)))
        if not ok:
            failures.append("%s:%d: includes %s%s%s (only include/vtag/*.h, cli.h and libc)" % (
                path, n, kind, header, ">" if kind == "<" else '"'))
    if name.startswith("cmd_") and name.endswith(".c") and len(lines) >= 250:
        failures.append("%s: %d lines (a command file is under 250)" % (path, len(lines)))
for f in failures:
    print("FAIL", f)
print("%d files checked, %d failures" % (checked, len(failures)))
sys.exit(1 if failures or checked < 10 else 0)
