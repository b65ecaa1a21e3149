"""The client side of bench_serve.sh (issue 17, must-show 2 and 4): starts
`vtag serve` on a run folder and drives it with raw-body POSTs from
concurrent http.client threads, cycling over the videos.

  load:     --workers 2 --queue 64, LOAD_N requests from LOAD_C clients: every
            answer must be 200 and equal vtag tag's line for the video;
            throughput (videos/s) and p50/p95/p99 latency;
  overload: --queue 4, OVER_N requests from OVER_C clients: every answer 200
            (the right line) or 503 with Retry-After, no other code and no
            connection error; the server is still alive and answers /healthz;
  memory:   MEM_N requests against one server (--workers 2 --queue 64, LOAD_C
            clients), in steps of MEM_FIRST: VmRSS after each step (the first
            and the last are the figures).

usage: serve_load.py VTAG RUN VIDEOS EXPECTED LOGDIR
  VIDEOS: video paths, one a line (the names the requests give, ?name=);
  EXPECTED: vtag tag's lines for them (JSON Lines);
  LOGDIR: where the servers' stderr (access lines) is kept.
Counts come from the environment: VTAG_BENCH_LOAD_N (300), VTAG_BENCH_LOAD_C
(8), VTAG_BENCH_OVER_N (200), VTAG_BENCH_OVER_C (32), VTAG_BENCH_MEM_N (1000),
VTAG_BENCH_MEM_FIRST (100). Prints the figures as key=value lines on stdout
(progress on stderr); exits 0 (the checks are bench_serve.sh's).
"""
import atexit
import http.client
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import quote

VTAG, RUN, VIDEOS, EXPECTED, LOGDIR = sys.argv[1:6]
ENV = dict(os.environ, OMP_WAIT_POLICY="passive")
REQUEST_TIMEOUT = 120  # seconds: a hung server fails the run instead of stalling it


def count(name, default):
    return int(os.environ.get("VTAG_BENCH_" + name, default))


LOAD_N, LOAD_C = count("LOAD_N", 300), count("LOAD_C", 8)
OVER_N, OVER_C = count("OVER_N", 200), count("OVER_C", 32)
MEM_N, MEM_FIRST = count("MEM_N", 1000), count("MEM_FIRST", 100)

with open(VIDEOS) as f:
    names = [line.strip() for line in f if line.strip()]
bodies = {}
for n in names:
    with open(n, "rb") as f:
        bodies[n] = f.read()
with open(EXPECTED) as f:
    expect = {json.loads(line)["video"]: line.rstrip("\n") for line in f if line.strip()}
missing = [n for n in names if n not in expect]
if missing:
    raise SystemExit("serve_load.py: no vtag tag line for %s" % missing[0])


def note(msg):
    print("serve_load: " + msg, file=sys.stderr, flush=True)


started = []


@atexit.register
def kill_leftovers():
    """A run that stops early (an exception, ^C) leaves no server behind."""
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()


signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that kill_leftovers runs


