/* vtag_video_info_json: the probe line of a video (docs/FORMATS.md, "probe
 * output"), the one place that spells its fields. */
#include <math.h>
#include <stdlib.h>

#include <jansson.h>

#include "vtag/video.h"

static double rounded(double x, double unit)
{
    return round(x / unit) * unit;
}

int vtag_video_info_json(const char *path, const vtag_video_info *in, char **line, vtag_error *err)
{
    *line = NULL;
    json_t *o = json_object();
    int bad = !o;
    bad = bad || json_object_set_new(o, "video", json_string(path));
    bad = bad || json_object_set_new(o, "container", json_string(in->container));
    bad = bad || json_object_set_new(o, "codec", json_string(in->codec));
    bad = bad || json_object_set_new(o, "duration_seconds", json_real(rounded(in->duration, 1e-6)));
    bad = bad || json_object_set_new(o, "frame_rate", json_real(rounded(in->frame_rate, 1e-6)));
    bad = bad || json_object_set_new(o, "width", json_integer(in->width));
    bad = bad || json_object_set_new(o, "height", json_integer(in->height));
    bad = bad || json_object_set_new(o, "rotation", json_integer(in->rotation));
    bad = bad || json_object_set_new(o, "display_width", json_integer(in->display_width));
    bad = bad || json_object_set_new(o, "display_height", json_integer(in->display_height));
    bad = bad || json_object_set_new(o, "frames", json_integer(in->frames));
    bad = bad || json_object_set_new(o, "keyframes", json_integer(in->keyframes));
    bad = bad || json_object_set_new(o, "index", json_string(in->index_complete ? "full" : "scan"));
    *line = bad ? NULL : json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(o);
    if (!*line)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: cannot encode the probe line (invalid UTF-8 or out of memory)", path);
    return VTAG_OK;
}
