/* CSV labels (RFC 4180 through libcsv, strict quoting): a header naming the
 * columns video, class1, class2, tags and optionally split, in any order;
 * tags separated by '|'. Rows are tracked to the line where they start, even
 * when a quoted field spans lines. */
#include <csv.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

enum { COL_VIDEO, COL_CLASS1, COL_CLASS2, COL_TAGS, COL_SPLIT, N_COLS };
static const char *const COLUMNS[N_COLS] = {"video", "class1", "class2", "tags", "split"};

typedef struct csv_state {
    data_loader *ld;
    int rc;              /* first error; later callbacks do nothing */
    /* the fields of the current row, NUL-terminated, back to back */
    char *chars;
    size_t chars_len, chars_cap;
    size_t *offs, *lens;
    int64_t n_fields, fields_cap;
    int64_t newlines;    /* quoted line breaks inside the current row */
    size_t row_bytes;    /* bytes fed to libcsv since the current row began */
    int64_t next_line;   /* where the next row starts */
    int64_t row_line;    /* where the row being handled started */
    int header_done;
    int col[N_COLS];     /* field index of each column, -1 if absent */
    int64_t n_cols;
    /* tags of the current row */
    const char **tags;
    size_t *tag_lens;
    int64_t tags_cap;
} csv_state;

static int st_nomem(csv_state *st)
{
    return st->rc = vtag_fail(st->ld->err, VTAG_ERR_NOMEM, "%s: out of memory", st->ld->labels->path);
}

static void on_field(void *s, size_t len, void *data)
{
    csv_state *st = data;
    if (st->rc) return;
    if (st->n_fields == st->fields_cap) {
        int64_t cap = st->fields_cap ? 2 * st->fields_cap : 16;
        size_t *offs = realloc(st->offs, (size_t)cap * sizeof *offs);
        if (offs) st->offs = offs;
        size_t *lens = realloc(st->lens, (size_t)cap * sizeof *lens);
        if (lens) st->lens = lens;
        if (!offs || !lens) {
            st_nomem(st);
            return;
        }
        st->fields_cap = cap;
    }
    if (st->chars_len + len + 1 > st->chars_cap) {
        size_t cap = st->chars_cap ? st->chars_cap : 1024;
        while (cap < st->chars_len + len + 1) cap *= 2;
        char *chars = realloc(st->chars, cap);
        if (!chars) {
            st_nomem(st);
            return;
        }
        st->chars = chars;
        st->chars_cap = cap;
    }
    if (len) memcpy(st->chars + st->chars_len, s, len);
    st->chars[st->chars_len + len] = '\0';
    for (size_t i = 0; i < len; i++) st->newlines += ((const char *)s)[i] == '\n';
    st->offs[st->n_fields] = st->chars_len;
    st->lens[st->n_fields] = len;
    st->n_fields++;
    st->chars_len += len + 1;
}

