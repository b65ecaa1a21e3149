"""safetensors interoperability: a file written by vtag loads in Python (json +
struct only) with identical tensors and metadata, and vtag reads a file
written by Python. The canonical content is defined in test_safetensors.c."""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "reference"))
import safetensors_io as st  # noqa: E402

tool = sys.argv[1]
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


expected = {
    "f32": st.Tensor("F32", [2, 3, 4], [f32(i * 0.5 - 3.25) for i in range(24)]),
    "i32": st.Tensor("I32", [5], [-7 * i + 1 for i in range(5)]),
    "i64": st.Tensor("I64", [3], [1099511627776, -5, 123456789012]),
    "scalar": st.Tensor("F32", [], [42.5]),
    "empty": st.Tensor("F32", [0, 4], []),
}
meta = {"vtag.model": "fc", "vtag.vocab": '["\u732b","a b","say \\"hi\\""]'}

# vtag -> Python
subprocess.run([tool, "write", "from_vtag.safetensors"], check=True)
tensors, got_meta = st.load("from_vtag.safetensors")
check(sorted(tensors) == sorted(expected), "tensor names %s" % sorted(tensors))
for name, t in expected.items():
    g = tensors.get(name)
    check(g is not None and g.dtype == t.dtype, "%s dtype" % name)
    check(g is not None and list(g.shape) == t.shape, "%s shape %s" % (name, g and g.shape))
    check(g is not None and list(g.values) == t.values, "%s values" % name)
check(got_meta == meta, "metadata %r" % got_meta)
with open("from_vtag.safetensors", "rb") as f:
    (hlen,) = struct.unpack("<Q", f.read(8))
check((8 + hlen) % 8 == 0, "vtag pads its header to 8 bytes")

# Python -> vtag
st.save("from_python.safetensors", expected, meta)
r = subprocess.run([tool, "check", "from_python.safetensors"])
check(r.returncode == 0, "vtag reads the Python file")

print("st_interop: %d passed, %d failed" % (0 if failures else 1, failures))
sys.exit(1 if failures else 0)
