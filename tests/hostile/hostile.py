"""Shared by the hostile-input tests: run vtag under a time limit and
/usr/bin/time -v, a small clip made by ffmpeg, and a tally of checks.

A command that does not finish in time is killed with its whole process
group and counts as a failure, so no test can hang on a blocking open."""
import os
import signal
import subprocess
import sys
import time


class Result:
    def __init__(self, rc, out, err, seconds, max_rss_kb, killed):
        self.rc, self.out, self.err = rc, out, err
        self.seconds, self.max_rss_kb, self.killed = seconds, max_rss_kb, killed

    def __repr__(self):
        rss = f"max RSS {self.max_rss_kb // 1024} MB" if self.max_rss_kb else "no RSS report"
        return (f"rc={self.rc} after {self.seconds:.1f} s, {rss}"
                f"{', killed: ' + self.killed if self.killed else ''}; stderr {self.err[:300]!r}")


def run(argv, work, timeout=10.0, rss_limit_mb=None, stdin=subprocess.DEVNULL):
    """Runs argv (bytes or str items) under /usr/bin/time -v; kills its
    process group after timeout seconds or once it holds more than
    rss_limit_mb (then the run has failed anyway: no need to wait)."""
    stats = os.path.join(work, "time.txt")
    if os.path.exists(stats):
        os.unlink(stats)
    t0 = time.monotonic()
    p = subprocess.Popen(["/usr/bin/time", "-v", "-o", stats] + list(argv), stdin=stdin,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=work, start_new_session=True)
    killed = ""
    out = err = b""
    while True:
        try:
            out, err = p.communicate(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            pass
        over = rss_limit_mb is not None and group_rss_kb(p.pid) > rss_limit_mb * 1024
        if time.monotonic() - t0 > timeout or over:
            killed = f"over {rss_limit_mb} MB" if over else f"still running after {timeout:.0f} s"
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            break
    seconds = time.monotonic() - t0
    max_rss = 0
    if os.path.exists(stats):
        for line in open(stats, errors="replace"):
            if "Maximum resident set size" in line:
                max_rss = int(line.rsplit(":", 1)[1])
    return Result(p.returncode, out, err, seconds, max_rss, killed)


def group_rss_kb(pid):
    """Resident memory of pid's children (vtag under /usr/bin/time)."""
    total = 0
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return 0
    for k in kids:
        try:
            for line in open(f"/proc/{k}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def make_clip(path):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=d=1:s=64x48:r=10",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", path], check=True)


class Checks:
    def __init__(self):
        self.fails = 0

    def check(self, what, ok, detail=""):
        if ok:
            print(f"ok   {what}")
        else:
            self.fails += 1
            print(f"FAIL {what}: {detail}")

    def done(self):
        print(f"{self.fails} failure(s)")
        sys.exit(1 if self.fails else 0)