static int parse_header(csv_state *st)
{
    data_loader *ld = st->ld;
    for (int c = 0; c < N_COLS; c++) st->col[c] = -1;
    for (int64_t i = 0; i < st->n_fields; i++) {
        const char *name = st->chars + st->offs[i];
        int c = 0;
        while (c < N_COLS && strcmp(name, COLUMNS[c]) != 0) c++;
        if (c == N_COLS)
            return data_loader_fail(ld, st->row_line, VTAG_ERR_FORMAT,
                                    "unknown column \"%.64s\" (expected video,class1,class2,tags[,split])", name);
        if (st->col[c] >= 0)
            return data_loader_fail(ld, st->row_line, VTAG_ERR_FORMAT, "column \"%s\" appears twice", name);
        st->col[c] = (int)i;
    }
    for (int c = 0; c < COL_SPLIT; c++)
        if (st->col[c] < 0)
            return data_loader_fail(ld, st->row_line, VTAG_ERR_FORMAT,
                                    "missing column \"%s\" in the header (expected video,class1,class2,tags[,split])",
                                    COLUMNS[c]);
    st->n_cols = st->n_fields;
    st->header_done = 1;
    return VTAG_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Splits the tags field in place at '|', trimming spaces around each tag.
 * An empty field means no tags; an empty tag between separators is an
 * error (reported by data_loader_add). */
static int split_tags(csv_state *st, char *s, size_t len)
{
    int64_t n = 0;
    size_t i = 0;
    while (i < len && is_space(s[i])) i++;
    if (i == len) return 0; /* no tags */
    for (;;) {
        size_t start = i, end = i;
        while (end < len && s[end] != '|') end++;
        size_t next = end;
        while (start < end && is_space(s[start])) start++;
        while (end > start && is_space(s[end - 1])) end--;
        if (n == st->tags_cap) {
            int64_t cap = st->tags_cap ? 2 * st->tags_cap : 16;
            const char **tags = realloc(st->tags, (size_t)cap * sizeof *tags);
            if (tags) st->tags = tags;
            size_t *lens = realloc(st->tag_lens, (size_t)cap * sizeof *lens);
            if (lens) st->tag_lens = lens;
            if (!tags || !lens) return -1;
            st->tags_cap = cap;
        }
        st->tags[n] = s + start;
        st->tag_lens[n] = end - start;
        n++;
        if (next == len) break;
        s[end] = '\0';
        i = next + 1;
    }
    return (int)(n > INT32_MAX ? -1 : n);
}

static int handle_row(csv_state *st)
{
    data_loader *ld = st->ld;
    if (!st->header_done) return parse_header(st);
    if (st->n_fields != st->n_cols)
        return data_loader_fail(ld, st->row_line, VTAG_ERR_FORMAT, "expected %lld fields, got %lld",
                                (long long)st->n_cols, (long long)st->n_fields);
    data_record r;
    memset(&r, 0, sizeof r);
#define FIELD(c) (st->chars + st->offs[st->col[c]])
#define FLEN(c) (st->lens[st->col[c]])
    r.video = FIELD(COL_VIDEO), r.video_len = FLEN(COL_VIDEO);
    r.class1 = FIELD(COL_CLASS1), r.class1_len = FLEN(COL_CLASS1);
    r.class2 = FIELD(COL_CLASS2), r.class2_len = FLEN(COL_CLASS2);
    if (st->col[COL_SPLIT] >= 0 && FLEN(COL_SPLIT) > 0) r.split = FIELD(COL_SPLIT), r.split_len = FLEN(COL_SPLIT);
    int n = split_tags(st, FIELD(COL_TAGS), FLEN(COL_TAGS));
#undef FIELD
#undef FLEN
    if (n < 0) return st_nomem(st);
    r.tags = st->tags;
    r.tag_lens = st->tag_lens;
    r.n_tags = n;
    return data_loader_add(ld, &r, st->row_line);
}

static void on_row(int c, void *data)
{
    (void)c;
    csv_state *st = data;
    if (st->rc) return;
    st->row_line = st->next_line;
    st->next_line += 1 + st->newlines;
    /* A blank line is reported as a row without fields: skip it. */
    if (st->n_fields > 0) st->rc = handle_row(st);
    st->n_fields = 0;
    st->chars_len = 0;
    st->newlines = 0;
    st->row_bytes = 0;
}

/* Only '\n' ends a row: then every unquoted '\n' reports one row (blank lines
 * too, with CSV_REPALL_NL), which keeps line numbers exact; '\r' of CRLF files
 * is trimmed as trailing white space. */
static int csv_is_term(unsigned char c) { return c == '\n'; }
static int csv_is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r'; }

_Static_assert(VTAG_LINE_MAX == (size_t)1 << 20, "the row-length message says 1 MiB");

int data_labels_parse_csv(data_loader *ld, FILE *f)
{
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0)
        return vtag_fail(ld->err, VTAG_ERR_NOMEM, "%s: out of memory", ld->labels->path);
    /* libcsv grows a field by blk_size bytes at a time (128 by default):
     * 64 KiB keeps a field of up to the 1 MiB row cap to a few reallocs */
    csv_set_blk_size(&p, (size_t)64 << 10);
    csv_set_term_func(&p, csv_is_term);
    csv_set_space_func(&p, csv_is_space);
    csv_state st;
    memset(&st, 0, sizeof st);
    st.ld = ld;
    st.next_line = 1;
    vtag_line ln = {0};
    int got = 0;
    while (!st.rc && (got = data_loader_next_line(ld, f, &ln)) > 0) {
        /* A quoted field may span lines: libcsv holds the whole row, so the
         * row gets the cap of a line (on_row starts the count again). */
        st.row_bytes += ln.len;
        if (st.row_bytes > VTAG_LINE_MAX + 1) {
            st.rc = data_loader_fail(ld, st.next_line, VTAG_ERR_FORMAT,
                                     "the row starting here is longer than 1 MiB (a quoted field left open?)");
            break;
        }
        if (csv_parse(&p, ln.data, ln.len, on_field, on_row, &st) != ln.len && !st.rc) {
            if (csv_error(&p) == CSV_EPARSE)
                st.rc = data_loader_fail(ld, ln.number, VTAG_ERR_FORMAT,
                                         "malformed CSV: a quote inside an unquoted field or after a closing quote");
            else
                st.rc = vtag_fail(ld->err, VTAG_ERR_NOMEM, "%s: %s", ld->labels->path, csv_strerror(csv_error(&p)));
        }
    }
    if (!st.rc && got < 0) st.rc = -got;
    if (!st.rc) {
        int64_t start = st.next_line;
        if (csv_fini(&p, on_field, on_row, &st) != 0 && !st.rc)
            st.rc = data_loader_fail(ld, start, VTAG_ERR_FORMAT, "unterminated quoted field");
    }
    if (!st.rc && !st.header_done)
        st.rc = vtag_fail(ld->err, VTAG_ERR_FORMAT, "%s: no header line (expected video,class1,class2,tags[,split])",
                          ld->labels->path);
    csv_free(&p);
    vtag_line_free(&ln);
    free(st.chars);
    free(st.offs);
    free(st.lens);
    free(st.tags);
    free(st.tag_lens);
    return st.rc;
}
