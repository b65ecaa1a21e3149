"""vtag for Python: tag videos with a trained run folder, score captions with CIDEr-D and
BLEU, read feature files. A thin layer over libvtag.so's string API (include/vtag/api.h),
through ctypes: the answers are the CLI's own (`vtag tag`, `vtag score`). README.md says how
to install it and how the library is found."""
import ctypes
import json
import os
import tempfile
import threading

from ._lib import CError, Error, TaggerOpts, load, take_string
from .features import read_features, read_safetensors

__version__ = "0.1.0"
__all__ = ["Tagger", "score", "read_features", "read_safetensors", "set_video_log", "library_version", "Error"]

_lib = None
_lib_lock = threading.Lock()


def _library():
    global _lib
    with _lib_lock:
        if _lib is None:
            lib = load()
            have = lib.vtag_api_version().decode()
            if have.split(".")[0] != __version__.split(".")[0]:
                raise OSError("vtag: libvtag.so is version %s, this package %s" % (have, __version__))
            lib.vtag_api_set_video_log(0)  # FFmpeg quiet, as in the CLI (set_video_log)
            _lib = lib
        return _lib


def library_version():
    """The loaded libvtag.so's version ("0.1.0")."""
    return _library().vtag_api_version().decode()


def set_video_log(verbose):
    """FFmpeg's own messages on stderr: off (the default, as in the CLI) or warnings and errors.
    FFmpeg's setting is process-wide: set it before opening a Tagger."""
    _library().vtag_api_set_video_log(1 if verbose else 0)


def _bytes(s):
    return None if s is None else os.fsencode(s)


class Tagger:
    """A tagger opened once on a run folder (vtag pipeline --out DIR), or on a checkpoint and a
    backbone, and run on any number of videos. The options are vtag tag's. One tagger serves one
    thread at a time (calls are serialized by a lock); open one per thread to tag in parallel."""

    def __init__(self, run_dir=None, model=None, *, checkpoint=None, backbone=None, sample=None, size=0,
                 beam=0, threads=0, top_n=None, min_frames=None, min_score=None):
        self._lib = _library()
        self._lock = threading.Lock()
        self._h = None
        o = TaggerOpts()
        self._lib.vtag_api_tagger_opts_defaults(o)
        self._keep = [_bytes(x) for x in (run_dir, model, checkpoint, backbone)] + [
            None if sample is None else sample.encode()]
        o.dir, o.model, o.checkpoint, o.backbone, o.sample = self._keep
        o.size, o.beam, o.threads = int(size), int(beam), int(threads)
        if top_n is not None:
            o.top_n = int(top_n)
        if min_frames is not None:
            o.min_frames = int(min_frames)
        if min_score is not None:
            o.min_score = float(min_score)
        h = ctypes.c_void_p()
        err = CError()
        if self._lib.vtag_api_tagger_open(h, o, err):
            err.raise_()
        self._h = h

    def tag(self, path):
        """The dict of `vtag tag`'s JSON line for the video at path (a str or bytes path). A video
        that cannot be tagged raises vtag.Error, with its {"video", "error"} dict in e.line."""
        with self._lock:
            if self._h is None:
                raise ValueError("vtag.Tagger: tag() after close()")
            line = ctypes.c_void_p()
            err = CError()
            rc = self._lib.vtag_api_tagger_tag(self._h, _bytes(path), line, err)
            text = take_string(self._lib, line)
        d = json.loads(text) if text is not None else None
        if rc:
            err.raise_(d)
        return d

    def close(self):
        with self._lock:
            if self._h is not None:
                self._lib.vtag_api_tagger_close(self._h)
                self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def _sentence(s, what):
    if isinstance(s, str):
        return s
    if isinstance(s, (list, tuple)) and all(isinstance(t, str) for t in s):
        return list(s)
    raise TypeError("vtag.score: %s must be a string of tokens or a list of token strings" % what)


def _pairs(cands, refs):
    """(id, cand, refs) in cands' order."""
    if hasattr(cands, "keys"):
        if not hasattr(refs, "keys"):
            raise TypeError("vtag.score: cands is a mapping, so refs must be one too")
        missing = [k for k in cands if k not in refs]
        if missing:
            raise KeyError("vtag.score: no refs for %r" % (missing[0],))
        return [(k, cands[k], refs[k]) for k in cands]
    cands, refs = list(cands), list(refs)
    if len(cands) != len(refs):
        raise ValueError("vtag.score: %d candidates but %d reference lists" % (len(cands), len(refs)))
    return [(i, c, r) for i, (c, r) in enumerate(zip(cands, refs))]


def _ref_list(r, what):
    if isinstance(r, str) or not isinstance(r, (list, tuple)):
        raise TypeError("vtag.score: %s must be a list of reference captions" % what)
    return [_sentence(x, what) for x in r]


def score(cands, refs, df_refs=None, per_item=False):
    """CIDEr-D and BLEU-1..4 as `vtag score` computes them (coco-caption's conventions).

    cands: {id: caption} and refs: {id: [caption, ...]} (every id of cands in refs), or a list
    of captions and a list of reference lists, aligned. A caption is a string of tokens
    separated by whitespace, or a list of tokens. df_refs ({id: [caption...]} or a list of
    reference lists): the document frequencies of CIDEr-D come from them (vtag score
    --df-from) instead of refs. Returns the dict vtag score prints: {"n", "CIDEr-D",
    "BLEU-1", ..., "BLEU-4"}, with per_item: "per_item", each candidate's CIDEr-D in cands'
    order. The ids are names only: they are not sent to the scorer."""
    lib = _library()
    lines = []
    for k, c, r in _pairs(cands, refs):
        lines.append(json.dumps({"cand": _sentence(c, "the caption of %r" % (k,)),
                                 "refs": _ref_list(r, "the refs of %r" % (k,))}, ensure_ascii=False))
    df_lines = None
    if df_refs is not None:
        sets = df_refs.values() if hasattr(df_refs, "values") else df_refs
        df_lines = [json.dumps({"refs": _ref_list(r, "a df_refs entry")}, ensure_ascii=False) for r in sets]
    with tempfile.TemporaryDirectory(prefix="vtag-score-") as tmp:
        inp = os.path.join(tmp, "in.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            f.write("".join(x + "\n" for x in lines))
        dfp = None
        if df_lines is not None:
            dfp = os.path.join(tmp, "df.jsonl")
            with open(dfp, "w", encoding="utf-8") as f:
                f.write("".join(x + "\n" for x in df_lines))
        out = ctypes.c_void_p()
        err = CError()
        rc = lib.vtag_api_score_captions(os.fsencode(inp), _bytes(dfp), 1 if per_item else 0, out, err)
        text = take_string(lib, out)
    if rc:
        err.raise_()
    return json.loads(text)
