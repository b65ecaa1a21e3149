"""Issue 14 point 13: bytes from inputs are escaped in every message. A
labels field name with terminal escapes and a newline, a path argument with
a newline, an unknown option or command with an escape sequence: stderr has
exactly one line and no control byte, with the bytes shown as \\x1b, \\n.
inspect's listing (names and metadata from the file) is escaped the same.
Usage: escape_messages.py VTAG"""
import json
import os
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import Checks, run  # noqa: E402

vtag = os.path.abspath(sys.argv[1])
work = tempfile.mkdtemp(prefix="vtag-escape-")
c = Checks()
EVIL = "\x1b[2J\x1b[1;31mred\nvtag train: forged line\r\x07\u009b2J"
SHOWN = "\\x1b[2J\\x1b[1;31mred\\nvtag train: forged line\\r\\x07\\u009b2J"


def raw_controls(data):
    """Control bytes other than the final newline, and C1 CSI as UTF-8."""
    text = data.decode("utf-8", errors="replace")
    return [ch for ch in text.rstrip("\n") if ord(ch) < 0x20 or ord(ch) == 0x7f or 0x80 <= ord(ch) <= 0x9f]


def one_clean_line(what, r, shown):
    c.check(f"{what}: fails", r.rc in (1, 2), r)
    c.check(f"{what}: exactly one line on stderr", r.err.count(b"\n") == 1 and r.err.endswith(b"\n"), r)
    c.check(f"{what}: no control byte on stderr", not raw_controls(r.err), r)
    c.check(f"{what}: the bytes shown escaped", shown in r.err.decode(errors="replace"), r)


# a labels field name (vtag_fail, through the JSON Lines labels reader)
with open(os.path.join(work, "labels.jsonl"), "w") as f:
    f.write(json.dumps({"video": "a.mp4", "class1": "x", "class2": "y", "tags": [], EVIL: 1}) + "\n")
r = run([vtag, "train", "--labels", "labels.jsonl", "--feats", "none.safetensors", "--model", "fc",
         "--out", "m.safetensors"], work)
one_clean_line("labels field name", r, 'unknown field "' + SHOWN)

# a score file's field name (vtag score's own reader)
with open(os.path.join(work, "score.jsonl"), "w") as f:
    f.write(json.dumps({"id": "a", "cand": "x", "refs": ["x"], EVIL: 1}) + "\n")
r = run([vtag, "score", "--in", "score.jsonl"], work)
one_clean_line("score field name", r, 'unknown field "' + SHOWN)

# a CSV column name
with open(os.path.join(work, "labels.csv"), "w") as f:
    f.write('video,class1,class2,tags,"' + EVIL + '"\n')
r = run([vtag, "train", "--labels", "labels.csv", "--feats", "none.safetensors", "--model", "fc",
         "--out", "m.safetensors"], work)
one_clean_line("CSV column name", r, 'unknown column "' + SHOWN)

# a path argument with a newline and an escape (vtag_fail naming the path)
r = run([vtag, "score", "--in", "no\nvtag score: forged\x1b[2J.jsonl"], work)
one_clean_line("path with a newline", r, "no\\nvtag score: forged\\x1b[2J.jsonl: cannot open")
r = run([vtag, "probe", "no\nvtag probe: forged\x1b[2J.mp4"], work)
one_clean_line("video path with a newline", r, "no\\nvtag probe: forged\\x1b[2J.mp4: cannot open")

# the CLI's own messages (cli_error): an unknown option, an unknown command
r = run([vtag, "probe", "--x\x1b[2J\nvtag probe: forged"], work)
one_clean_line("unknown option", r, "--x\\x1b[2J\\nvtag probe: forged")
r = run([vtag, "\x1b[2J\nvtag: forged"], work)
one_clean_line("unknown command", r, "\\x1b[2J\\nvtag: forged")

# inspect lists names and metadata from the file
header = json.dumps({"__metadata__": {"note": EVIL}, "w" + EVIL: {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
header += " " * (-len(header.encode()) % 8)
with open(os.path.join(work, "evil.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(header.encode())) + header.encode() + b"\0\0\0\0")
r = run([vtag, "inspect", "evil.safetensors"], work)
c.check("inspect: exit 0", r.rc == 0, r)
c.check("inspect: 3 lines (file, tensor, metadata)", r.out.count(b"\n") == 3, r.out)
c.check("inspect: no control byte on stdout", not raw_controls(r.out.replace(b"\n", b" ")), r.out)
c.check("inspect: names shown escaped", ("w" + SHOWN) in r.out.decode() and ("note = " + SHOWN) in r.out.decode(), r.out)

shutil.rmtree(work)
c.done()
