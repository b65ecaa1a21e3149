"""Issue 16, the video-level captioner end to end on the pipeline tests' tiny
corpus (4 clips of 1 s):
  1. vtag pipeline --model video trains video-xe and video (files, logs,
     pipeline.json stages and summary) and nothing else;
  2. their vtag.config records "frames" (the most sampled frames a video
     has: 3 with uniform:3);
  3. vtag tag --from DIR --model video gives one frame (one caption) per
     video, and its tags are labels of the corpus; vtag caption writes one
     caption per video;
  4. vtag eval --from DIR lists the video-xe and video runs; vtag serve
     --model video answers with one frame and vtag tag's tags;
  5. a later pipeline run of another model (fc) in the folder keeps the
     video model's figures in pipeline.json's summary;
  6. vtag train --video refuses the fc model (a video model attends over
     frames).

usage: pipeline_video.py VTAG FFMPEG WORKDIR"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
import common  # noqa: E402

VTAG, FFMPEG, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
labels = common.make_corpus(FFMPEG, WORK)
env = dict(os.environ, OMP_WAIT_POLICY="passive")
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run(args, timeout=120):
    return subprocess.run([VTAG] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)


out = os.path.join(WORK, "run")
args = common.pipeline_args(labels, out, **{"--model": "video", "--sample": "uniform:3", "--hidden": "32",
                                            "--xe-epochs": "3", "--scst-epochs": "1"})
p = run(args)
check(p.returncode == 0, "pipeline --model video exits 0 (%s): %s" % (p.returncode, p.stderr[-400:]))

# 1. the files, the manifest
for name in ("video-xe.safetensors", "video.safetensors", "video-xe.log.jsonl", "video.log.jsonl"):
    check(os.path.isfile(os.path.join(out, name)), "%s written" % name)
for name in ("fc-xe.safetensors", "topdown-xe.safetensors"):
    check(not os.path.exists(os.path.join(out, name)), "%s not trained" % name)
with open(os.path.join(out, "pipeline.json")) as f:
    manifest = json.load(f)
check("video-xe" in manifest.get("stages", {}) and "video" in manifest.get("stages", {}),
      "pipeline.json stages has video-xe and video: %s" % sorted(manifest.get("stages", {})))
check("video" in manifest.get("summary", {}), "pipeline.json summary has video: %s" % manifest.get("summary"))
with open(os.path.join(out, "video-xe.log.jsonl")) as f:
    xe_lines = [json.loads(line) for line in f if line.strip()]
check(len(xe_lines) == 3 and all(r["phase"] == "xe" for r in xe_lines), "video-xe.log.jsonl: 3 XE epochs")

# 2. frames in the checkpoints' config
for name in ("video-xe", "video"):
    p = run(["inspect", os.path.join(out, name + ".safetensors")])
    config = [line for line in p.stdout.splitlines() if "vtag.config" in line]
    cfg = json.loads(config[0].split("=", 1)[1]) if config else {}
    check(cfg.get("frames") == 3 and cfg.get("model") == "topdown" and cfg.get("att_feat_size") == cfg.get("fc_feat_size"),
          "%s: vtag.config frames 3, topdown over fc-sized positions: %s" % (name, cfg))

# 3. vtag tag: one caption per video
videos = [os.path.join(WORK, "v", "%d.mp4" % i) for i in range(4)]
p = run(["tag", "--from", out, "--model", "video", "--threads", "1"] + videos)
lines = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
check(p.returncode == 0 and len(lines) == 4, "tag --model video: 4 lines, exit %s: %s" % (p.returncode, p.stderr[-300:]))
known = {"a", "b", "x", "y", "red", "blue", "big"}
for line in lines:
    v = os.path.basename(line.get("video", "?"))
    check(len(line.get("frames", [])) == 1, "%s: one frame (the video's caption): %d" % (v, len(line.get("frames", []))))
    tags = [t["label"] for t in line.get("tags", [])]
    check(set(tags) <= known and all(0 <= t["score"] <= 1 for t in line.get("tags", [])),
          "%s: tags are corpus labels with scores in [0, 1]: %s" % (v, tags))
    check(os.path.basename(line.get("model", "")).startswith("video"), "%s: the line names the video model: %s" %
          (v, line.get("model")))

# 3b. vtag caption: a line per video (the 3 training videos' 9 frame rows make 3 captions)
p = run(["caption", "--model", os.path.join(out, "video.safetensors"), "--feats",
         os.path.join(out, "features-train.safetensors"), "--json"])
caps = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
check(p.returncode == 0 and [c["item"] for c in caps] == ["v/0.mp4", "v/1.mp4", "v/2.mp4"],
      "caption --model video: one caption per training video (exit %s): %s" % (p.returncode, [c.get("item") for c in caps]))

# 4. vtag eval --from DIR
p = run(["eval", "--from", out, "--labels", labels, "--split", "val", "--threads", "1"])
rows = [line.split()[0] for line in p.stdout.splitlines() if line.split()]
check(p.returncode == 0 and "video-xe" in rows and "video" in rows,
      "eval --from lists video-xe and video (exit %s): %s" % (p.returncode, (p.stdout + p.stderr)[-400:]))

# 4b. vtag serve --model video answers as vtag tag does: one frame per video
srv = subprocess.Popen([VTAG, "serve", "--from", out, "--model", "video", "--port", "0", "--workers", "1"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
port = None
for _ in range(50):
    line = srv.stderr.readline()
    if not line:
        break
    if "listening on http://" in line:
        port = int(line.split("listening on http://", 1)[1].split()[0].rsplit(":", 1)[1].rstrip("/"))
        break
answer = {}
if port:
    with open(videos[0], "rb") as f:
        body = f.read()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/v1/tag?name=0.mp4", body=body, headers={"Content-Type": "application/octet-stream"})
    r = c.getresponse()
    answer = json.loads(r.read().decode()) if r.status == 200 else {"status": r.status}
    c.close()
srv.send_signal(signal.SIGTERM)
try:
    srv.communicate(timeout=60)
except subprocess.TimeoutExpired:
    srv.kill()
    srv.communicate()
check(len(answer.get("frames", [])) == 1 and answer.get("tags") == lines[0].get("tags"),
      "serve --model video: one frame, the tags vtag tag gave: %s" % answer)

# 5. a later run of another model in the folder keeps the video model's summary
p = run(common.pipeline_args(labels, out, **{"--model": "fc", "--sample": "uniform:3", "--hidden": "32"}))
with open(os.path.join(out, "pipeline.json")) as f:
    summary = json.load(f).get("summary", {})
check(p.returncode == 0 and "fc" in summary and "video" in summary,
      "pipeline --model fc after video: the summary has both (exit %s): %s" % (p.returncode, summary))

# 6. --video needs att2in or topdown
p = run(["train", "--labels", labels, "--feats", os.path.join(out, "features-train.safetensors"), "--model", "fc",
         "--video", "--epochs", "1", "--out", os.path.join(WORK, "fc-video.safetensors")])
check(p.returncode == 1 and "video-level" in p.stderr, "train --video --model fc refused: %s" % p.stderr.strip()[-200:])

print("%d failures" % len(failures))
sys.exit(1 if failures else 0)
