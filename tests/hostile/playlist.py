"""A "video" that is a playlist (HLS) or a list of other files makes FFmpeg
open the files or URLs named inside it: a hostile upload could make vtag
read any local media file, or reach the network, on its behalf. vtag opens
the file it was given and nothing else: probe, frames and tag refuse such an
input. A name with a ':' is a file name, never a protocol.
Usage: playlist.py VTAG"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import Checks, make_clip, run  # noqa: E402

vtag = os.path.abspath(sys.argv[1])
work = tempfile.mkdtemp(prefix="vtag-playlist-")
c = Checks()
make_clip(os.path.join(work, "clip.mp4"))
secret = os.path.join(work, "elsewhere", "secret.ts")
os.makedirs(os.path.dirname(secret))
subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", os.path.join(work, "clip.mp4"), "-c", "copy", "-f", "mpegts",
                secret], check=True)
with open(os.path.join(work, "upload.mp4"), "w") as f:  # an HLS playlist named like a video
    f.write("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n%s\n#EXT-X-ENDLIST\n" % secret)
with open(os.path.join(work, "list.mp4"), "w") as f:  # ffconcat, the concat demuxer's list
    f.write("ffconcat version 1.0\nfile '%s'\n" % secret)

for name in ("upload.mp4", "list.mp4"):
    r = run([vtag, "probe", name], work)
    c.check(f"probe {name} (a list of other files): exit 1, one line, nothing printed",
            r.rc == 1 and len(r.err.decode().splitlines()) == 1 and r.out == b"", r)
    r = run([vtag, "frames", name, "--out", "f-" + name, "--size", "16"], work)
    index = os.path.join(work, "f-" + name, "frames.jsonl")
    rows = open(index).read().split() if os.path.exists(index) else []
    c.check(f"frames {name}: exit 1, no frame written", r.rc == 1 and rows == [], (r, rows[:2]))

# a ':' in a file name is not a protocol
shutil.copy(os.path.join(work, "clip.mp4"), os.path.join(work, "http:clip.mp4"))
r = run([vtag, "probe", "http:clip.mp4"], work)
out = [json.loads(l) for l in r.out.decode().splitlines() if l.strip()]
c.check("probe http:clip.mp4 (a local file): exit 0 with its frames",
        r.rc == 0 and len(out) == 1 and out[0].get("frames", 0) > 0, r)
r = run([vtag, "probe", "clip.mp4"], work)
c.check("probe clip.mp4: exit 0", r.rc == 0, r)

shutil.rmtree(work)
c.done()
