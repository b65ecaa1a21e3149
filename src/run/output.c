/* The record writer of --output, --resume and --format (vtag/output.h): JSON
 * lines or CSV rows made from them, to a stream or appended to F.partial one
 * fsync'd record at a time and renamed to F at the end. */
#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtag/output.h"

/* The longest record a kept file may hold: a tag or prediction line is at
 * most 4 MiB (VTAG_TAG_LINE_MAX), its CSV row shorter. */
#define OUTPUT_RECORD_MAX ((size_t)8 << 20)

typedef struct kept_key {
    char *key;
    int used;
} kept_key;

struct vtag_output {
    vtag_output_opts o;
    char *path, *partial; /* owned; NULL for a stream */
    int fd;               /* F.partial, appended; -1 for a stream */
    int broken;           /* a write failed: a torn record may follow, so nothing more */
    kept_key *keys;       /* (n_keys) the kept records' keys, sorted */
    int64_t n_keys, cap_keys;
    char *header;         /* the CSV header row with its line end */
};

int vtag_output_format_parse(const char *name, vtag_output_format *f, vtag_error *err)
{
    if (!strcmp(name, "jsonl")) *f = VTAG_OUTPUT_JSONL;
    else if (!strcmp(name, "csv")) *f = VTAG_OUTPUT_CSV;
    else return vtag_fail(err, VTAG_ERR_ARG, "--format expects jsonl or csv, got '%s'", name);
    return VTAG_OK;
}

void vtag_output_opts_defaults(vtag_output_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = VTAG_OUTPUT_JSONL;
    o->key = "video";
}

static const vtag_output_column TAG_COLUMNS[] = {
    {"video", "video", NULL, 0},   {"class1", "class1", NULL, 0}, {"class2", "class2", NULL, 0},
    {"tags", "tags", "label", 0},  {"scores", "tags", "score", 0}, {"frames", "frames", NULL, 1},
    {"damaged_packets", "damaged_packets", NULL, 0},               {"error", "error", NULL, 0},
};
static const vtag_output_column PREDICTION_COLUMNS[] = {
    {"video", "video", NULL, 0},       {"labels", "labels", "label", 0}, {"scores", "labels", "score", 0},
    {"frames", "frames", NULL, 1},     {"error", "error", NULL, 0},
};
static const vtag_output_column PROBE_COLUMNS[] = {
    {"video", "video", NULL, 0},           {"container", "container", NULL, 0},
    {"codec", "codec", NULL, 0},           {"duration_seconds", "duration_seconds", NULL, 0},
    {"frame_rate", "frame_rate", NULL, 0}, {"width", "width", NULL, 0},
    {"height", "height", NULL, 0},         {"rotation", "rotation", NULL, 0},
    {"display_width", "display_width", NULL, 0}, {"display_height", "display_height", NULL, 0},
    {"frames", "frames", NULL, 0},         {"keyframes", "keyframes", NULL, 0},
    {"index", "index", NULL, 0},
};

void vtag_output_opts_records(vtag_output_opts *o, vtag_output_records records)
{
    o->key = "video";
    if (records == VTAG_OUTPUT_TAGS) o->columns = TAG_COLUMNS, o->n_columns = (int)(sizeof TAG_COLUMNS / sizeof *TAG_COLUMNS);
    else if (records == VTAG_OUTPUT_PREDICTIONS)
        o->columns = PREDICTION_COLUMNS, o->n_columns = (int)(sizeof PREDICTION_COLUMNS / sizeof *PREDICTION_COLUMNS);
    else o->columns = PROBE_COLUMNS, o->n_columns = (int)(sizeof PROBE_COLUMNS / sizeof *PROBE_COLUMNS);
}

/* ---- CSV ------------------------------------------------------------------------------------ */

static int needs_quotes(const char *s) { return s[strcspn(s, ",\"\r\n")] != 0; }

int vtag_output_csv_row(const char *const *fields, int n, char **row, vtag_error *err)
{
    size_t len = 1; /* the NUL */
    for (int i = 0; i < n; i++) {
        const char *f = fields[i] ? fields[i] : "";
        const size_t w = needs_quotes(f) ? csv_write(NULL, 0, f, strlen(f)) : strlen(f);
        if (w > SIZE_MAX - len - 1) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a CSV row");
        len += w + 1;
    }
    char *r = malloc(len), *p = r;
    if (!r) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a CSV row of %zu bytes", len);
    for (int i = 0; i < n; i++) {
        const char *f = fields[i] ? fields[i] : "";
        if (i) *p++ = ',';
        if (needs_quotes(f)) {
            p += csv_write(p, len - (size_t)(p - r), f, strlen(f));
        } else {
            memcpy(p, f, strlen(f));
            p += strlen(f);
        }
    }
    *p = 0;
    *row = r;
    return VTAG_OK;
}

