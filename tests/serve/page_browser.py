"""vtag serve's upload page in headless Chromium (issue 17, must-show 6): a
person's path through the page, driven over the DevTools protocol. vtag serve
runs on a small run folder (vtag pipeline on the pipeline tests' 4 clips);
Chromium opens http://127.0.0.1:PORT/, a clip is put into the page's file input
(DOM.setFileInputFiles) and the form is submitted by clicking #go; once the page
says it is done (body[data-tagged]) the tags shown must be the `tags` of vtag
tag's line for that clip (label and frame count, in order), the frame strip one
entry per frame with its time and caption, class1/class2 the line's; a second
upload with top n 1 must show vtag tag --top-n 1's single tag, and a file that is
not a video vtag tag's error message (422). A screenshot is taken (a non-blank
PNG in the work folder), and no console error, no failed resource and no
uncaught exception may occur (but the 422's); a planted exception and
console.error must be seen, so the watch itself is checked.

usage: page_browser.py VTAG WORKDIR FFMPEG      (CHROMIUM overrides /usr/bin/chromium)
The DevTools websocket is spoken by a minimal RFC 6455 client below (python's
stdlib has none). Runs as root in CI: --no-sandbox.
"""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib

VTAG, WORK, FFMPEG = sys.argv[1:4]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
HERE = os.path.dirname(os.path.abspath(__file__))
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


class WebSocket:
    """Just enough RFC 6455 for the DevTools protocol: masked text frames out,
    (possibly fragmented) text frames in, no extensions."""

    def __init__(self, url):
        assert url.startswith("ws://"), url
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key))
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise SystemExit("DevTools closed the websocket handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise SystemExit("DevTools refused the websocket: %r" % head[:200])

    def send(self, text):
        data = text.encode()
        n = len(data)
        hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                               bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                               bytes([0x80 | 127]) + struct.pack(">Q", n))
        mask = os.urandom(4)
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(data)))

    def _exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise SystemExit("DevTools closed the websocket")
            buf += chunk
        return bytes(buf)

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            mask = self._exact(4) if b1 & 0x80 else None
            data = self._exact(n)
            if mask:
                data = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
            op = b0 & 0x0F
            if op == 8:
                raise SystemExit("DevTools closed the websocket")
            if op == 9:  # ping: answer with a masked pong
                m = os.urandom(4)
                self.sock.sendall(bytes([0x8A, 0x80 | n]) + m + bytes(b ^ m[i & 3] for i, b in enumerate(data)))
                continue
            if op in (0, 1, 2):
                message += data
                if b0 & 0x80:
                    return message.decode()


