"""vtag info / vtag --version and VTAG_CPU (the kernel path a run uses).

Checked: --version prints the same as info; the path in use is the best the
CPU runs unless VTAG_CPU forces one; every path the CPU runs can be forced and
is then reported; a path the CPU lacks, or an unknown name, is refused by
every command with exit 2 and one line naming VTAG_CPU; OPENBLAS_CORETYPE
shows in the BLAS line; the FFmpeg libraries and the thread model are named.

usage: cli_info.py VTAG_BINARY
"""
import os
import re
import subprocess
import sys

PATHS = ["generic", "avx2", "avx512"]
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, flush=True)


def run(vtag, args, **env):
    e = dict(os.environ)
    e.pop("VTAG_CPU", None)
    e.pop("OPENBLAS_CORETYPE", None)
    e.update(env)
    return subprocess.run([vtag] + args, capture_output=True, text=True, env=e)


def field(out, name):
    m = re.search(r"^%s:\s+(.*)$" % re.escape(name), out, re.M)
    return m.group(1) if m else ""


def main():
    vtag = sys.argv[1]
    info, version = run(vtag, ["info"]), run(vtag, ["--version"])
    check(info.returncode == 0 and version.returncode == 0, "info / --version exit %d / %d: %s" %
          (info.returncode, version.returncode, info.stderr))
    check(info.stdout == version.stdout, "--version and info differ")
    out = info.stdout
    print(out, end="")
    check(re.match(r"vtag \d+\.\d+\.\d+\n", out) is not None, "first line is not 'vtag X.Y.Z'")
    m = re.match(r"(\w+) \(the best this CPU runs; VTAG_CPU unset; this CPU runs: ([\w, ]+)\)$",
                 field(out, "kernel path"))
    check(m is not None, "kernel path line: %r" % field(out, "kernel path"))
    if not m:
        return 1
    best, runs = m.group(1), m.group(2).split(", ")
    check(runs[0] == "generic" and best == runs[-1] and all(p in PATHS for p in runs),
          "best %s, runs %s" % (best, runs))
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    check(("avx512" in runs) == (" avx512f" in flags and " avx512vl" in flags and " avx512bw" in flags),
          "avx512 listed %s, /proc/cpuinfo disagrees" % ("avx512" in runs))
    check(("avx2" in runs) == (" avx2" in flags and " fma" in flags), "avx2 listed %s, /proc/cpuinfo disagrees" %
          ("avx2" in runs))
    check(re.search(r"OpenBLAS \d", field(out, "blas")) is not None, "blas line: %r" % field(out, "blas"))
    check("threads: OpenMP" in field(out, "blas kernels"), "BLAS thread model: %r" % field(out, "blas kernels"))
    check(re.search(r"libavcodec \d+\.\d+\.\d+", field(out, "ffmpeg")) is not None, "ffmpeg line")
    check(re.match(r"\d+ by default", field(out, "threads")) is not None, "threads line")
    check(field(out, "build") != "", "build line")
    for p in PATHS:
        r = run(vtag, ["info"], VTAG_CPU=p)
        if p in runs:
            check(r.returncode == 0 and field(r.stdout, "kernel path").startswith("%s (forced by VTAG_CPU" % p),
                  "VTAG_CPU=%s: exit %d, %r" % (p, r.returncode, field(r.stdout, "kernel path")))
        else:
            for args in (["info"], ["score", "--help"]):
                r = run(vtag, args, VTAG_CPU=p)
                lines = r.stderr.strip().splitlines()
                check(r.returncode == 2 and r.stdout == "" and len(lines) == 1 and "VTAG_CPU=%s" % p in lines[0]
                      and "cannot run" in lines[0], "VTAG_CPU=%s %s: exit %d, %r" % (p, args[0], r.returncode,
                                                                                      r.stderr))
    r = run(vtag, ["score", "--help"], VTAG_CPU="sse9")
    check(r.returncode == 2 and "VTAG_CPU=sse9: unknown path" in r.stderr, "VTAG_CPU=sse9: exit %d, %r" %
          (r.returncode, r.stderr))
    if "avx2" in runs:
        r = run(vtag, ["info"], OPENBLAS_CORETYPE="Haswell")
        check(field(r.stdout, "blas kernels").startswith("Haswell (forced by OPENBLAS_CORETYPE)"),
              "OPENBLAS_CORETYPE=Haswell: %r" % field(r.stdout, "blas kernels"))
    r = run(vtag, ["info", "--help"])
    check(r.returncode == 0 and "VTAG_CPU" in r.stdout, "info --help")
    print("FAILED: %d" % failures if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