/* A growing string. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int bad; /* out of memory */
} sbuf;

static void sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (b->bad) return;
    if (b->len + n + 1 > b->cap) {
        size_t want = b->cap ? b->cap : 64;
        while (want < b->len + n + 1 && want <= SIZE_MAX / 2) want *= 2;
        char *p = want >= b->len + n + 1 ? realloc(b->s, want) : NULL;
        if (!p) {
            b->bad = 1;
            return;
        }
        b->s = p, b->cap = want;
    }
    memcpy(b->s + b->len, s, n);
    b->s[b->len += n] = 0;
}

/* A JSON scalar as its cell: a string as it is, an integer in decimal, a
 * real in the fewest digits that read back to the same double, null empty. */
static void add_scalar(sbuf *b, const json_t *v)
{
    char num[64];
    if (json_is_string(v)) {
        sbuf_add(b, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        sbuf_add(b, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v)));
    } else if (json_is_real(v)) {
        const double d = json_real_value(v);
        int n = 0;
        for (int digits = 15; digits <= 17; digits++)
            if ((n = snprintf(num, sizeof num, "%.*g", digits, d)) > 0 && strtod(num, NULL) == d) break;
        sbuf_add(b, num, (size_t)n);
    } else if (json_is_boolean(v)) {
        sbuf_add(b, json_is_true(v) ? "true" : "false", json_is_true(v) ? 4 : 5);
    } else if (v && !json_is_null(v)) { /* a list or object where a scalar was meant: its JSON */
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s) sbuf_add(b, s, strlen(s));
        else b->bad = 1;
        free(s);
    }
}

static void add_cell(sbuf *b, const json_t *rec, const vtag_output_column *c)
{
    const json_t *v = json_object_get(rec, c->field);
    char num[32];
    if (c->count) {
        if (json_is_array(v)) sbuf_add(b, num, (size_t)snprintf(num, sizeof num, "%zu", json_array_size(v)));
    } else if (c->item) {
        for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
            if (i) sbuf_add(b, ";", 1);
            add_scalar(b, json_object_get(json_array_get(v, i), c->item));
        }
    } else {
        add_scalar(b, v);
    }
}

/* The CSV row of a JSON line, per the columns. */
static int line_to_row(const vtag_output *out, const char *line, char **row, vtag_error *err)
{
    json_t *rec = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(rec)) {
        json_decref(rec);
        return vtag_fail(err, VTAG_ERR_ARG, "a record is not a JSON object: %.60s", line);
    }
    const int n = out->o.n_columns;
    sbuf *cells = calloc((size_t)n, sizeof *cells);
    const char **fields = calloc((size_t)n, sizeof *fields);
    int bad = !cells || !fields;
    for (int i = 0; !bad && i < n; i++) {
        add_cell(&cells[i], rec, &out->o.columns[i]);
        bad = cells[i].bad;
        fields[i] = cells[i].s ? cells[i].s : "";
    }
    int rc = bad ? vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a CSV row") : vtag_output_csv_row(fields, n, row, err);
    for (int i = 0; cells && i < n; i++) free(cells[i].s);
    free(cells);
    free(fields);
    json_decref(rec);
    return rc;
}

/* ---- the kept records ----------------------------------------------------------------------- */

static int keep_key(vtag_output *out, const char *key, size_t n, vtag_error *err)
{
    if (out->n_keys == out->cap_keys) {
        int64_t cap = out->cap_keys ? out->cap_keys * 2 : 256;
        size_t bytes;
        kept_key *k = vtag_mul_size((size_t)cap, sizeof *k, &bytes) ? NULL : realloc(out->keys, bytes);
        if (!k) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for %lld kept records", (long long)out->n_keys);
        out->keys = k, out->cap_keys = cap;
    }
    char *s = malloc(n + 1);
    if (!s) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for the kept records");
    memcpy(s, key, n);
    s[n] = 0;
    out->keys[out->n_keys++] = (kept_key){s, 0};
    return VTAG_OK;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const kept_key *)a)->key, ((const kept_key *)b)->key);
}

/* The first field of a CSV record (as vtag_output_csv_row wrote it), unquoted, into b. */
static void csv_first_field(sbuf *b, const char *rec, size_t n)
{
    if (n == 0 || rec[0] != '"') {
        sbuf_add(b, rec, strcspn(rec, ",\r\n") < n ? strcspn(rec, ",\r\n") : n);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        if (rec[i] != '"') sbuf_add(b, rec + i, 1);
        else if (i + 1 < n && rec[i + 1] == '"') sbuf_add(b, "\"", 1), i++;
        else break;
    }
}

