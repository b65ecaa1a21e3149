"""vtag serve under hostile input and a stop under load (issue 17, must-show 3 and 5).

While 4 threads keep posting good videos and checking each answer is vtag tag's
line for it, the server gets: random bytes (422), the first half of an MP4
(422, vtag tag's error line), a Content-Length of 2000000000 (413, raw socket),
a client that sends its headers and a few bytes and stalls (the good requests
go on meanwhile; it is then closed), {"path"} requests that leave --root
(.., sub/../.., a symlink out, an absolute path: 403), {"url"} without
--allow-urls (403), an unknown route (404), bad top_n values (400), a body
that is not JSON (400). Every good answer stays right throughout.
Then 10 threads post a longer video at once and SIGTERM comes while they are
in flight (seen in /metrics): each gets a whole answer, 200 and its line or
503 (its headers read after the stop began, or the queue full), and all those
queued or tagging at SIGTERM get 200; requests sent after the stop began get
503 or no connection (counted apart, any 200 among them must still be right);
the exit code is 0.

usage: hostile.py VTAG WORKDIR FFMPEG
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

VTAG, WORK, FFMPEG = (os.path.abspath(a) if os.sep in a else a for a in sys.argv[1:4])
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []
checks = 0
lock = threading.RLock()


def check(cond, what):
    global checks
    with lock:
        checks += 1
        if not cond:
            failures.append(what)
            print("FAIL: " + what, flush=True)


# A run folder outside the root folder; the clips inside it (cwd = root from here on).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
import common  # noqa: E402

shutil.rmtree(WORK, ignore_errors=True)
ROOT = os.path.join(os.path.abspath(WORK), "root")
os.makedirs(os.path.join(ROOT, "sub"))
os.chdir(ROOT)
labels = common.make_corpus(FFMPEG, ".")
p = subprocess.run([VTAG] + common.pipeline_args(labels, "../run"), env=env, capture_output=True, text=True,
                   timeout=300)
if p.returncode != 0:
    raise SystemExit("vtag pipeline exited %d:\n%s" % (p.returncode, p.stderr))
good = ["v/0.mp4", "v/1.mp4", "v/2.mp4", "v/3.mp4"]
# A longer video (one key frame: the sampled frames are reached by decoding) for the stop.
subprocess.run([FFMPEG, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=20",
                "-g", "500", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "35", "long.mp4"], check=True)
with open("v/0.mp4", "rb") as f:
    clip = f.read()
with open("half.mp4", "wb") as f:
    f.write(clip[:len(clip) // 2])
outside = os.path.join(os.path.dirname(ROOT), "outside.mp4")  # a real video, outside the root
with open(outside, "wb") as f:
    f.write(clip)
os.symlink(outside, "escape.mp4")
data = {}
for v in good + ["long.mp4", "half.mp4"]:
    with open(v, "rb") as f:
        data[v] = f.read()

with open("videos.txt", "w") as f:
    f.write("".join(v + "\n" for v in good + ["long.mp4", "half.mp4"]))
p = subprocess.run([VTAG, "tag", "--from", "../run", "--list", "videos.txt"], env=env, capture_output=True,
                   text=True, timeout=300)
expect = {json.loads(line)["video"]: line for line in p.stdout.splitlines()}
check(len(expect) == 6, "vtag tag wrote a line per video (%d)" % len(expect))
check('"error"' in expect.get("half.mp4", '"error"') and all('"tags"' in expect.get(v, "") for v in good),
      "vtag tag: the half MP4 is an error line, the clips are tagged")

srv = subprocess.Popen([VTAG, "serve", "--from", "../run", "--port", "0", "--workers", "2", "--queue", "8",
                        "--max-body", "5000000", "--timeout", "60", "--root", ROOT], env=env,
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
log = []
drain = threading.Thread(target=lambda: log.extend(srv.stderr), daemon=True)  # the access log
drain.start()


def request(method, path, body=None, headers=None, timeout=300):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        c.close()


def post_video(v):
    return request("POST", "/v1/tag?name=" + v, data[v], {"Content-Type": "application/octet-stream"})


def post_json(obj, query=""):
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return request("POST", "/v1/tag" + query, body, {"Content-Type": "application/json"})


def raw(head, body=b"", wait=60):
    """Sends head + body on a plain socket; the status code of the answer (0: none)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    got = b""
    try:
        s.sendall(head + body)
        while b"\r\n" not in got:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except OSError:
        pass
    finally:
        s.close()
    parts = got.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


# 1. Good requests from 4 threads while hostile ones arrive.
stop_good = threading.Event()
good_done = []  # (time answered, right)


