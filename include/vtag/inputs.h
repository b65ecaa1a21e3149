/* vtag inputs: the videos a command line names, expanded into the list of
 * videos a command reads (src/run/inputs.c). A local file, "-" and a URL
 * (video.h, "inputs") stay as given; a directory, with recursive, becomes
 * the videos under it: walked depth first, the entries of each folder in
 * byte order of their names (the same list on every machine and every run),
 * files kept by extension (case-insensitive), names starting with '.'
 * skipped, symbolic links followed except into a folder that is already
 * being walked (a loop). Nothing here prints or opens a video. */
#ifndef VTAG_INPUTS_H
#define VTAG_INPUTS_H

#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VTAG_INPUTS_EXT_DEFAULT "mp4,mkv,webm,mov,avi,m4v"

/* All zeros is the default (= vtag_inputs_opts_defaults). */
typedef struct vtag_inputs_opts {
    int recursive;          /* walk directories; 0 (default): a directory is VTAG_ERR_ARG,
                               "DIR is a directory: add --recursive" */
    const char *extensions; /* comma-separated, without dots; NULL (default): VTAG_INPUTS_EXT_DEFAULT */
    const char *protocols;  /* a name whose protocol is not in this list is VTAG_ERR_ARG (video.h,
                               "inputs"); NULL (default): VTAG_VIDEO_PROTOCOLS_DEFAULT */
    int64_t max_depth;      /* folders below a named directory, up to 100; 0: 64 */
    int64_t max_videos;     /* in the whole list; 0: 10,000,000 */
    int64_t max_entries;    /* directory entries examined in all; 0: 100,000,000 */
} vtag_inputs_opts;

void vtag_inputs_opts_defaults(vtag_inputs_opts *o);

/* The expanded list: paths[0..n), each malloc'd. */
typedef struct vtag_inputs_list {
    char **paths;
    int64_t n;
    int64_t cap; /* private */
} vtag_inputs_list;

/* args[0..n_args) → *out (zeroed first; free it with vtag_inputs_list_free,
 * on failure too). Errors: VTAG_ERR_ARG (a directory without recursive, a
 * name of a protocol not allowed, a bad extension or protocol list, a tree
 * deeper than max_depth, more videos or entries than the limits: each "DIR:
 * …" naming the folder), VTAG_ERR_IO (a folder that
 * cannot be read), VTAG_ERR_NOMEM. A directory that holds no video is no
 * error: it adds nothing. */
int vtag_inputs_expand(const char *const *args, int64_t n_args, const vtag_inputs_opts *o, vtag_inputs_list *out,
                       vtag_error *err);
void vtag_inputs_list_free(vtag_inputs_list *l);

/* Checks an extension list: non-empty names of letters and digits, separated by commas. */
int vtag_inputs_extensions_check(const char *list, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif
