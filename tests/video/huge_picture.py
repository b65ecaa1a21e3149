"""A 1.5 KB H.264 stream whose sequence header claims 16000x16000 pixels (a
32x32 clip made by ffmpeg, its SPS rewritten): vtag probe and vtag frames
must refuse it with one line naming the size, before decoding a picture, and
stay under 200 MB (issue 14: found by tests/fuzz's reasoning on the video
target; before the fix probe held 1.25 GB for 10 s).
usage: huge_picture.py VTAG   (in the fixtures folder)"""
import os
import subprocess
import sys
import time

vtag = os.path.abspath(sys.argv[1])
work = os.path.abspath("video_huge")
os.makedirs(work, exist_ok=True)
fails = 0


def check(what, ok, detail=""):
    global fails
    if not ok:
        fails += 1
        print(f"FAIL: {what} {detail}", file=sys.stderr)


# ---- H.264 SPS rewriting: RBSP bits, Exp-Golomb codes, emulation prevention ----
def nal_spans(b):
    starts, i = [], 0
    while (j := b.find(b"\x00\x00\x01", i)) >= 0:
        starts.append(j + 3)
        i = j + 3
    spans = []
    for k, s in enumerate(starts):
        e = starts[k + 1] - 3 if k + 1 < len(starts) else len(b)
        while e > s and b[e - 1] == 0:
            e -= 1
        spans.append((s, e))
    return spans


def unescape(p):
    out, zeros = bytearray(), 0
    for x in p:
        if zeros >= 2 and x == 3:
            zeros = 0
            continue
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return bytes(out)


def escape(p):
    out, zeros = bytearray(), 0
    for x in p:
        if zeros >= 2 and x <= 3:
            out.append(3)
            zeros = 0
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return bytes(out)


class Bits:
    def __init__(self, data=b""):
        self.data, self.pos, self.out = data, 0, []

    def u(self, n):
        v = 0
        for _ in range(n):
            v = v << 1 | (self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1
            self.pos += 1
        return v

    def ue(self):
        z = 0
        while self.u(1) == 0:
            z += 1
        return (1 << z) - 1 + self.u(z)

    def put(self, n, v):
        self.out += [(v >> (n - 1 - i)) & 1 for i in range(n)]

    def put_ue(self, v):
        v += 1
        self.put(v.bit_length() - 1, 0)
        self.put(v.bit_length(), v)

    def bytes(self):
        bits = self.out + [0] * (-len(self.out) % 8)
        return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def resize_sps(rbsp, mbs_w, mbs_h):
    """A Baseline-profile SPS with pic_width/height_in_mbs replaced."""
    r = Bits(rbsp)
    r.put(8, r.u(8))                 # NAL header
    profile = r.u(8)
    assert profile == 66, f"expected Baseline, got profile {profile}"
    r.put(8, profile)
    r.put(8, r.u(8))                 # constraint flags
    r.put(8, r.u(8))                 # level
    r.put_ue(r.ue())                 # seq_parameter_set_id
    r.put_ue(r.ue())                 # log2_max_frame_num_minus4
    poc = r.ue()
    r.put_ue(poc)
    assert poc in (0, 2), f"pic_order_cnt_type {poc}"
    if poc == 0:
        r.put_ue(r.ue())
    r.put_ue(r.ue())                 # max_num_ref_frames
    r.put(1, r.u(1))                 # gaps_in_frame_num_allowed
    r.ue(), r.ue()
    r.put_ue(mbs_w - 1)
    r.put_ue(mbs_h - 1)
    last = len(rbsp) * 8 - 1         # the stop bit of rbsp_trailing_bits
    while not (rbsp[last >> 3] >> (7 - (last & 7))) & 1:
        last -= 1
    while r.pos < last:
        r.put(1, r.u(1))
    r.put(1, 1)
    return r.bytes()


def run(argv, timeout=60):
    stats = os.path.join(work, "time.txt")
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v", "-o", stats] + argv, cwd=work, capture_output=True, timeout=timeout)
    rss = 0
    for line in open(stats, errors="replace"):
        if "Maximum resident set size" in line:
            rss = int(line.rsplit(":", 1)[1]) // 1024
    return p.returncode, p.stderr.decode(errors="replace"), rss, time.monotonic() - t0


small = os.path.join(work, "small.h264")
subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                "testsrc2=size=32x32:rate=5:duration=1", "-c:v", "libx264", "-profile:v", "baseline", "-preset",
                "ultrafast", "-pix_fmt", "yuv420p", "-f", "h264", small], check=True)
data = open(small, "rb").read()
huge, prev, n_sps = bytearray(), 0, 0
for s, e in nal_spans(data):
    if data[s] & 0x1F == 7:
        huge += data[prev:s] + escape(resize_sps(unescape(data[s:e]), 1000, 1000))
        prev, n_sps = e, n_sps + 1
huge += data[prev:]
check("the clip has a sequence header", n_sps >= 1)
open(os.path.join(work, "huge.h264"), "wb").write(huge)

# the clip before the rewrite is an ordinary one
rc, err, rss, sec = run([vtag, "probe", "small.h264"])
check("the unmodified clip probes", rc == 0, err)

for argv in (["probe", "huge.h264"], ["frames", "huge.h264", "--size", "32", "--out", "frames"]):
    rc, err, rss, sec = run([vtag] + argv)
    print(f"vtag {argv[0]}: exit {rc}, {rss} MB peak, {sec:.1f} s: {err.strip()}")
    check(f"{argv[0]} refuses the picture", rc == 1, f"exit {rc}")
    check(f"{argv[0]}: one line naming the file and the size",
          err.count("\n") == 1 and "huge.h264" in err and "16000x16000" in err, repr(err))
    check(f"{argv[0]} stays under 200 MB", 0 < rss < 200, f"{rss} MB")
print(f"huge_picture: {fails} failed")
sys.exit(1 if fails else 0)