def good_loop(i):
    k = i
    while not stop_good.is_set():
        v = good[k % len(good)]
        k += 1
        try:
            code, body = post_video(v)
        except OSError as e:
            code, body = 0, str(e)
        right = code == 200 and body.rstrip("\n") == expect[v]
        with lock:
            good_done.append((time.time(), right))
        if not right:
            check(False, "good %s during the hostile requests: %d %s" % (v, code, body[:200]))


goods = [threading.Thread(target=good_loop, args=(i,)) for i in range(4)]
for t in goods:
    t.start()


def answered_since(t0):
    with lock:
        return sum(1 for t, ok in good_done if t > t0 and ok)


# The slow client: headers and a few bytes of a 100000-byte body, then nothing.
slow = socket.create_connection(("127.0.0.1", port), timeout=60)
slow.sendall(b"POST /v1/tag?name=slow.mp4 HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Length: 100000\r\n\r\n" + clip[:10])
slow_since = time.time()

rng = random.Random(17)
for n in (1, 100, 5000, 300000):
    junk = bytes(rng.getrandbits(8) for _ in range(n))
    code, body = request("POST", "/v1/tag?name=junk.bin", junk, {"Content-Type": "application/octet-stream"})
    ok = code == 422 and json.loads(body).get("video") == "junk.bin" and "error" in json.loads(body)
    check(ok, "%d random bytes: 422 and an error line (%d %s)" % (n, code, body[:200]))
code, body = post_video("half.mp4")
check(code == 422 and body.rstrip("\n") == expect["half.mp4"],
      "the first half of an MP4: 422 and vtag tag's line (%d %s)" % (code, body[:200]))
code = raw(b"POST /v1/tag HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Length: 2000000000\r\n\r\n", clip)
check(code == 413, "Content-Length 2000000000 with a small body: 413 (%d)" % code)
code = raw(b"POST /v1/tag HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Length: 99999999999999999999999\r\n\r\n", clip)
check(code in (400, 413), "Content-Length past 64 bits: 400 or 413 (%d)" % code)
for path in ["../x", "sub/../../etc/passwd", "../outside.mp4", "escape.mp4", outside, "/etc/passwd"]:
    code, body = post_json({"path": path})
    check(code == 403 and "error" in body, "{\"path\": %r}: 403 (%d %s)" % (path, code, body[:200]))
code, body = post_json({"path": "v/0.mp4"})  # the same root answers a path inside it
check(code == 200 and body.rstrip("\n") == expect["v/0.mp4"], "{\"path\": \"v/0.mp4\"}: 200 (%d)" % code)
code, body = post_json({"path": "sub"})
check(code == 404, "{\"path\": \"sub\"} (a folder): 404 (%d)" % code)
code, body = post_json({"url": "http://127.0.0.1:%d/healthz" % port})
check(code == 403 and "error" in body, "{\"url\"} without --allow-urls: 403 (%d %s)" % (code, body[:200]))
for method, path in [("GET", "/nope"), ("POST", "/v1/tagx"), ("GET", "/v1/tag/../../etc/passwd")]:
    code, body = request(method, path, b"x" if method == "POST" else None)
    check(code == 404, "%s %s: 404 (%d)" % (method, path, code))
for q in ["?top_n=0", "?top_n=-3", "?top_n=abc", "?top_n=", "?top_n=99999999999999999999999"]:
    code, body = request("POST", "/v1/tag" + q + "&name=v/1.mp4", data["v/1.mp4"],
                         {"Content-Type": "application/octet-stream"})
    check(code == 400, "top_n %s: 400 (%d %s)" % (q, code, body[:200]))
for q in ["?min_score=1.5", "?min_score=-0.1", "?min_score=nan", "?min_score="]:
    code, body = request("POST", "/v1/tag" + q + "&name=v/1.mp4", data["v/1.mp4"],
                         {"Content-Type": "application/octet-stream"})
    check(code == 400, "min_score %s: 400 (%d %s)" % (q, code, body[:200]))
code, body = request("POST", "/v1/tag?min_score=1&name=v/1.mp4", data["v/1.mp4"],
                     {"Content-Type": "application/octet-stream"})
check(code == 200 and all(t["score"] >= 1 for t in json.loads(body)["tags"]),
      "min_score 1: 200, tags only of labels scored 1 (%d %s)" % (code, body[:200]))
for top in ["x", 0, 1.5, None]:
    code, body = post_json({"path": "v/1.mp4", "top_n": top})
    check(code == 400, "JSON top_n %r: 400 (%d %s)" % (top, code, body[:200]))
code, body = post_json(b"{\"path\": ")
check(code == 400, "a body that is not JSON: 400 (%d)" % code)
code, body = post_json(bytes(rng.getrandbits(8) for _ in range(2000)))
check(code == 400, "random bytes as JSON: 400 (%d)" % code)

