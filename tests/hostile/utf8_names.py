"""Issue 14 point 12: a file name that is not UTF-8 (Latin-1 "caf\\xe9.mp4")
cannot be written into JSON, and jansson's json_string returns NULL for it:
the "video" and "file" fields must not silently drop out. probe and frames
refuse such a name with one escaped line; a UTF-8 name still works.
Usage: utf8_names.py VTAG"""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import Checks, make_clip, run  # noqa: E402

vtag = os.path.abspath(sys.argv[1])
work = tempfile.mkdtemp(prefix="vtag-utf8-")
c = Checks()
make_clip(os.path.join(work, "clip.mp4"))
latin1 = b"caf\xe9.mp4"
shutil.copy(os.path.join(work, "clip.mp4"), os.path.join(work.encode(), latin1))
shutil.copy(os.path.join(work, "clip.mp4"), os.path.join(work, "café.mp4"))
refusal = "caf\\xe9.mp4: the file name is not valid UTF-8"

def json_lines(data):
    return [json.loads(l) for l in data.decode().splitlines() if l.strip()]

# probe
r = run([vtag.encode(), b"probe", latin1], work)
lines = r.err.decode().splitlines()
c.check("probe caf\\xe9.mp4: exit 1", r.rc == 1, r)
c.check("probe caf\\xe9.mp4: no line without its video field",
        all("video" in o for o in json_lines(r.out)), r.out)
c.check("probe caf\\xe9.mp4: one escaped line", lines == ["vtag probe: " + refusal], r)
r = run([vtag, "probe", "café.mp4"], work)
out = json_lines(r.out)
c.check("probe café.mp4: exit 0 with its name", r.rc == 0 and len(out) == 1 and out[0].get("video") == "café.mp4", r)

# frames
r = run([vtag.encode(), b"frames", latin1, b"--out", b"f1", b"--size", b"16"], work)
index = os.path.join(work, "f1", "frames.jsonl")
rows = json_lines(open(index, "rb").read()) if os.path.exists(index) else []
c.check("frames caf\\xe9.mp4: exit 1", r.rc == 1, r)
c.check("frames caf\\xe9.mp4: no row without video or file", all("video" in o and "file" in o for o in rows), rows)
c.check("frames caf\\xe9.mp4: one escaped line", r.err.decode().splitlines() == ["vtag frames: " + refusal], r)
r = run([vtag, "frames", "café.mp4", "--out", "f2", "--size", "16"], work)
index = os.path.join(work, "f2", "frames.jsonl")
rows = json_lines(open(index, "rb").read()) if os.path.exists(index) else []
c.check("frames café.mp4: exit 0, every row with video and file",
        r.rc == 0 and len(rows) > 0 and all(o.get("video") == "café.mp4" and o.get("file", "").startswith("café_")
                                              for o in rows), (r, rows[:2]))

shutil.rmtree(work)
c.done()
