/* Fuzz target: labels files (src/data/labels*.c), JSON Lines or CSV as
 * FUZZ_LABELS_FORMAT says (one executable each), and what vtag train builds
 * from a file it accepts: captions, the vocabulary and its vtag.vocab JSON,
 * which must read back as the same tokens. */
#include <string.h>

#include "fuzz.h"
#include "vtag/data.h"

#if FUZZ_LABELS_FORMAT == 1
#define SUFFIX ".jsonl"
#define FORMAT VTAG_DATA_FORMAT_JSONL
#else
#define SUFFIX ".csv"
#define FORMAT VTAG_DATA_FORMAT_CSV
#endif

/* A file the reader accepted must give a vocabulary that survives its
 * checkpoint form; anything else is a bug, reported by aborting. */
static void check_vocab_roundtrip(const vtag_data_vocab *v)
{
    vtag_error err = {0};
    char *json = NULL;
    if (vtag_data_encode_vocab(v, &json, &err)) {
        if (err.code == VTAG_ERR_NOMEM) return;
        fprintf(stderr, "fuzz_labels: an accepted labels file gives a vocabulary that cannot be saved: %s\n", err.msg);
        abort();
    }
    vtag_data_vocab back;
    if (vtag_data_decode_vocab(&back, json, "vtag.vocab", &err)) {
        fprintf(stderr, "fuzz_labels: the saved vocabulary does not read back: %s\n", err.msg);
        abort();
    }
    int same = back.size == v->size && back.unk == v->unk;
    for (int64_t id = 1; same && id <= v->size; id++) same = strcmp(back.tokens[id], v->tokens[id]) == 0;
    if (!same) {
        fprintf(stderr, "fuzz_labels: the saved vocabulary reads back different\n");
        abort();
    }
    vtag_data_free_vocab(&back);
    free(json);
}

static void exercise(const vtag_data_labels *l)
{
    /* every entry is found by its own id (the reader refuses repeated ids) */
    for (int64_t i = 0; i < l->count; i++) (void)vtag_data_find_video(l, l->entries[i].video);
    for (int64_t i = 0; i < l->n_names; i++) (void)vtag_data_find_name(l, l->names[i]);
    vtag_error err = {0};
    vtag_data_caption_opts o;
    vtag_data_caption_opts_default(&o);
    o.count_threshold = 1; /* rare tokens make UNK appear */
    vtag_data_captions c;
    memset(&c, 0, sizeof c);
    if (vtag_data_make_captions(&c, l, &o, &err)) return;
    vtag_data_vocab v;
    if (!vtag_data_build_vocab(&v, l, &c, &o, &err)) {
        check_vocab_roundtrip(&v);
        int32_t ids[64];
        for (int64_t i = 0; i < l->count; i++) {
            const char *tokens[64];
            int64_t n = 0;
            for (int64_t j = c.start[i]; j < c.start[i + 1] && n < 64; j++) tokens[n++] = l->names[c.names[j]];
            (void)vtag_data_encode_caption(&v, tokens, n, 16, ids);
        }
        vtag_data_free_vocab(&v);
    }
    vtag_data_free_captions(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4096];
    fuzz_path(path, sizeof path, SUFFIX);
    fuzz_write(path, data, size);
    vtag_data_labels_opts o;
    vtag_data_labels_opts_default(&o);
    o.format = FORMAT;
    vtag_data_labels l;
    vtag_error err = {0};
    if (!vtag_data_read_labels(&l, path, &o, &err)) {
        exercise(&l);
        vtag_data_free_labels(&l);
    }
    unlink(path);
    return 0;
}
