/* tag_one: the smallest program on the installed library. It opens a tagger on a run folder
 * (vtag pipeline --out DIR) and prints each video's JSON line, the line `vtag tag --from DIR`
 * prints for it.
 *
 *   make install PREFIX=$HOME/vtag
 *   export PKG_CONFIG_PATH=$HOME/vtag/lib/pkgconfig LD_LIBRARY_PATH=$HOME/vtag/lib
 *   cc -o tag_one docs/examples/tag_one.c $(pkg-config --cflags --libs vtag)
 *   ./tag_one run clip.mp4 other.mp4
 *
 * Exit status: 0 every video tagged, 1 some failed (their error lines say why), 2 usage. */
#include <stdio.h>
#include <stdlib.h>

#include <vtag/api.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: tag_one RUN_DIR VIDEO...\n");
        return 2;
    }
    vtag_api_set_video_log(0); /* FFmpeg quiet: a video's error line says what went wrong */
    vtag_api_tagger_opts o;
    vtag_api_tagger_opts_defaults(&o);
    o.dir = argv[1];
    vtag_api_tagger *t = NULL;
    vtag_error err = {0};
    if (vtag_api_tagger_open(&t, &o, &err)) {
        fprintf(stderr, "tag_one: %s\n", err.msg);
        return 1;
    }
    int status = 0;
    for (int i = 2; i < argc; i++) {
        char *line = NULL;
        if (vtag_api_tagger_tag(t, argv[i], &line, &err)) status = 1;
        if (line) printf("%s\n", line);
        else fprintf(stderr, "tag_one: %s\n", err.msg);
        vtag_api_free(line);
    }
    vtag_api_tagger_close(&t);
    if (fflush(stdout) != 0) status = 1;
    return status;
}
