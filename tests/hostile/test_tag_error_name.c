/* A video whose name is not UTF-8 still gets its error line (issue 14 point
 * 12): vtag tag used to stop the whole run with "cannot encode the tag line".
 * The line names the video escaped (\xNN), and a good name is kept as is. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/tag.h"

int main(void)
{
    vtag_error err = {0};
    char *line = NULL;
    vtag_tag_result r = {.video = "caf\xe9.mp4", .error = "caf\\xe9.mp4: the file name is not valid UTF-8"};
    int rc = vtag_tag_to_json(&r, &line, &err);
    CHECK(rc == VTAG_OK && line, "Latin-1 name: rc %d: %s", rc, err.msg);
    if (line) {
        CHECK(strstr(line, "\"video\": \"caf\\\\xe9.mp4\"") != NULL, "the name escaped: %s", line);
        CHECK(strstr(line, "\"error\": ") != NULL, "the error kept: %s", line);
    }
    free(line);
    line = NULL;

    vtag_tag_result ok = {.video = "caf\xc3\xa9.mp4", .error = "caf\xc3\xa9.mp4: cannot open"};
    rc = vtag_tag_to_json(&ok, &line, &err);
    CHECK(rc == VTAG_OK && line && strstr(line, "\"video\": \"caf\xc3\xa9.mp4\""), "UTF-8 name kept: %s",
          line ? line : err.msg);
    free(line);
    return check_summary("tag_error_name");
}
