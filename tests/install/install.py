"""make install, pkg-config, the C example and the Python package (issue 18, must-show 5).

From the build's own tree (no rebuild): cmake --install under a temporary prefix; the
installed layout (lib/libvtag.so -> .so.0 -> .so.0.1.0 with soname libvtag.so.0 and only vtag_*
exported, include/vtag/*.h each compiling alone, lib/pkgconfig/vtag.pc, bin/vtag,
share/man/man1/vtag.1 rendering with groff and man and naming every command); then
docs/examples/tag_one.c compiled with `pkg-config --cflags --libs vtag`, linked to the
installed libvtag.so, prints the very lines `vtag tag --from RUN` prints for three clips and a
broken file (exit 1 both); the installed bin/vtag prints them too. Last, python/ is
pip-installed offline into a venv (--system-site-packages, --no-index, --no-build-isolation)
and use_package.py, run by the venv's Python, compares Tagger.tag, score and read_features
with the CLI.

usage: install.py BUILD_DIR VTAG FFMPEG CC WORKDIR
"""
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

BUILD, VTAG, FFMPEG, CC, WORK = sys.argv[1:6]
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
VERSION = "0.1.0"
failures = []
checks = 0
env = dict(os.environ, OMP_WAIT_POLICY="passive")
for k in ("VTAG_LIBRARY", "LD_LIBRARY_PATH", "PKG_CONFIG_PATH", "PYTHONPATH"):
    env.pop(k, None)


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def run(args, ok=(0,), **kw):
    t0 = time.time()
    p = subprocess.run(args, capture_output=True, text=True, timeout=240, env=kw.pop("env", env), **kw)
    print("%.1f s: %s -> %d" % (time.time() - t0, " ".join(args[:4]) + (" ..." if len(args) > 4 else ""),
                                p.returncode))
    if p.returncode not in ok:
        print(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit("FAIL: %s exited %d" % (" ".join(args), p.returncode))
    return p


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.chdir(WORK)
prefix = os.path.join(WORK, "prefix")
lib = os.path.join(prefix, "lib")

# ---- the install tree ------------------------------------------------------------------------
run(["cmake", "--install", BUILD, "--prefix", prefix])
real = os.path.join(lib, "libvtag.so." + VERSION)
check(os.path.isfile(real) and not os.path.islink(real), "lib/libvtag.so.%s is the library file" % VERSION)
check(os.readlink(os.path.join(lib, "libvtag.so.0")) == "libvtag.so." + VERSION, "libvtag.so.0 -> .so." + VERSION)
check(os.readlink(os.path.join(lib, "libvtag.so")) == "libvtag.so.0", "libvtag.so -> libvtag.so.0")
dyn = run(["readelf", "-d", real]).stdout
check("Library soname: [libvtag.so.0]" in dyn, "the soname is libvtag.so.0:\n" + dyn)
syms = run(["nm", "-D", "--defined-only", real]).stdout.split("\n")
names = [ln.split()[-1] for ln in syms if len(ln.split()) == 3 and ln.split()[1] in "TDBRtdbrWVi"]
check("vtag_api_tagger_open" in names and "vtag_tagger_open" in names, "the API is exported")
stray = [n for n in names if not n.startswith("vtag_")]
check(not stray, "only vtag_* exported, not %s" % stray[:5])
headers = sorted(os.path.basename(h) for h in glob.glob(os.path.join(prefix, "include", "vtag", "*.h")))
check(headers == sorted(os.path.basename(h) for h in glob.glob(os.path.join(SRC, "include", "vtag", "*.h"))),
      "every public header installed: %s" % headers)
for h in headers:  # each compiles alone, as a user includes it
    p = subprocess.run([CC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I",
                        os.path.join(prefix, "include"), "-x", "c", "-"], input="#include <vtag/%s>\n" % h,
                       capture_output=True, text=True, env=env)
    check(p.returncode == 0, "vtag/%s compiles alone: %s" % (h, p.stderr))
check(os.access(os.path.join(prefix, "bin", "vtag"), os.X_OK), "bin/vtag installed")

# ---- pkg-config and the C example ------------------------------------------------------------
pc_env = dict(env, PKG_CONFIG_PATH=os.path.join(lib, "pkgconfig"))
check(run(["pkg-config", "--modversion", "vtag"], env=pc_env).stdout.strip() == VERSION, "vtag.pc's version")
flags = run(["pkg-config", "--cflags", "--libs", "vtag"], env=pc_env).stdout.split()
inc = [f[2:] for f in flags if f.startswith("-I")]
libdirs = [f[2:] for f in flags if f.startswith("-L")]
# (pkg-config adds the Cflags of Requires.private's packages: harmless, the headers need none)
check(inc and os.path.samefile(inc[0], os.path.join(prefix, "include")), "Cflags: %s" % flags)
check(len(libdirs) == 1 and os.path.samefile(libdirs[0], lib) and "-lvtag" in flags, "Libs: %s" % flags)
run(["sh", "-c", '"$0" -o tag_one "$1" $(pkg-config --cflags --libs vtag)', CC,
     os.path.join(SRC, "docs", "examples", "tag_one.c")], env=pc_env)
run_env = dict(env, LD_LIBRARY_PATH=lib)
ldd = run(["ldd", "./tag_one"], env=run_env).stdout
check(any("libvtag.so.0 => " + real in ln or ("libvtag.so.0 => " in ln and lib in ln) for ln in ldd.split("\n")),
      "tag_one loads the installed libvtag.so.0:\n" + ldd)

sys.path.insert(0, os.path.join(SRC, "tests", "pipeline"))
import common  # noqa: E402

labels = common.make_corpus(FFMPEG, ".")
run([VTAG] + common.pipeline_args(labels, "run"))
with open("broken.mp4", "wb") as f:
    f.write(b"this is not a video\n" * 50)
videos = sorted(glob.glob("v/*.mp4"))[:3] + ["broken.mp4"]
cli = run([VTAG, "tag", "--from", "run"] + videos, ok=(1,))
c = run(["./tag_one", "run"] + videos, ok=(1,), env=run_env)
check(c.stdout == cli.stdout and cli.stdout.count("\n") == 4,
      "tag_one prints vtag tag --from's lines:\n%s\nvs\n%s" % (c.stdout, cli.stdout))
installed = run([os.path.join(prefix, "bin", "vtag"), "tag", "--from", "run"] + videos, ok=(1,))
check(installed.stdout == cli.stdout, "the installed bin/vtag prints the same lines")

# ---- the man page ----------------------------------------------------------------------------
page = os.path.join(prefix, "share", "man", "man1", "vtag.1")
g = run(["groff", "-man", "-Tutf8", "-ww", page], env=dict(env, GROFF_NO_SGR="1"))
check(g.stderr == "", "groff renders vtag.1 without a warning: %s" % g.stderr)
text = g.stdout.replace("\u2010", "-").replace("\u2212", "-")
usage = run([VTAG, "--help"]).stdout.split("\n")
cmds = [ln.split()[0] for ln in usage[usage.index("commands:") + 1:] if ln.startswith("  ") and ln.split()]
missing = [c for c in cmds if "vtag " + c not in text]
check(len(cmds) >= 10 and not missing, "the page has a section per command of %s: not %s" % (cmds, missing))
check("--from DIR" in text and "--top-n N" in text, "the page holds vtag tag --help's options")
if shutil.which("man"):
    m = run(["man", "-l", "-P", "cat", page], env=dict(env, MANWIDTH="100"))
    check("vtag tag" in m.stdout, "man -l renders the page")

# ---- the Python package ----------------------------------------------------------------------
venv = os.path.join(WORK, "venv")
run([sys.executable, "-m", "venv", "--system-site-packages", venv])
shutil.copytree(os.path.join(SRC, "python"), "python-src",  # pip builds in the tree: not in the source's
                ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
pip_env = dict(env, PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
run([os.path.join(venv, "bin", "pip"), "install", "--no-index", "--no-build-isolation", "./python-src"], env=pip_env)
# The library found through pkg-config's libdir (no VTAG_LIBRARY, no LD_LIBRARY_PATH).
p = run([os.path.join(venv, "bin", "python"), os.path.join(HERE, "use_package.py"), VTAG, "run", real] + videos,
        env=pc_env, ok=(0, 1))
print(p.stdout)
check(p.returncode == 0, "use_package.py passes:\n" + p.stderr)
# VTAG_LIBRARY names the library; a wrong one is an error that says so, not another library.
bad = run([os.path.join(venv, "bin", "python"), "-c", "import vtag; vtag.library_version()"],
          env=dict(pc_env, VTAG_LIBRARY=os.path.join(WORK, "nope.so")), ok=(1,))
check("VTAG_LIBRARY" in bad.stderr and "nope.so" in bad.stderr, "a wrong VTAG_LIBRARY: " + bad.stderr[-500:])
good = run([os.path.join(venv, "bin", "python"), "-c", "import vtag; print(vtag.library_version())"],
           env=dict(env, VTAG_LIBRARY=real))
check(good.stdout.strip() == VERSION, "VTAG_LIBRARY=%s loads it" % real)

print("%d checks, %d failed" % (checks, len(failures)))
sys.exit(1 if failures else 0)