/* One whole record of the kept file (its line end included): its key. */
static int take_record(vtag_output *out, const char *rec, size_t n, int64_t number, vtag_error *err)
{
    if (out->o.format == VTAG_OUTPUT_CSV) {
        if (number == 1) {
            if (strcmp(rec, out->header) == 0) return VTAG_OK;
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: its header is not this output's CSV header %.*s",
                             out->partial, (int)strcspn(out->header, "\n"), out->header);
        }
        sbuf b = {0};
        csv_first_field(&b, rec, n);
        int rc = b.bad ? vtag_fail(err, VTAG_ERR_NOMEM, "out of memory") : keep_key(out, b.s ? b.s : "", b.len, err);
        free(b.s);
        return rc;
    }
    json_t *o = json_loadb(rec, n, 0, NULL);
    const json_t *k = json_object_get(o, out->o.key);
    int rc = json_is_string(k) ? keep_key(out, json_string_value(k), json_string_length(k), err)
                               : vtag_fail(err, VTAG_ERR_FORMAT,
                                           "%s: record %lld is not a JSON object with \"%s\" (written with another "
                                           "--format?)", out->partial, (long long)number, out->o.key);
    json_decref(o);
    return rc;
}

/* Reads F.partial's whole records (their keys) and returns in *good the
 * bytes they take: what follows is a torn record, cut off by the caller. */
static int read_kept(vtag_output *out, off_t *good, vtag_error *err)
{
    *good = 0;
    FILE *f = fopen(out->partial, "rb");
    if (!f) return errno == ENOENT ? VTAG_OK : vtag_fail(err, VTAG_ERR_IO, "%s: cannot open: %s", out->partial, strerror(errno));
    vtag_line ln = {0};
    sbuf rec = {0};
    int rc = VTAG_OK, quotes = 0; /* CSV: inside a quoted field when odd */
    int64_t number = 0;
    off_t at = 0;
    while (!(rc = vtag_line_read(&ln, f, out->partial, OUTPUT_RECORD_MAX, err)) && ln.len) {
        at += (off_t)ln.len;
        if (ln.data[ln.len - 1] != '\n') break; /* torn */
        sbuf_add(&rec, ln.data, ln.len);
        for (size_t i = 0; out->o.format == VTAG_OUTPUT_CSV && i < ln.len; i++) quotes ^= ln.data[i] == '"';
        if (rec.bad || rec.len > OUTPUT_RECORD_MAX) {
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: a record is longer than %zu MiB", out->partial,
                           OUTPUT_RECORD_MAX >> 20);
            break;
        }
        if (quotes) continue; /* a quoted line end: the record goes on */
        if ((rc = take_record(out, rec.s, rec.len, ++number, err))) break;
        rec.len = 0;
        *good = at;
    }
    if (!rc && ferror(f)) rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot read: %s", out->partial, strerror(errno));
    vtag_line_free(&ln);
    free(rec.s);
    fclose(f);
    if (!rc && out->n_keys) qsort(out->keys, (size_t)out->n_keys, sizeof *out->keys, by_key);
    return rc;
}

/* ---- writing -------------------------------------------------------------------------------- */

static int put(vtag_output *out, const char *s, size_t n, vtag_error *err)
{
    if (out->broken) return vtag_fail(err, VTAG_ERR_IO, "%s: an earlier write failed", out->partial ? out->partial : "stdout");
    if (out->fd < 0) {
        errno = 0;
        if (fwrite(s, 1, n, out->o.stream) != n || fflush(out->o.stream) != 0) {
            const int e = errno;
            clearerr(out->o.stream); /* reported here, with its reason, and not again at exit */
            out->broken = 1;
            return vtag_fail(err, VTAG_ERR_IO, "stdout: cannot write: %s", e ? strerror(e) : "write error");
        }
        return VTAG_OK;
    }
    while (n) {
        const ssize_t w = write(out->fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            out->broken = 1;
            return vtag_fail(err, VTAG_ERR_IO, "%s: cannot write: %s", out->partial, w < 0 ? strerror(errno) : "no progress");
        }
        s += w, n -= (size_t)w;
    }
    return VTAG_OK;
}

/* A record and its line end, then to the disk: a kill -9 after this keeps it. */
static int put_record(vtag_output *out, const char *rec, vtag_error *err)
{
    const size_t n = strlen(rec);
    char *b = malloc(n + 1);
    if (!b) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a record of %zu bytes", n);
    memcpy(b, rec, n);
    b[n] = '\n';
    int rc = put(out, b, n + 1, err);
    free(b);
    if (!rc && out->fd >= 0 && fsync(out->fd) != 0) {
        out->broken = 1;
        rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot write: %s", out->partial, strerror(errno));
    }
    return rc;
}

static void output_free(vtag_output *out)
{
    if (out->fd >= 0) close(out->fd);
    for (int64_t i = 0; i < out->n_keys; i++) free(out->keys[i].key);
    free(out->keys);
    free(out->header);
    free(out->path);
    free(out->partial);
    free(out);
}