class DevTools:
    """Commands by id; events are kept in self.events as they arrive."""

    def __init__(self, url):
        self.ws, self.next_id, self.events = WebSocket(url), 0, []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise SystemExit("DevTools %s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise SystemExit("page script %r: %s" % (expr[:60], r["exceptionDetails"]))
        return r["result"].get("value")


def problems(events):
    """Console errors, failed resources and uncaught exceptions among the events."""
    out = []
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            out.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
        elif e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert", "warning"):
            out.append("console.%s: %s" % (p["type"], " ".join(str(a.get("value", a.get("description")))
                                                                for a in p["args"])))
        elif e["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
            out.append("log %s: %s %s" % (p["entry"]["level"], p["entry"]["text"], p["entry"].get("url", "")))
    return out


def png_size_and_variance(data):
    """(width, height, luminance variance over a sample of pixels) of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, lum = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            lum += [sum(line[x:x + 3]) / 3 for x in range(0, stride, 4 * bpp)]
        prev = line
    mean = sum(lum) / len(lum)
    return w, h, sum((v - mean) ** 2 for v in lum) / len(lum)


if not os.access(CHROMIUM, os.X_OK):
    raise SystemExit("FAIL: %s not installed (make deps installs Debian's chromium)" % CHROMIUM)

# a run folder and the lines vtag tag writes for one clip (top n 5, the page's default, and 1)
sys.path.insert(0, os.path.join(HERE, "..", "pipeline"))
import common  # noqa: E402
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.chdir(WORK)
labels = common.make_corpus(FFMPEG, ".")
p = subprocess.run([VTAG] + common.pipeline_args(labels, "run"), env=env, capture_output=True, text=True, timeout=300)
if p.returncode != 0:
    raise SystemExit("vtag pipeline exited %d:\n%s" % (p.returncode, p.stderr))
clip = os.path.abspath("v/2.mp4")
want = {}
for n in (5, 1):
    p = subprocess.run([VTAG, "tag", "--from", "run", "--top-n", str(n), clip], env=env, capture_output=True,
                       text=True, timeout=300)
    if p.returncode != 0:
        raise SystemExit("vtag tag exited %d:\n%s" % (p.returncode, p.stderr))
    want[n] = json.loads(p.stdout)
broken = os.path.abspath("broken.mp4")  # not a video: the page shows the error line's message
with open(broken, "wb") as f:
    f.write(b"this is not a video\n" * 50)
# named as the form names it (its file name), as the service names the video
p = subprocess.run([VTAG, "tag", "--from", "run", "broken.mp4"], env=env, capture_output=True, text=True, timeout=300)
want_error = json.loads(p.stdout)["error"]

srv = subprocess.Popen([VTAG, "serve", "--from", "run", "--port", "0", "--workers", "1"], env=env,
                       stderr=subprocess.PIPE, text=True)
browser = None
try:
    port = None
    deadline = time.time() + 120
    while time.time() < deadline:
        line = srv.stderr.readline()
        if not line:
            break
        if "listening on http://" in line:
            port = int(line.split("listening on http://", 1)[1].split()[0].rstrip("/").rsplit(":", 1)[1])
            break
    if port is None:
        raise SystemExit("vtag serve did not say where it listens")

    profile = os.path.abspath("profile")
    browser = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                "--disable-extensions", "--hide-scrollbars", "--user-data-dir=" + profile,
                                "--remote-debugging-port=0", "--window-size=1280,1024", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=open("chromium.err", "w"), start_new_session=True)
    active = os.path.join(profile, "DevToolsActivePort")
    deadline = time.time() + 60
    while not os.path.exists(active) or len(open(active).read().split("\n")) < 2:
        if time.time() > deadline or browser.poll() is not None:
            raise SystemExit("chromium did not open its DevTools port (chromium.err says why)")
        time.sleep(0.1)
    dport = int(open(active).read().split("\n")[0])
    with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % dport, timeout=30) as r:
        page = [t for t in json.load(r) if t["type"] == "page"][0]
    dt = DevTools(page["webSocketDebuggerUrl"])
    for domain in ("Page", "Runtime", "Log", "DOM"):
        dt.call(domain + ".enable")
    url = "http://127.0.0.1:%d/" % port
    dt.call("Page.navigate", url=url)
    deadline = time.time() + 30
    while dt.js("document.readyState") != "complete":
        if time.time() > deadline:
            raise SystemExit("the page did not load")
        time.sleep(0.05)
    check(dt.js("document.title") == "vtag" and dt.js("!!document.getElementById('go')"), "GET / is the upload page")

    def upload(top_n, path=clip):
        dt.js("delete document.body.dataset.tagged; document.getElementById('top_n').value = '%d'; 1" % top_n)
        node = dt.call("Runtime.evaluate", expression="document.getElementById('video')")["result"]["objectId"]
        dt.call("DOM.setFileInputFiles", files=[path], objectId=node)
        dt.js("document.getElementById('go').click(); 1")
        deadline = time.time() + 60
        while True:
            state = dt.js("document.body.dataset.tagged || document.getElementById('error').textContent")
            if state:
                return state
            if time.time() > deadline:
                return "no answer shown in 60 s"
            time.sleep(0.05)

    def expect_tags(line):
        return [t["label"] + " (%d)" % t["frames"] for t in line["tags"]]

    state = upload(5)
    check(state == "1", "the page shows an answer for the upload (%s)" % state)
    shown = dt.js("[...document.querySelectorAll('#tags .tag')].map(e => e.textContent)")
    check(shown == expect_tags(want[5]) and shown, "tags shown %s == vtag tag's %s" % (shown, expect_tags(want[5])))
    frames = dt.js("[...document.querySelectorAll('#frames .frame')].map("
                   "e => [e.querySelector('.t').textContent, e.querySelector('.c').textContent])")
    wframes = [["%.2f s" % f["pts_seconds"], " ".join(f["tokens"])] for f in want[5]["frames"]]
    check(frames == wframes and len(frames) >= 2, "frame strip %s == vtag tag's frames %s" % (frames, wframes))
    classes = dt.js("document.getElementById('classes').textContent")
    wclasses = "class1: %s, class2: %s" % (want[5].get("class1") or "-", want[5].get("class2") or "-")
    check(classes == wclasses, "classes shown %r == %r" % (classes, wclasses))
    status = dt.js("document.getElementById('status').textContent")
    check(status.startswith("200 in "), "status line %r" % status)

    shot = dt.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
    png = base64.b64decode(shot["data"])
    with open("page.png", "wb") as f:
        f.write(png)
    w, h, var = png_size_and_variance(open("page.png", "rb").read())
    check(os.path.getsize("page.png") > 1000 and w >= 800 and h >= 600,
          "screenshot page.png is a PNG (%d bytes, %dx%d)" % (len(png), w, h))
    check(var > 50, "screenshot is not blank (luminance variance %.0f)" % var)

    state = upload(1)
    shown = dt.js("[...document.querySelectorAll('#tags .tag')].map(e => e.textContent)")
    check(state == "1" and shown == expect_tags(want[1]) and len(shown) == 1,
          "top n 1: tags shown %s == vtag tag --top-n 1's %s" % (shown, expect_tags(want[1])))

    dt.js("1")  # collect the events that came in meanwhile
    seen = problems(dt.events)
    check(seen == [], "no console error, failed resource or exception: %s" % seen[:3])

    # an undecodable upload: the answer's error shown, 422; the browser logs the failed status, nothing else
    before = len(dt.events)
    state = upload(5, broken)
    shown = dt.js("[document.querySelectorAll('#tags .tag, #frames .frame').length, "
                  "document.getElementById('status').textContent]")
    check(state == want_error and shown[0] == 0 and shown[1].startswith("422 in "),
          "not a video: error %r == vtag tag's %r, nothing tagged, status %r" % (state, want_error, shown[1]))
    dt.js("1")
    seen = problems(dt.events[before:])
    check(len(seen) == 1 and "status of 422" in seen[0], "not a video: only the 422 is logged: %s" % seen[:3])

    # the watch itself: a planted uncaught exception and console.error are seen
    before = len(dt.events)
    dt.js("setTimeout(() => { throw new Error('planted'); }, 0); console.error('planted too'); 1")
    deadline = time.time() + 10
    while len(problems(dt.events[before:])) < 2 and time.time() < deadline:
        dt.js("new Promise(r => setTimeout(r, 50))")
    planted = problems(dt.events[before:])
    check(len(planted) >= 2 and any("planted" in s for s in planted if s.startswith("exception")),
          "a planted exception and console.error are caught: %s" % planted)
    try:
        dt.call("Browser.close")
    except SystemExit:
        pass  # the socket closes as the browser goes
finally:
    if browser is not None:
        try:
            browser.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait()
    srv.send_signal(signal.SIGTERM)
    try:
        rc = srv.wait(timeout=60)
    except subprocess.TimeoutExpired:
        srv.kill()
        rc = None
check(rc == 0, "vtag serve exits 0 on SIGTERM (%s)" % rc)
print("%d checks failed" % len(failures))
sys.exit(1 if failures else 0)
