"""vtag reads what FFmpeg opens (issue 18, must-show 1 and 2): on a run folder
made by vtag pipeline on the pipeline tests' 4 clips, `vtag tag` on
http://127.0.0.1:PORT/… (served by `python3 -m http.server` started here), on
`- < clip.mp4` (a file as stdin), on a real pipe (`cat clip.mp4 | vtag tag -`)
and on a directory tree with --recursive (nested folders, an upper-case
extension, a text file, a hidden file and a symlink loop: sorted byte order)
gives the same line as the local path, "video" naming the input as given.
`vtag frames` writes the same PNGs from the URL and from a pipe as from the
file, and `vtag probe` the same fields. A protocol not allowed (rtmp, and http
under --allow-protocols file) and a directory without --recursive fail with
exit code 2 and their one-line messages. A clip with bytes corrupted in the
middle gets "damaged_packets" > 0 in its tag line (and no FFmpeg log on
stderr); an intact one 0.

usage: inputs.py VTAG FFMPEG WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pipeline"))
import common  # noqa: E402

VTAG, FFMPEG, WORK = sys.argv[1:4]
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def vtag(args, **kw):
    kw.setdefault("timeout", 300)
    return subprocess.run([VTAG] + args, env=env, capture_output=True, **kw)


def lines(p):
    return [json.loads(x) for x in p.stdout.decode().splitlines()]


def same_but_video(a, b):
    a, b = dict(a), dict(b)
    a.pop("video", None)
    b.pop("video", None)
    return a == b


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.chdir(WORK)
labels = common.make_corpus(FFMPEG, ".")
p = vtag(common.pipeline_args(labels, "run"))
if p.returncode != 0:
    raise SystemExit("vtag pipeline exited %d:\n%s" % (p.returncode, p.stderr.decode()))
clips = ["v/%d.mp4" % i for i in range(4)]
TAG = ["tag", "--from", "run"]

# the local paths: the reference lines
p = vtag(TAG + clips)
check(p.returncode == 0 and p.stderr == b"", "vtag tag on the local clips: exit %d, %s" % (p.returncode, p.stderr[-300:]))
local = {d["video"]: d for d in lines(p)}
check(sorted(local) == clips, "one line per clip: %s" % sorted(local))
check(all(d.get("damaged_packets") == 0 for d in local.values()), "intact clips: damaged_packets 0")

# http:// through python3 -m http.server (port 0: the server says which)
srv = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", "."],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    first = srv.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N (http://127.0.0.1:N/) ..."
    port = int(first.split(" port ")[1].split()[0])
    base = "http://127.0.0.1:%d/" % port
    urls = [base + c for c in clips]
    p = vtag(TAG + urls)
    got = lines(p)
    check(p.returncode == 0 and p.stderr == b"", "vtag tag on URLs: exit %d, %s" % (p.returncode, p.stderr[-300:]))
    check([d["video"] for d in got] == urls, "the lines name the URLs as given: %s" % [d["video"] for d in got])
    for c, d in zip(clips, got):
        check(same_but_video(d, local[c]), "%s over http: the local file's tags\n  %s\n  %s" % (c, d, local[c]))
    # the same frames from the URL
    p1 = vtag(["frames", "--out", "fr_local", clips[1]])
    p2 = vtag(["frames", "--out", "fr_http", urls[1]])
    check(p1.returncode == 0 and p2.returncode == 0, "vtag frames: %s %s" % (p1.stderr[-200:], p2.stderr[-200:]))
    pngs = sorted(f for f in os.listdir("fr_local") if f.endswith(".png"))
    check(len(pngs) == 16 and pngs == sorted(f for f in os.listdir("fr_http") if f.endswith(".png")),
          "16 PNGs from the URL too")
    check(all(open("fr_local/" + f, "rb").read() == open("fr_http/" + f, "rb").read() for f in pngs),
          "the URL's PNGs are the file's, byte for byte")
    p1, p2 = vtag(["probe", clips[2]]), vtag(["probe", urls[2]])
    check(p1.returncode == 0 and p2.returncode == 0 and same_but_video(lines(p1)[0], lines(p2)[0]),
          "vtag probe over http: the file's fields (%s)" % p2.stdout[-300:])
    # --allow-protocols without http: refused before anything runs
    p = vtag(TAG + ["--allow-protocols", "file", urls[0]])
    want = "vtag tag: %s: protocol 'http' is not allowed (--allow-protocols)\n" % urls[0]
    check(p.returncode == 2 and p.stdout == b"" and p.stderr.decode() == want,
          "http not in --allow-protocols: exit 2, one line (%d, %r)" % (p.returncode, p.stderr[-300:]))
finally:
    srv.terminate()
    srv.wait(timeout=30)

# stdin: a file as stdin, and a real pipe (read once, front to back)
with open(clips[0], "rb") as f:
    p = vtag(TAG + ["-"], stdin=f)
got = lines(p)
check(p.returncode == 0 and len(got) == 1 and got[0]["video"] == "-" and same_but_video(got[0], local[clips[0]]),
      "vtag tag - < clip: the file's tags (%d, %s, %s)" % (p.returncode, p.stdout[-300:], p.stderr[-300:]))
data = open(clips[3], "rb").read()
p = vtag(TAG + ["-"], input=data)
got = lines(p)
check(p.returncode == 0 and len(got) == 1 and same_but_video(got[0], local[clips[3]]),
      "cat clip | vtag tag -: the file's tags (%d, %s, %s)" % (p.returncode, p.stdout[-300:], p.stderr[-300:]))
p = vtag(["frames", "--out", "fr_pipe", "-"], input=open(clips[1], "rb").read())
piped = sorted(f for f in os.listdir("fr_pipe") if f.endswith(".png")) if p.returncode == 0 else []
check(len(piped) == 16 and [open("fr_local/" + f, "rb").read() for f in pngs] ==
      [open("fr_pipe/" + f, "rb").read() for f in piped], "vtag frames from a pipe: the file's PNGs (%s)" % p.stderr[-300:])

# a directory tree
os.makedirs("tree/a/b")
os.makedirs("tree/.cache")
shutil.copy(clips[0], "tree/a/b/clip0.mp4")
shutil.copy(clips[1], "tree/a/clip1.mp4")
shutil.copy(clips[2], "tree/Z.MP4")
shutil.copy(clips[3], "tree/.cache/hidden.mp4")
with open("tree/a/notes.txt", "w") as f:
    f.write("not a video\n")
os.symlink("..", "tree/a/b/loop")
p = vtag(TAG + ["--recursive", "tree"])
got = lines(p)
want = [("tree/Z.MP4", clips[2]), ("tree/a/b/clip0.mp4", clips[0]), ("tree/a/clip1.mp4", clips[1])]
check(p.returncode == 0 and p.stderr == b"", "vtag tag --recursive: exit %d, %s" % (p.returncode, p.stderr[-300:]))
check([d["video"] for d in got] == [w[0] for w in want], "sorted byte order, text and hidden files skipped, the loop "
      "walked once: %s" % [d["video"] for d in got])
for (name, c), d in zip(want, got):
    check(same_but_video(d, local[c]), "%s: the tags of %s" % (name, c))
p = vtag(TAG + ["--recursive", "--ext", "txt", "tree"])
check(p.returncode == 1 and [d["video"] for d in lines(p)] == ["tree/a/notes.txt"] and "error" in lines(p)[0],
      "--ext txt keeps the text file only (an error line for it): %s" % p.stdout[-300:])
p = vtag(TAG + ["tree"])
check(p.returncode == 2 and p.stdout == b"" and p.stderr.decode() == "vtag tag: tree is a directory: add --recursive\n",
      "a directory without --recursive: exit 2, one line (%d, %r)" % (p.returncode, p.stderr[-300:]))
p = vtag(["probe", "tree"])
check(p.returncode == 2 and p.stderr.decode() == "vtag probe: tree is a directory: add --recursive\n",
      "vtag probe on a directory: exit 2 and the hint (%r)" % p.stderr[-300:])
p = vtag(["probe", "--recursive", "tree"])
check(p.returncode == 0 and [d["video"] for d in lines(p)] == [w[0] for w in want], "vtag probe --recursive")
p = vtag(["frames", "--out", "fr_tree", "--recursive", "tree"])
check(p.returncode == 0 and os.path.exists("fr_tree/Z_00015.png") and os.path.exists("fr_tree/clip0_00000.png"),
      "vtag frames --recursive (%s)" % p.stderr[-300:])

# a protocol not allowed
p = vtag(TAG + ["rtmp://127.0.0.1:1935/live/clip"])
check(p.returncode == 2 and p.stdout == b"" and p.stderr.decode() ==
      "vtag tag: rtmp://127.0.0.1:1935/live/clip: protocol 'rtmp' is not allowed (--allow-protocols)\n",
      "rtmp refused: exit 2, one line (%d, %r)" % (p.returncode, p.stderr[-300:]))
p = vtag(["frames", "--out", "fr_x", "rtmp://127.0.0.1:1935/live/clip"])
check(p.returncode == 2 and "protocol 'rtmp' is not allowed" in p.stderr.decode(), "vtag frames refuses rtmp too")

# a damaged clip: bytes corrupted in the middle of a 4 s clip with a keyframe a second
subprocess.run([FFMPEG, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=4",
                "-pix_fmt", "yuv420p", "-g", "10", "damaged_src.mp4"], check=True)
d = bytearray(open("damaged_src.mp4", "rb").read())
seed = 7
for i in range(len(d) * 3 // 10, len(d) * 6 // 10, 97):
    seed = (seed * 1103515245 + 12345) % (1 << 31)
    d[i] = seed >> 16 & 0xFF
with open("damaged.mp4", "wb") as f:
    f.write(bytes(d))
p = vtag(TAG + ["--sample", "uniform:8", "damaged.mp4", "damaged_src.mp4"])
got = lines(p)
check(p.returncode == 0 and len(got) == 2, "vtag tag on the damaged clip: exit %d, %s" % (p.returncode, p.stderr[-300:]))
if len(got) == 2:
    check(got[0].get("damaged_packets", 0) > 0 and "tags" in got[0], "damaged clip: damaged_packets > 0 (%s)" %
          got[0].get("damaged_packets"))
    check(got[1].get("damaged_packets") == 0, "its intact source: damaged_packets 0")
    check(list(got[0])[-1] == "damaged_packets", "damaged_packets comes after the older keys: %s" % list(got[0]))
check(p.stderr == b"", "no FFmpeg log line on stderr: %r" % p.stderr[-300:])

print("%d checks, %d failed" % (checks, len(failures)))
sys.exit(1 if failures else 0)
