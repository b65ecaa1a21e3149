"""Minimal safetensors read/write with json + struct only (F32, I32, I64 and the
__metadata__ string map), for vtag's PyTorch reference scripts and format tests."""
import json
import struct

_FORMATS = {"F32": ("f", 4), "I32": ("i", 4), "I64": ("q", 8)}


class Tensor:
    """A flat list of Python numbers with a dtype name and a shape."""

    def __init__(self, dtype, shape, values):
        if dtype not in _FORMATS:
            raise ValueError("unsupported dtype %r" % dtype)
        shape = [int(d) for d in shape]
        count = 1
        for d in shape:
            count *= d
        if len(values) != count:
            raise ValueError("shape %s needs %d values, got %d" % (shape, count, len(values)))
        self.dtype, self.shape, self.values = dtype, shape, list(values)

    def __repr__(self):
        return "Tensor(%s, %s)" % (self.dtype, self.shape)


def from_torch(t, dtype="F32"):
    """Converts a torch tensor (any float/int dtype) without needing numpy."""
    t = t.detach().cpu().contiguous()
    flat = t.reshape(-1).tolist()
    values = [float(v) for v in flat] if dtype == "F32" else [int(v) for v in flat]
    return Tensor(dtype, list(t.shape), values)


def save(path, tensors, metadata=None):
    """tensors: dict name -> Tensor. The data section has no holes (the format
    forbids them); wider dtypes come first, so every tensor is aligned to its
    element size, and the header is padded with spaces to a multiple of 8."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors, key=lambda n: (-_FORMATS[tensors[n].dtype][1], n)):
        t = tensors[name]
        fmt, size = _FORMATS[t.dtype]
        data = struct.pack("<%d%s" % (len(t.values), fmt), *t.values)
        header[name] = {"dtype": t.dtype, "shape": t.shape,
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * ((-len(blob)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for c in chunks:
            f.write(c)


def load(path):
    """Returns (dict name -> Tensor, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: shorter than the 8-byte header length" % path)
    (hlen,) = struct.unpack("<Q", raw[:8])
    if 8 + hlen > len(raw):
        raise ValueError("%s: header length %d past the end of the file" % (path, hlen))
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    data = raw[8 + hlen:]
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        fmt, size = _FORMATS[info["dtype"]]
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(data) or (end - begin) % size:
            raise ValueError("%s: tensor %r has bad offsets %s" % (path, name, [begin, end]))
        count = (end - begin) // size
        values = struct.unpack("<%d%s" % (count, fmt), data[begin:end])
        tensors[name] = Tensor(info["dtype"], info["shape"], values)
    return tensors, metadata
