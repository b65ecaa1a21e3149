/* vtag_video_probe: header facts plus the keyframe count, from the index
 * when it lists every packet, else from one decode-free pass over the file. */
#include <string.h>

#include "video_internal.h"

int vtag_video_probe(const char *path, vtag_video_info *info, vtag_error *err)
{
    vv_input in;
    int rc = vv_input_open(&in, path, info, err);
    if (rc) return rc;
    vv_index ix;
    if ((rc = vv_index_build(&ix, &in, info, err))) goto done;
    if (ix.n > 0 && ix.complete) {
        info->index_complete = 1;
        int64_t keys = 0;
        for (int64_t i = 0; i < ix.n; i++) keys += ix.key[i];
        info->keyframes = keys;
        if (info->frames == 0) info->frames = ix.n;
    } else {
        int64_t packets = 0, keys = 0;
        double end = 0.0;
        if ((rc = vv_scan_packets(&in, &packets, &keys, &end, err))) goto done;
        info->keyframes = keys;
        info->frames = packets;
        if (info->duration <= 0) info->duration = end;
    }
done:
    vv_index_free(&ix);
    vv_input_close(&in);
    return rc;
}
