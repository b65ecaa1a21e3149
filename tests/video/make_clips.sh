#!/usr/bin/env bash
# Makes the video test clips with the ffmpeg CLI, in ./video (the CTest
# fixtures folder), and for each clip the reference the tests compare with:
# every frame as the ffmpeg CLI decodes it (autorotated), the shorter side
# scaled to S with bicubic libswscale (scale=-1 on the other side), the centre
# S×S cropped, RGB; plus each frame's presentation time and key flag from the
# showinfo filter.
#   <clip>.<S>.rgb   [frames, S, S, 3] uint8
#   <clip>.<S>.txt   one line per frame: "pts_time iskey"
# Clips are a few seconds at low resolution so that the suite stays fast.
set -euo pipefail
out=video
mkdir -p "$out"
cd "$out"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# The stamp holds this script's checksum: an edited script remakes everything.
stamp=$(cksum < "${BASH_SOURCE[0]}" | cut -d' ' -f1)
if [ -f .stamp ] && [ "$(cat .stamp)" = "$stamp" ]; then exit 0; fi
rm -f .stamp

# H.264 (High, B-frames) in MP4, moov first: 4 s, a hard cut at 2 s for the
# scene sampler, 1 s GOPs.
ff -filter_complex "testsrc2=s=320x240:r=25:d=2[a];smptehdbars=s=320x240:r=25:d=2[b];[a][b]concat=n=2:v=1[v]" \
   -map "[v]" -c:v libx264 -preset veryfast -g 25 -pix_fmt yuv420p -movflags +faststart h264.mp4
# The same with the moov atom at the end (as a camera writes it).
ff -i h264.mp4 -c copy h264_moov_end.mp4
# VP9 in WebM (Matroska cues index keyframes only).
ff -f lavfi -i testsrc2=s=320x240:r=25:d=3 -c:v libvpx-vp9 -deadline good -cpu-used 8 -g 30 -b:v 300k vp9.webm
# MPEG-4 part 2 with packed B-frames in AVI.
ff -f lavfi -i testsrc2=s=320x240:r=25:d=3 -c:v mpeg4 -q:v 3 -g 25 -bf 2 mpeg4.avi
# Motion JPEG (full-range yuvj420p) in MOV: every frame a keyframe.
ff -f lavfi -i testsrc2=s=320x240:r=25:d=2 -c:v mjpeg -q:v 3 mjpeg.mov
# Animated GIF (palette, 10 fps).
ff -f lavfi -i testsrc2=s=160x120:r=10:d=3 anim.gif
# Portrait phone clips: 320x180 coded, display matrix for a quarter turn each way.
ff -f lavfi -i testsrc2=s=320x180:r=25:d=2 -c:v libx264 -preset veryfast -g 25 -pix_fmt yuv420p rot_src.mp4
ff -i rot_src.mp4 -c copy -metadata:s:v:0 rotate=90 rot90.mp4
ff -i rot_src.mp4 -c copy -metadata:s:v:0 rotate=270 rot270.mp4
rm -f rot_src.mp4
# Variable frame rate: 1.5 s at 30 fps, then 10 fps.
ff -f lavfi -i testsrc2=s=320x240:r=30:d=3 -vf "setpts='if(lt(N,45),N/30,1.5+(N-45)/10)/TB'" \
   -c:v libx264 -preset veryfast -g 30 -fps_mode vfr vfr.mp4
# Audio a second longer than the video: sampling covers the video's 2 s.
ff -f lavfi -i testsrc2=s=320x240:r=25:d=2 -f lavfi -i sine=d=3 -c:v libx264 -preset veryfast -g 25 \
   -pix_fmt yuv420p -c:a aac av.mp4
# Open GOPs (keyframes:N): every keyframe after the first is an I picture that
# B-pictures shown before it refer across, so it is shown later after its
# decode time than the first keyframe (the index's times alone mislead).
ff -f lavfi -i testsrc2=s=320x240:r=25:d=4 -c:v libx264 -preset veryfast -g 25 -bf 3 -x264-params open-gop=1 \
   -pix_fmt yuv420p opengop.mp4
# Audio only (AAC in MP4).
ff -f lavfi -i sine=d=2 -c:a aac audio.mp4

# References: S=96 for every clip, and the default 224 for the H.264 one.
reference() { # clip size
  local clip=$1 s=$2 base=${1%.*}
  ffmpeg -nostdin -hide_banner -loglevel info -y -i "$clip" -an \
    -vf "scale=w='if(gt(iw,ih),-1,$s)':h='if(gt(iw,ih),$s,-1)':flags=bicubic,crop=$s:$s,showinfo" \
    -fps_mode passthrough -f rawvideo -pix_fmt rgb24 "$base.$s.rgb" 2> "$base.$s.log"
  sed -n 's/.*Parsed_showinfo.* pts_time:\([^ ]*\) .* iskey:\([01]\).*/\1 \2/p' "$base.$s.log" > "$base.$s.txt"
  rm -f "$base.$s.log"
  [ -s "$base.$s.txt" ] || { echo "make_clips: no frames listed for $clip" >&2; exit 1; }
}
for c in h264.mp4 vp9.webm mpeg4.avi mjpeg.mov anim.gif rot90.mp4 rot270.mp4 vfr.mp4 av.mp4 opengop.mp4; do
  reference "$c" 96
done
reference h264.mp4 224
echo "$stamp" > .stamp
