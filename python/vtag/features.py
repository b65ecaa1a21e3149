"""Feature files (docs/FORMATS.md "Features files") and the safetensors layout they use,
read in Python with numpy: the tensors are memory-mapped, not copied."""
import json
import os
import struct

MAX_HEADER_BYTES = 100 << 20  # as the C reader (docs/FORMATS.md "safetensors")
_DTYPES = {"F32": "<f4", "I32": "<i4", "I64": "<i8", "U8": "u1"}


def read_safetensors(path):
    """(tensors, metadata): {name: numpy array (read-only, memory-mapped)} and the
    "__metadata__" strings. The header is checked as the C reader checks it; a problem
    raises ValueError naming the file."""
    import numpy as np

    def bad(msg):
        raise ValueError("%s: %s" % (os.fsdecode(path), msg))

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            bad("truncated file (no header length)")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES or 8 + n > size:
            bad("header length %d is past the end or over the limit" % n)
        raw = f.read(n)

    def no_dups(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                bad("duplicate key %r in the header" % k)
            d[k] = v
        return d

    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_dups)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        bad("invalid header JSON (%s)" % e)
    if not isinstance(header, dict):
        bad("the header is not a JSON object")
    meta = header.pop("__metadata__", {}) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        bad("__metadata__ values must be strings")
    start = 8 + n
    spans = []
    tensors = {}
    for name, t in header.items():
        if not isinstance(t, dict) or set(t) != {"dtype", "shape", "data_offsets"}:
            bad("tensor %r: expected the fields dtype, shape, data_offsets" % name)
        if t["dtype"] not in _DTYPES:
            bad("tensor %r: unknown dtype %r" % (name, t["dtype"]))
        shape, (b, e) = t["shape"], t["data_offsets"]
        dt = np.dtype(_DTYPES[t["dtype"]])
        count = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                bad("tensor %r: bad shape %r" % (name, shape))
            count *= d
        if not (0 <= b <= e) or e - b != count * dt.itemsize or start + e > size:
            bad("tensor %r: data_offsets %r do not hold shape %r of %s" % (name, [b, e], shape, t["dtype"]))
        spans.append((b, e, name))
        if count == 0:
            tensors[name] = np.zeros(shape, dtype=dt)
        else:
            tensors[name] = np.memmap(path, dtype=dt, mode="r", offset=start + b, shape=tuple(shape))
    at = 0
    for b, e, name in sorted(spans):
        if b != at:
            bad("tensor %r: %s at byte %d of the data" % (name, "overlap" if b < at else "gap", at))
        at = e
    if start + at != size:
        bad("%d trailing bytes after the tensors" % (size - start - at))
    return tensors, meta


def read_features(path):
    """A features file (vtag features, the pipeline's features-<split>.safetensors) as
    {"fc": (N, D_fc) float32, "att": (N, K, D_att) float32, "pix": (N, 14) float32 (the ones present),
    "items": [N item ids, row order], "metadata": {key: string}}; the arrays are
    memory-mapped (np.array(x) copies one)."""
    tensors, meta = read_safetensors(path)
    name = os.fsdecode(path)
    extra = set(tensors) - {"fc", "att", "items", "pix"}
    if extra:
        raise ValueError("%s: tensor %r is not part of a features file" % (name, sorted(extra)[0]))
    if "fc" not in tensors and "att" not in tensors:
        raise ValueError("%s: neither fc nor att: not a features file" % name)
    if "items" in tensors and "vtag.items" in meta:
        raise ValueError("%s: item ids both in the metadata and in the items tensor" % name)
    if "items" in tensors:
        blob = bytes(tensors.pop("items"))
        if not blob.endswith(b"\0"):
            raise ValueError("%s: the items tensor does not end with a NUL" % name)
        items = [x.decode("utf-8") for x in blob[:-1].split(b"\0")]
    elif "vtag.items" in meta:
        items = json.loads(meta["vtag.items"])
    else:
        raise ValueError("%s: no item ids (vtag.items or an items tensor)" % name)
    rows = {t.shape[0] for t in tensors.values()}
    if len(rows) != 1 or rows != {len(items)}:
        raise ValueError("%s: %d item ids for tensors of %s rows" % (name, len(items),
                                                                       "/".join(str(r) for r in sorted(rows))))
    out = dict(tensors)
    out["items"] = items
    out["metadata"] = meta
    return out