int vtag_output_open(vtag_output **outp, const vtag_output_opts *o, vtag_error *err)
{
    *outp = NULL;
    vtag_output *out = calloc(1, sizeof *out);
    if (!out) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    out->o = *o, out->fd = -1;
    if (o->path && strcmp(o->path, "-") == 0) out->o.path = NULL; /* --output -: the stream */
    o = &out->o;
    int rc = o->path || o->stream ? VTAG_OK : vtag_fail(err, VTAG_ERR_ARG, "an output needs a path or a stream");
    if (!rc && o->format == VTAG_OUTPUT_CSV) {
        const char **names = malloc((size_t)(o->n_columns ? o->n_columns : 1) * sizeof *names);
        for (int i = 0; names && i < o->n_columns; i++) names[i] = o->columns[i].name;
        char *row = NULL;
        rc = names ? vtag_output_csv_row(names, o->n_columns, &row, err) : vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        free(names);
        if (!rc && !(out->header = malloc(strlen(row) + 2))) rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        if (!rc) strcat(strcpy(out->header, row), "\n");
        free(row);
    }
    const size_t n = o->path ? strlen(o->path) : 0;
    if (!rc && o->path && (!(out->path = strdup(o->path)) || !(out->partial = malloc(n + sizeof ".partial"))))
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    off_t good = 0;
    if (!rc && o->path) {
        strcat(strcpy(out->partial, o->path), ".partial");
        struct stat st;
        /* A finished output resumed: it becomes the partial one again (a rename, so a kill keeps it). */
        if (o->resume && stat(out->partial, &st) != 0 && errno == ENOENT && stat(out->path, &st) == 0 &&
            rename(out->path, out->partial) != 0)
            rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot rename to %s: %s", out->path, out->partial, strerror(errno));
        if (!rc && o->resume) rc = read_kept(out, &good, err);
        const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (o->resume ? 0 : O_TRUNC);
        if (!rc && (out->fd = open(out->partial, flags, 0644)) < 0)
            rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot open: %s", out->partial, strerror(errno));
        if (!rc && ftruncate(out->fd, good) != 0) /* the torn record, if any */
            rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot cut its torn last record: %s", out->partial, strerror(errno));
    }
    if (!rc && out->header && good == 0) rc = put(out, out->header, strlen(out->header), err);
    if (!rc && out->fd >= 0 && fsync(out->fd) != 0)
        rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot write: %s", out->partial, strerror(errno));
    if (rc) {
        output_free(out);
        return rc;
    }
    *outp = out;
    return VTAG_OK;
}

int64_t vtag_output_kept(const vtag_output *out) { return out ? out->n_keys : 0; }

int vtag_output_skip(vtag_output *out, const char *key)
{
    if (!out || !out->n_keys) return 0;
    char shown[4096]; /* a name that is not UTF-8 is in its error line escaped (vtag_tag_to_json) */
    if (vtag_utf8_valid_prefix(key, strlen(key)) != strlen(key)) {
        vtag_text_escape(shown, sizeof shown, key);
        key = shown;
    }
    int64_t lo = 0, hi = out->n_keys; /* the first key >= key */
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (strcmp(out->keys[mid].key, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    for (; lo < out->n_keys && strcmp(out->keys[lo].key, key) == 0; lo++)
        if (!out->keys[lo].used) return out->keys[lo].used = 1;
    return 0;
}

int vtag_output_write(vtag_output *out, const char *line, vtag_error *err)
{
    if (out->o.format == VTAG_OUTPUT_JSONL) return put_record(out, line, err);
    char *row = NULL;
    int rc = line_to_row(out, line, &row, err);
    if (!rc) rc = put_record(out, row, err);
    free(row);
    return rc;
}

int vtag_output_write_row(vtag_output *out, const char *const *fields, int n, vtag_error *err)
{
    char *row = NULL;
    int rc = vtag_output_csv_row(fields, n, &row, err);
    if (!rc) rc = put_record(out, row, err);
    free(row);
    return rc;
}

int vtag_output_close(vtag_output **outp, int finish, vtag_error *err)
{
    vtag_output *out = *outp;
    *outp = NULL;
    if (!out) return VTAG_OK;
    int rc = VTAG_OK;
    if (out->fd >= 0) {
        if (close(out->fd) != 0 && !out->broken)
            rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot write: %s", out->partial, strerror(errno));
        out->fd = -1;
        if (!rc && finish && rename(out->partial, out->path) != 0)
            rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot rename to %s: %s", out->partial, out->path, strerror(errno));
        if (!rc && finish) {
            char *slash = strrchr(out->path, '/');
            if (!slash) vtag_fsync_dir(".");
            else if (slash == out->path) vtag_fsync_dir("/");
            else *slash = 0, vtag_fsync_dir(out->path);
        }
    }
    output_free(out);
    return rc;
}
