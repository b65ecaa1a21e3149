"""Finding and loading libvtag.so, and the ctypes prototypes of its string API
(include/vtag/api.h)."""
import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys

SONAME = "libvtag.so.0"


class Error(Exception):
    """A vtag call failed; str(e) is the library's one-line message, e.code its status
    (include/vtag/core.h), e.line the video's {"video", "error"} dict where there is one."""

    def __init__(self, message, code=0, line=None):
        super().__init__(message)
        self.code = code
        self.line = line


class CError(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]

    def raise_(self, line=None):
        raise Error(self.msg.decode("utf-8", "replace"), self.code, line)


class TaggerOpts(ctypes.Structure):
    _fields_ = [("dir", ctypes.c_char_p), ("model", ctypes.c_char_p), ("checkpoint", ctypes.c_char_p),
                ("backbone", ctypes.c_char_p), ("sample", ctypes.c_char_p), ("size", ctypes.c_int64),
                ("beam", ctypes.c_int), ("threads", ctypes.c_int), ("top_n", ctypes.c_int64),
                ("min_frames", ctypes.c_int64), ("min_score", ctypes.c_double)]


def _pkg_config_libdir():
    exe = shutil.which("pkg-config")
    if not exe:
        return None
    try:
        p = subprocess.run([exe, "--variable=libdir", "vtag"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else None


def _candidates():
    """Where to look, in order (README.md "Install")."""
    env = os.environ.get("VTAG_LIBRARY")
    if env:
        yield env
        return  # asked for that one: no silent fallback to another library
    yield SONAME  # the dynamic loader: LD_LIBRARY_PATH, ldconfig's cache
    libdir = _pkg_config_libdir()
    if libdir:
        yield os.path.join(libdir, SONAME)
    for prefix in (sys.prefix, "/usr/local"):
        yield os.path.join(prefix, "lib", SONAME)
    found = ctypes.util.find_library("vtag")
    if found:
        yield found


def load():
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            continue
        _prototypes(lib)
        return lib
    raise OSError("vtag: cannot load libvtag.so; set VTAG_LIBRARY to its path, or install it "
                  "(make install PREFIX=...). Tried: " + "; ".join(tried))


def _prototypes(lib):
    c = ctypes
    perr = c.POINTER(CError)
    lib.vtag_api_version.restype = c.c_char_p
    lib.vtag_api_version.argtypes = []
    lib.vtag_api_set_video_log.restype = None
    lib.vtag_api_set_video_log.argtypes = [c.c_int]
    lib.vtag_api_free.restype = None
    lib.vtag_api_free.argtypes = [c.c_void_p]
    lib.vtag_api_tagger_opts_defaults.restype = None
    lib.vtag_api_tagger_opts_defaults.argtypes = [c.POINTER(TaggerOpts)]
    lib.vtag_api_tagger_open.restype = c.c_int
    lib.vtag_api_tagger_open.argtypes = [c.POINTER(c.c_void_p), c.POINTER(TaggerOpts), perr]
    lib.vtag_api_tagger_tag.restype = c.c_int
    lib.vtag_api_tagger_tag.argtypes = [c.c_void_p, c.c_char_p, c.POINTER(c.c_void_p), perr]
    lib.vtag_api_tagger_close.restype = None
    lib.vtag_api_tagger_close.argtypes = [c.POINTER(c.c_void_p)]
    lib.vtag_api_score_captions.restype = c.c_int
    lib.vtag_api_score_captions.argtypes = [c.c_char_p, c.c_char_p, c.c_int, c.POINTER(c.c_void_p), perr]


def take_string(lib, ptr):
    """A malloc'd C string as str, freed."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        lib.vtag_api_free(ptr)