# The stalled client held its connection all along: the good requests went on meanwhile.
time.sleep(1)
n = answered_since(slow_since)
check(n >= 4, "good answers while a client stalls mid-body: %d" % n)
slow.close()
t0 = time.time()
time.sleep(0.5)
n = answered_since(t0)
check(n >= 1, "good answers after the hostile requests: %d" % n)
stop_good.set()
for t in goods:
    t.join()
with lock:
    check(len(good_done) >= 8 and all(ok for _, ok in good_done),
          "every good answer right: %d of %d" % (sum(ok for _, ok in good_done), len(good_done)))
code, body = request("GET", "/healthz")
check(code == 200, "GET /healthz after it all: %d" % code)


# 2. SIGTERM while 10 requests are in flight.
def metrics():
    code, body = request("GET", "/metrics", timeout=30)
    vals = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            vals[k] = float(v)
    return vals


sent = threading.Barrier(11, timeout=120)
inflight = []  # (code, right) of the 10


def in_flight():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        c.request("POST", "/v1/tag?name=long.mp4", data["long.mp4"], {"Content-Type": "application/octet-stream"})
        sent.wait()
        r = c.getresponse()
        body = r.read().decode("utf-8", "replace")
        res = (r.status, r.status == 200 and body.rstrip("\n") == expect["long.mp4"], body[:200])
    except (OSError, http.client.HTTPException, threading.BrokenBarrierError) as e:
        res = (0, False, repr(e))
    with lock:
        inflight.append(res)


late = {"right": 0, "wrong": 0, "503": 0, "refused": 0, "reset": 0}


def late_loop():
    """New requests after the stop began: 503 or no connection, or a right answer."""
    for _ in range(200):
        try:
            code, body = post_video("v/2.mp4")
        except ConnectionRefusedError:
            with lock:
                late["refused"] += 1
            return
        except (OSError, http.client.HTTPException):
            with lock:
                late["reset"] += 1
            return
        with lock:
            if code == 503:
                late["503"] += 1
                return
            late["right" if code == 200 and body.rstrip("\n") == expect["v/2.mp4"] else "wrong"] += 1
        time.sleep(0.02)


flights = [threading.Thread(target=in_flight) for _ in range(10)]
for t in flights:
    t.start()
try:
    sent.wait()
except threading.BrokenBarrierError:
    check(False, "the 10 requests were not all sent")
busy = 0
deadline = time.time() + 60
while time.time() < deadline:
    m = metrics()
    busy = m.get("vtag_queue_depth", 0) + m.get("vtag_in_progress", 0)
    if busy >= 2:
        break
    time.sleep(0.01)
srv.send_signal(signal.SIGTERM)
lates = [threading.Thread(target=late_loop) for _ in range(3)]
for t in lates:
    t.start()
check(busy >= 2, "videos queued or being tagged when SIGTERM came: %d" % busy)
for t in flights + lates:
    t.join(timeout=300)
try:
    rc = srv.wait(timeout=120)
except subprocess.TimeoutExpired:
    srv.kill()
    rc = None
drain.join(timeout=10)
check(rc == 0, "SIGTERM under load: exit code %s" % rc)
# Each of the 10 gets a whole answer: 200 and its line, or 503 when the server read its headers
# after the stop began ("stopping") or when a worker had not yet taken its next video ("queue is
# full"); never a dropped connection. Those queued or tagging at SIGTERM all get 200.
right = sum(1 for c, ok, _ in inflight if ok)
refused = sum(1 for c, ok, b in inflight if c == 503 and ("queue is full" in b or "stopping" in b))
check(len(inflight) == 10 and right + refused == 10 and right >= busy,
      "the 10 requests sent before SIGTERM: %d answered 200 with their line (%d were queued or tagging), "
      "%d refused with 503 %s" % (right, busy, refused, [(c, b) for c, ok, b in inflight if not ok][:3]))
check(late["wrong"] == 0, "requests after the stop began: no wrong answer (%s)" % late)
bad = [line for line in log if "AddressSanitizer" in line or "runtime error" in line or "LeakSanitizer" in line]
check(not bad, "no sanitizer report: %s" % bad[:3])
print("in flight at SIGTERM: %d (%d of 10 answered, %d refused with 503); after the stop began: %d right, "
      "%d 503, %d refused, %d reset" % (busy, right, refused, late["right"], late["503"], late["refused"], late["reset"]))
print("%d good answers during the hostile requests" % len(good_done))
print("%d checks, %d failed" % (checks, len(failures)))
sys.exit(1 if failures or checks < 30 else 0)