class Server:
    """vtag serve on a free port, its stderr in LOGDIR/serve-TAG.log."""

    def __init__(self, tag, workers, queue):
        self.log_path = os.path.join(LOGDIR, "serve-%s.log" % tag)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([VTAG, "serve", "--from", RUN, "--port", "0", "--workers", str(workers),
                                      "--queue", str(queue)], env=ENV, stdout=subprocess.DEVNULL, stderr=self.log)
        started.append(self.proc)
        self.port = None
        deadline = time.time() + 120
        while self.port is None and time.time() < deadline and self.proc.poll() is None:
            with open(self.log_path) as f:
                for line in f:
                    if "listening on http://" in line:
                        addr = line.split("listening on http://", 1)[1].split()[0].rstrip("/")
                        self.port = int(addr.rsplit(":", 1)[1])
                        break
            time.sleep(0.05)
        if self.port is None:
            self.proc.kill()
            self.proc.wait()
            raise SystemExit("serve_load.py: vtag serve did not say where it listens (see %s)" % self.log_path)

    def alive(self):
        return self.proc.poll() is None

    def status_kb(self, field):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise SystemExit("serve_load.py: no %s in /proc/%d/status" % (field, self.proc.pid))

    def stop(self):
        """SIGTERM; the exit code (None: it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.log.close()
        return rc


def get(port, path):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    except (OSError, http.client.HTTPException):
        return None


def post(port, name):
    """One raw-body POST: (status or None on a connection error, body, Retry-After, seconds)."""
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        c.request("POST", "/v1/tag?name=" + quote(name), body=bodies[name],
                  headers={"Content-Type": "application/octet-stream"})
        r = c.getresponse()
        body = r.read().decode("utf-8", "replace")
        status, retry = r.status, r.getheader("Retry-After")
    except (OSError, http.client.HTTPException) as e:
        status, body, retry = None, "%s: %s" % (type(e).__name__, e), None
    finally:
        c.close()
    return status, body, retry, time.perf_counter() - t0


def drive(port, first, n, clients):
    """Requests first..first+n-1 (video i % len) from `clients` threads; a list of
    (name, status, body, retry, seconds) in completion order, and the wall seconds."""
    lock = threading.Lock()
    nxt = [first]
    out = []

    def client():
        while True:
            with lock:
                i = nxt[0]
                if i >= first + n:
                    return
                nxt[0] += 1
            name = names[i % len(names)]
            res = post(port, name)
            with lock:
                out.append((name,) + res)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out, time.perf_counter() - t0


def right(name, status, body):
    return status == 200 and body.rstrip("\n") == expect[name]


def percentile(sorted_xs, p):
    """Nearest rank."""
    return sorted_xs[max(0, math.ceil(p / 100.0 * len(sorted_xs)) - 1)]


def emit(key, value):
    print("%s=%s" % (key, value), flush=True)


def first_problem(results, ok):
    for name, status, body, retry, _ in results:
        if not ok(name, status, body, retry):
            return "%s: %s %s" % (name, status, body[:200].replace("\n", " "))
    return ""


# 3. load
note("load: %d requests, %d clients, --workers 2 --queue 64" % (LOAD_N, LOAD_C))
srv = Server("load", 2, 64)
res, wall = drive(srv.port, 0, LOAD_N, LOAD_C)
lat = sorted(r[4] for r in res)
bad_code = sum(1 for r in res if r[1] != 200)
wrong = sum(1 for r in res if r[1] == 200 and not right(r[0], r[1], r[2]))
emit("load_n", len(res))
emit("load_clients", LOAD_C)
emit("load_non200", bad_code)
emit("load_wrong", wrong)
emit("load_wall_s", "%.3f" % wall)
emit("load_videos_per_s", "%.2f" % (sum(1 for r in res if r[1] == 200) / wall))
for p in (50, 95, 99):
    emit("load_p%d_ms" % p, "%.1f" % (1000 * percentile(lat, p)))
emit("load_max_ms", "%.1f" % (1000 * lat[-1]))
emit("load_first_failure", first_problem(res, lambda n, s, b, r: right(n, s, b)))
emit("load_exit", srv.stop())

# 4. overload
note("overload: %d requests, %d clients, --workers 2 --queue 4" % (OVER_N, OVER_C))
srv = Server("overload", 2, 4)
res, wall = drive(srv.port, 0, OVER_N, OVER_C)
ok200 = sum(1 for r in res if right(r[0], r[1], r[2]))
busy = sum(1 for r in res if r[1] == 503 and r[3])


def expected_answer(name, status, body, retry):
    return right(name, status, body) or (status == 503 and bool(retry))


emit("over_n", len(res))
emit("over_clients", OVER_C)
emit("over_200", ok200)
emit("over_503", busy)
emit("over_503_no_retry_after", sum(1 for r in res if r[1] == 503 and not r[3]))
emit("over_wrong_200", sum(1 for r in res if r[1] == 200 and not right(r[0], r[1], r[2])))
emit("over_other_code", sum(1 for r in res if r[1] not in (200, 503, None)))
emit("over_conn_errors", sum(1 for r in res if r[1] is None))
emit("over_unexpected", sum(1 for r in res if not expected_answer(*r[:4])))
emit("over_first_unexpected", first_problem(res, expected_answer))
emit("over_wall_s", "%.3f" % wall)
time.sleep(0.2)
emit("over_alive", int(srv.alive()))
emit("over_healthz", get(srv.port, "/healthz") if srv.alive() else "none")
emit("over_exit", srv.stop())

# 5. memory
note("memory: %d requests, %d clients, VmRSS after %d and after %d" % (MEM_N, LOAD_C, MEM_FIRST, MEM_N))
srv = Server("memory", 2, 64)
emit("mem_rss_start_kb", srv.status_kb("VmRSS"))
res, wall, trace = [], 0.0, []
for first in range(0, MEM_N, MEM_FIRST):  # in steps of MEM_FIRST, VmRSS after each
    part, w = drive(srv.port, first, min(MEM_FIRST, MEM_N - first), LOAD_C)
    res += part
    wall += w
    trace.append(srv.status_kb("VmRSS"))
rss1, rss2 = trace[0], trace[-1]
emit("mem_n", len(res))
emit("mem_failures", sum(1 for r in res if not right(r[0], r[1], r[2])))
emit("mem_first_failure", first_problem(res, lambda n, s, b, r: right(n, s, b)))
emit("mem_first", MEM_FIRST)
emit("mem_rss_first_kb", rss1)
emit("mem_rss_all_kb", rss2)
emit("mem_hwm_kb", srv.status_kb("VmHWM"))
emit("mem_ratio", "%.4f" % (rss2 / rss1))
emit("mem_videos_per_s", "%.2f" % (len(res) / wall))
emit("mem_rss_trace_mib", " ".join("%.1f" % (k / 1024) for k in trace))
emit("mem_exit", srv.stop())
