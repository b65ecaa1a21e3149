"""Issue 18, must-show 2 (the log part): FFmpeg's own log reaches stderr in no
command without --verbose. A clip with bytes overwritten in the middle of its
video data (decodes with errors: "Invalid NAL unit size", "error while
decoding MB") and one cut in half (no moov atom) go through every command that
opens a video: probe, frames, backbone train and predict, features, tag, serve
(one request) and a tiny pipeline, with stderr to a pipe. No line of stderr
may look like FFmpeg's log ("[h264 @ 0x...]" or its phrases). With --verbose,
probe and frames do show FFmpeg's lines (so the check above can see them).

usage: quiet.py VTAG FFMPEG WORKDIR"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
import common  # noqa: E402

VTAG, FFMPEG, WORK = (os.path.abspath(a) if os.sep in a else a for a in sys.argv[1:4])
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []
FFMPEG_LINE = re.compile(r"^\[[^\]]* @ (0x)?[0-9a-fA-F]+\]|Invalid NAL|decode_slice_header|moov atom|"
                         r"error while decoding MB|Error splitting the input|missing picture in access unit",
                         re.MULTILINE)


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(args, timeout=180):
    p = subprocess.run([VTAG] + args, env=env, capture_output=True, text=True, timeout=timeout)
    return p


def quiet(name, p, expect_rc=None):
    leaked = FFMPEG_LINE.findall(p.stderr)
    bad = [l for l in p.stderr.splitlines() if FFMPEG_LINE.search(l)]
    check(not leaked, "%s: no FFmpeg log line on stderr (exit %d)%s" %
          (name, p.returncode, (": " + " | ".join(bad[:3])) if bad else ""))
    if expect_rc is not None:
        check(p.returncode in expect_rc, "%s: exit %d in %s; stderr: %s" % (name, p.returncode, expect_rc,
                                                                          p.stderr.strip()[-300:]))


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.chdir(WORK)
labels = common.make_corpus(FFMPEG, ".")
# The damaged clip: 4 s with a key frame a second, bytes in its middle overwritten.
subprocess.run([FFMPEG, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "4",
                "-pix_fmt", "yuv420p", "-c:v", "libx264", "-g", "25", "clip.mp4"], check=True)
with open("clip.mp4", "rb") as f:
    data = bytearray(f.read())
for k in range(len(data) // 3, len(data) // 3 + 4000, 7):
    data[k] = (data[k] * 31 + 17) & 255
with open("v/bad.mp4", "wb") as f:
    f.write(data)
with open("v/half.mp4", "wb") as f:  # the moov atom is at the end: gone
    f.write(data[:len(data) // 2])

# --verbose lets FFmpeg speak: the pattern does see its lines.
p = run(["probe", "--verbose", "v/half.mp4"])
check(FFMPEG_LINE.search(p.stderr) is not None, "probe --verbose: FFmpeg's lines shown: %r" % p.stderr[:200])
p = run(["frames", "--verbose", "--sample", "fps:25", "--size", "32", "--out", "fr_verbose", "v/bad.mp4"])
check(FFMPEG_LINE.search(p.stderr) is not None, "frames --verbose: FFmpeg's lines shown: %r" % p.stderr[:200])

quiet("probe", run(["probe", "v/bad.mp4", "v/half.mp4"]), (1,))
p = run(["frames", "--sample", "fps:25", "--size", "32", "--out", "fr", "v/bad.mp4", "v/half.mp4"])
quiet("frames", p, (1,))
check("damaged" in p.stderr, "frames: the damage is reported by vtag itself: %r" % p.stderr[:300])

# Training and features on labels whose train split holds the damaged clip.
with open(labels) as f:
    lines = f.read()
lines += '{"video": "v/bad.mp4", "class1": "a", "class2": "x", "tags": ["red"], "split": "train"}\n'
with open("labels_bad.jsonl", "w") as f:
    f.write(lines)
quiet("pipeline", run(common.pipeline_args("labels_bad.jsonl", "run", **{"--sample": "fps:25"})), (0,))
quiet("backbone train", run(["backbone", "train", "--labels", "labels_bad.jsonl", "--out", "bb.safetensors",
                             "--epochs", "1", "--size", "16", "--sample", "fps:25", "--threads", "1"]), (0,))
quiet("backbone predict", run(["backbone", "predict", "--backbone", "bb.safetensors", "--sample", "fps:25",
                               "v/bad.mp4", "v/half.mp4"]), (1,))
quiet("features", run(["features", "--backbone", "bb.safetensors", "--labels", "labels_bad.jsonl", "--out",
                       "f.safetensors", "--sample", "fps:25", "--size", "16", "--threads", "1"]), (0,))
p = run(["tag", "--from", "run", "--sample", "fps:25", "v/bad.mp4", "v/half.mp4"])
quiet("tag", p, (1,))
check(p.stdout.count("\n") == 2, "tag: one line per video: %r" % p.stdout[:300])

# serve: one request with the damaged clip, the server's stderr read after it stops.
srv = subprocess.Popen([VTAG, "serve", "--from", "run", "--port", "0", "--workers", "1"], env=env,
                       stderr=subprocess.PIPE, text=True)
port, head = None, []
deadline = time.time() + 120
while time.time() < deadline:
    line = srv.stderr.readline()
    if not line:
        break
    head.append(line)
    if "listening on http://" in line:
        port = int(line.split("listening on http://", 1)[1].split()[0].rsplit(":", 1)[1].rstrip("/"))
        break
check(port is not None, "serve: it says where it listens: %r" % "".join(head)[-300:])
if port is not None:
    for name in ("bad.mp4", "half.mp4"):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        with open("v/" + name, "rb") as f:
            c.request("POST", "/v1/tag?name=" + name, f.read(), {"Content-Type": "application/octet-stream"})
        r = c.getresponse()
        body = r.read().decode("utf-8", "replace")
        c.close()
        check(r.status in (200, 422) and json.loads(body).get("video") == name,
              "serve: %s answered %d: %s" % (name, r.status, body[:200]))
srv.terminate()
try:
    rest = srv.communicate(timeout=60)[1]
except subprocess.TimeoutExpired:
    srv.kill()
    rest = srv.communicate()[1]
srv.stderr_all = "".join(head) + rest
quiet("serve", subprocess.CompletedProcess([], srv.returncode, "", srv.stderr_all))

if failures:
    sys.exit("%d failure(s)" % len(failures))
print("all ok")
