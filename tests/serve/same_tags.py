"""vtag serve answers exactly what vtag tag writes (issue 17, must-show 1):
for every video, through three real clients on loopback — Python's
http.client posting the raw bytes (?name=), curl posting a multipart form
upload (the part's filename names the video), and curl posting JSON
{"path": …} under --root — the answer body is vtag tag's line for that
video, byte for byte (an undecodable video: its error line, with 422).
Also: GET /healthz, /v1/models and /metrics answer, and SIGTERM ends the
service with exit code 0.

usage: same_tags.py VTAG CURL WORKDIR (make FFMPEG | RUN_DIR VIDEO_DIR)
  make FFMPEG: a run folder made here by vtag pipeline on the pipeline tests'
               4 clips (quick; the ASan build runs it too);
  RUN_DIR VIDEO_DIR: an existing run folder and every *.mp4 of VIDEO_DIR
               (the e2e corpus) plus every *.mp4 directly in WORKDIR.
"""
import glob
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time

VTAG, CURL, WORK, MODE = sys.argv[1:5]
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


if MODE == "make":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
    import common  # noqa: E402
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    os.chdir(WORK)
    labels = common.make_corpus(sys.argv[5], ".")
    p = subprocess.run([VTAG] + common.pipeline_args(labels, "run"), env=env, capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        raise SystemExit("vtag pipeline exited %d:\n%s" % (p.returncode, p.stderr))
    run = "run"
    videos = sorted(glob.glob("v/*.mp4"))
    with open("broken.mp4", "wb") as f:  # not a video: an error line and 422
        f.write(b"this is not a video\n" * 50)
    videos.append("broken.mp4")
else:
    run, vdir = MODE, sys.argv[5]
    os.makedirs(WORK, exist_ok=True)
    os.chdir(WORK)
    videos = sorted(os.path.relpath(v) for v in glob.glob(os.path.join(vdir, "*.mp4")))
    videos += sorted(glob.glob("*.mp4"))

# what vtag tag writes for each video (paths relative to WORK, as the clients name them)
with open("videos.txt", "w") as f:
    f.write("".join(v + "\n" for v in videos))
p = subprocess.run([VTAG, "tag", "--from", run, "--list", "videos.txt"], env=env, capture_output=True, text=True,
                   timeout=1800)
expected = p.stdout.splitlines()
check(len(expected) == len(videos), "vtag tag wrote one line per video (%d for %d)" % (len(expected), len(videos)))
expect = {json.loads(line)["video"]: line for line in expected}

srv = subprocess.Popen([VTAG, "serve", "--from", run, "--port", "0", "--workers", "2", "--root", "."], env=env,
                       stderr=subprocess.PIPE, text=True)
port = None
deadline = time.time() + 120
while time.time() < deadline:
    line = srv.stderr.readline()
    if not line:
        break
    if "listening on http://" in line:
        port = int(line.split("listening on http://", 1)[1].split()[0].rsplit(":", 1)[1].rstrip("/"))
        break
if port is None:
    srv.kill()
    raise SystemExit("vtag serve did not say where it listens")


def request(method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read().decode("utf-8")
    c.close()
    return r.status, data


def curl(args):
    p = subprocess.run([CURL, "-s", "-S", "-w", "\n%{http_code}"] + args, capture_output=True, text=True, timeout=300)
    body, _, code = p.stdout.rpartition("\n")
    return int(code or 0), body


def expect_code(v):
    return 422 if '"error"' in expect[v] and '"tags"' not in expect[v] else 200


from urllib.parse import quote  # noqa: E402
for v in videos:
    want = expect.get(v)
    if want is None:
        check(False, "%s: no line from vtag tag" % v)
        continue
    with open(v, "rb") as f:
        data = f.read()
    code, body = request("POST", "/v1/tag?name=" + quote(v), data, {"Content-Type": "application/octet-stream"})
    check(code == expect_code(v) and body.rstrip("\n") == want,
          "http.client raw %s: %d, same line %s" % (v, code, body.rstrip("\n") == want))
    code, body = curl(["-F", "video=@%s;filename=%s" % (v, v), "http://127.0.0.1:%d/v1/tag" % port])
    check(code == expect_code(v) and body.rstrip("\n") == want,
          "curl multipart %s: %d, same line %s" % (v, code, body.rstrip("\n") == want))
    code, body = curl(["-H", "Content-Type: application/json", "--data-binary", json.dumps({"path": v}),
                       "http://127.0.0.1:%d/v1/tag" % port])
    check(code == expect_code(v) and body.rstrip("\n") == want,
          "curl path %s: %d, same line %s" % (v, code, body.rstrip("\n") == want))

code, body = request("GET", "/healthz")
check(code == 200, "GET /healthz: %d" % code)
code, body = request("GET", "/v1/models")
check(code == 200 and "vocab" in body, "GET /v1/models: %d %s" % (code, body[:200]))
code, body = request("GET", "/metrics")
check(code == 200 and "vtag_" in body, "GET /metrics: %d" % code)

srv.send_signal(signal.SIGTERM)
try:
    rc = srv.wait(timeout=60)
except subprocess.TimeoutExpired:
    srv.kill()
    rc = None
check(rc == 0, "SIGTERM: exit code %s" % rc)
print("%d checks, %d failed (%d videos)" % (checks, len(failures), len(videos)))
sys.exit(1 if failures or checks < 3 * len(videos) else 0)
