/* vtag output: the record writer behind --output, --resume and --format of
 * the commands that print one record per video (tag, backbone predict, probe)
 * or per item (score --per-item). A record is one JSON line, or one CSV row
 * made from it (RFC 4180, docs/FORMATS.md "CSV outputs").
 *
 * To a file F, the records go to F.partial beside it, each appended, flushed
 * and fsync'd as it comes; vtag_output_close with finish renames F.partial to
 * F. A kill -9 at any moment leaves F as it was and F.partial holding whole
 * records, at most the last one torn. With resume, the records already in
 * F.partial (or in F, a finished run) are kept, a torn last record (no line
 * end) is cut off, and vtag_output_skip says which keys (videos) they name, so
 * that the caller does the rest alone: no record lost, none written twice.
 * Without a path the records go to a stream (stdout), as they come. */
#ifndef VTAG_OUTPUT_H
#define VTAG_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vtag_output_format {
    VTAG_OUTPUT_JSONL = 0, /* one JSON object a line (default) */
    VTAG_OUTPUT_CSV = 1,   /* a header row, then one row a record */
} vtag_output_format;

/* "jsonl" or "csv"; else VTAG_ERR_ARG "--format expects jsonl or csv, got 'X'". */
int vtag_output_format_parse(const char *name, vtag_output_format *f, vtag_error *err);

/* A CSV column made from a record's JSON line: the member field's value (a
 * string as it is, a number as the JSON has it, null or absent: empty), or
 * when item is set, field is a list of objects and the cell joins each one's
 * item with ';'; with count, the cell is the list's length. */
typedef struct vtag_output_column {
    const char *name;  /* the header */
    const char *field; /* the JSON line's member */
    const char *item;  /* NULL, or the member of each object of the list */
    int count;         /* 1: the list's length */
} vtag_output_column;

typedef struct vtag_output_opts {
    const char *path;                  /* NULL or "-": the records go to stream */
    FILE *stream;                      /* with path NULL (stdout); borrowed */
    vtag_output_format format;         /* default JSONL */
    const vtag_output_column *columns; /* (n_columns) CSV's; columns[0] names the record (key) */
    int n_columns;
    const char *key;                   /* the JSON member naming a record ("video") */
    int resume;                        /* keep the records already written to path */
} vtag_output_opts;

void vtag_output_opts_defaults(vtag_output_opts *o);

/* The records of the commands (docs/FORMATS.md "CSV outputs"), keyed by "video":
 *   TAGS (vtag tag):                   video,class1,class2,tags,scores,frames,damaged_packets,error
 *   PREDICTIONS (vtag backbone predict): video,labels,scores,frames,error
 *   PROBES (vtag probe):               video,container,codec,duration_seconds,frame_rate,width,
 *                                      height,rotation,display_width,display_height,frames,keyframes,index
 * tags/labels and scores are ';'-joined lists in the JSON line's order, frames
 * the number of sampled frames, damaged_packets as in the JSON line (empty
 * when absent); a video that failed has only video and error. */
typedef enum vtag_output_records {
    VTAG_OUTPUT_TAGS,
    VTAG_OUTPUT_PREDICTIONS,
    VTAG_OUTPUT_PROBES,
} vtag_output_records;
/* Sets o's columns and key for those records. */
void vtag_output_opts_records(vtag_output_opts *o, vtag_output_records records);

typedef struct vtag_output vtag_output;

/* Opens path's F.partial (created, emptied, or with resume kept as said
 * above) or takes the stream, and writes the CSV header of a new output.
 * Errors: "F.partial: cannot open: REASON", a kept file that is not this
 * output's format ("F.partial: line 1 is not a JSON object with \"video\"",
 * "F.partial: its header is not ..."), VTAG_ERR_NOMEM. */
int vtag_output_open(vtag_output **out, const vtag_output_opts *o, vtag_error *err);
/* The records kept from an earlier run (resume), 0 otherwise. */
int64_t vtag_output_kept(const vtag_output *out);
/* 1 when a kept record names key and has not been matched yet (each kept
 * record matches one call, so a video listed twice is done twice), else 0. */
int vtag_output_skip(vtag_output *out, const char *key);
/* One record from its JSON line (no newline): the line, or its CSV row.
 * Errors: "F.partial: cannot write: REASON" (stdout: "stdout: ..."), a line
 * that is not a JSON object (VTAG_ERR_ARG). */
int vtag_output_write(vtag_output *out, const char *line, vtag_error *err);
/* One CSV row of n fields given as they are (an output of format CSV). */
int vtag_output_write_row(vtag_output *out, const char *const *fields, int n, vtag_error *err);
/* Closes; with finish, F.partial becomes F (renamed, folder fsync'd), else it
 * stays for a later resume. *out is NULL after; NULL is a no-op. */
int vtag_output_close(vtag_output **out, int finish, vtag_error *err);

/* One RFC 4180 row of n fields without its line end, malloc'd in *row: a
 * field holding ',', '"', CR or LF is quoted with '"' doubled (libcsv). */
int vtag_output_csv_row(const char *const *fields, int n, char **row, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif
