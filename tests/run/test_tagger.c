/* vtag_tagger_tag on a real small video (made with the synth library) and
 * small random models saved by the test: the same result as vtag_tagger_run
 * followed by the aggregation; an undecodable or missing file is an error
 * naming it; a feature size mismatch is refused with its message; and in a
 * run folder where XE beat SCST on validation, the tagger loads
 * <model>-xe.safetensors (the one change of behaviour), the SCST file
 * when SCST won. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vtag/builtin.h"
#include "vtag/caption.h"
#include "vtag/synth.h"
#include "vtag/tag.h"
#include "vtag/tagger.h"

static const char VOCAB[] = "[\"red\",\"green\",\"blue\",\"shirt\",\"UNK\"]";
static char dir[] = "/tmp/vtag-test-tagger-XXXXXX";


/* A built-in backbone of 16 px, 2 stages of 4 and 8 channels: fc 8, att 8. */
static int make_backbone(const char *path, vtag_error *err)
{
    vtag_builtin_config cfg;
    vtag_builtin_config_default(&cfg);
    cfg.size = 16, cfg.n_stages = 2;
    cfg.widths[0] = 4, cfg.widths[1] = 8;
    cfg.blocks[0] = 1, cfg.blocks[1] = 1;
    cfg.n_labels = 3;
    vtag_builtin m;
    int rc = vtag_builtin_init(&m, &cfg, NULL, err);
    if (rc) return rc;
    vtag_rng rng;
    vtag_rng_seed(&rng, 7);
    vtag_builtin_init_weights(&m, &rng);
    rc = vtag_builtin_save(&m, path, err);
    vtag_builtin_free(&m);
    return rc;
}

/* A topdown model with random weights drawn from seed; fc of fc_dim features. */
static int make_checkpoint(const char *path, uint64_t seed, int64_t fc_dim, vtag_error *err)
{
    vtag_model_config cfg;
    vtag_model_config_defaults(&cfg);
    cfg.type = VTAG_MODEL_TOPDOWN;
    cfg.vocab_size = 5, cfg.input_encoding_size = 6, cfg.rnn_size = 8, cfg.att_hid_size = 4;
    cfg.fc_feat_size = fc_dim, cfg.att_feat_size = 8, cfg.max_length = 4;
    vtag_model m;
    int rc = vtag_model_init(&m, &cfg, err);
    if (rc) return rc;
    vtag_rng rng;
    vtag_rng_seed(&rng, seed);
    vtag_model_init_weights(&m, &rng);
    /* the labels favoured over EOS (id 0), so that captions are not empty */
    int b = vtag_params_find(&m.params, "logit.bias");
    if (b >= 0)
        for (int64_t i = 1; i < m.params.items[b].numel; i++) m.params.value[m.params.items[b].offset + i] += 2.0f;
    rc = vtag_checkpoint_save(&m, VOCAB, path, err);
    vtag_model_free(&m);
    return rc;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int bad = fputs(text, f) < 0;
    return fclose(f) || bad ? -1 : 0;
}

static char *json_of(const vtag_tag_result *r)
{
    vtag_error err = {0};
    char *line = NULL;
    if (vtag_tag_to_json(r, &line, &err)) fprintf(stderr, "to_json: %s\n", err.msg);
    return line;
}

/* vtag_tagger_tag against vtag_tagger_run + vtag_tag_aggregate_ids spelled out. */
static void test_tag_equals_run(vtag_ctx *ctx, const char *video)
{
    vtag_tagger_options o;
    vtag_tagger_options_default(&o);
    vtag_video_sampler s;
    vtag_video_sampler_default(&s);
    vtag_error err = {0};
    CHECK(vtag_video_sampler_parse(&s, "uniform:4", &err) == 0, "sampler: %s", err.msg);
    o.sampler = &s;
    o.checkpoint = "scst.safetensors";
    o.backbone = "backbone.safetensors";
    vtag_tagger_t *t = NULL;
    if (vtag_tagger_open(&t, ctx, &o, &err)) {
        CHECK(0, "open: %s", err.msg);
        return;
    }
    vtag_tag_opts topt;
    vtag_tag_opts_default(&topt);
    topt.top_n = 3;
    vtag_tag_result got = {0}, want = {0};
    vtag_tagger_stats st;
    memset(&st, 0xff, sizeof st);
    CHECK(vtag_tagger_tag(t, ctx, video, &topt, &got, &st, &err) == 0, "tag: %s", err.msg);
    CHECK(got.n_frames == 4 && st.n_frames == 4, "4 frames sampled: result %lld, stats %lld",
          (long long)got.n_frames, (long long)st.n_frames);
    CHECK(got.video && strcmp(got.video, video) == 0, "result names the video");
    CHECK(st.seconds_decode >= 0 && st.seconds_backbone >= 0 && st.seconds_caption >= 0 &&
              st.damaged_packets == 0, "stats filled: %g %g %g, damaged %lld", st.seconds_decode,
          st.seconds_backbone, st.seconds_caption, (long long)st.damaged_packets);
    CHECK(got.n_labels > 0 && got.n_tags > 0 && got.n_tags <= 3, "labels %lld, tags %lld (top 3)",
          (long long)got.n_labels, (long long)got.n_tags);

    vtag_tagger_result r = {0};
    CHECK(vtag_tagger_run(t, ctx, video, &r, &err) == 0, "run: %s", err.msg);
    vtag_tag_frame_ids fr[16];
    for (int64_t i = 0; i < r.n_frames && i < 16; i++)
        fr[i] = (vtag_tag_frame_ids){r.pts_seconds[i], r.seq + i * r.max_length, r.len[i]};
    CHECK(vtag_tag_aggregate_ids(&want, video, fr, r.n_frames < 16 ? r.n_frames : 16, vtag_tagger_tokens(t),
                                 vtag_tagger_vocab_size(t), &topt, &err) == 0, "aggregate: %s", err.msg);
    CHECK(vtag_tag_apply_scores(&want, r.scores, vtag_tagger_tokens(t), vtag_tagger_vocab_size(t), &topt, &err) == 0,
          "apply scores: %s", err.msg);
    CHECK(vtag_tag_result_set_source(&want, vtag_tagger_model_path(t), vtag_tagger_backbone_path(t), &err) == 0,
          "source: %s", err.msg);
    if (r.novelty >= 0) vtag_tag_set_novelty(&want, r.novelty);
    want.damaged_packets = r.damaged_packets; /* the reader's count, which the tag line carries */
    char *a = json_of(&got), *b = json_of(&want);
    CHECK(a && b && strcmp(a, b) == 0, "vtag_tagger_tag = run + aggregate + scores:\n  %s\n  %s", a ? a : "?",
          b ? b : "?");
    free(a);
    free(b);
    vtag_tag_result_free(&want);
    vtag_tagger_result_free(&r);
    vtag_tag_result_free(&got);

    /* NULL opts: the defaults (at most 10 tags scoring >= 0.25); NULL stats allowed */
    CHECK(vtag_tagger_tag(t, ctx, video, NULL, &got, NULL, &err) == 0, "tag, default opts: %s", err.msg);
    int64_t want_tags = 0;
    for (int64_t i = 0; i < got.n_labels && want_tags < VTAG_TAG_TOP_N_DEFAULT; i++)
        want_tags += got.labels[i].score >= VTAG_TAG_MIN_SCORE_DEFAULT;
    CHECK(got.n_tags == (got.unknown ? 0 : want_tags), "defaults: %lld tags of %lld labels (unknown %d)",
          (long long)got.n_tags, (long long)got.n_labels, got.unknown);
    vtag_tag_result_free(&got);

    /* an undecodable file and a missing one: errors naming them, the result zeroed */
    const char *bad = "bad.mp4", *missing = "missing.mp4";
    CHECK(write_text(bad, "not a video at all\n") == 0, "write %s", bad);
    memset(&got, 0xff, sizeof got);
    err.msg[0] = 0;
    CHECK(vtag_tagger_tag(t, ctx, bad, NULL, &got, &st, &err) != 0, "an undecodable file fails");
    CHECK(strstr(err.msg, bad) != NULL, "the error names the file: %s", err.msg);
    CHECK(got.video == NULL && got.n_frames == 0 && got.storage == NULL, "failed: the result is zeroed");
    CHECK(st.n_frames == 0, "failed: no frames in the stats");
    err.msg[0] = 0;
    CHECK(vtag_tagger_tag(t, ctx, missing, NULL, &got, NULL, &err) != 0, "a missing file fails");
    CHECK(strstr(err.msg, missing) != NULL, "the error names the file: %s", err.msg);
    /* the tagger goes on after a failure */
    CHECK(vtag_tagger_tag(t, ctx, video, &topt, &got, NULL, &err) == 0, "tag after a failure: %s", err.msg);
    CHECK(got.n_frames == 4, "tag after a failure: 4 frames");
    vtag_tag_result_free(&got);
    vtag_tagger_close(&t);
    CHECK(t == NULL, "close NULLs the handle");
}

/* The model does not take the backbone's features: the message tests and
 * users know, naming both files. */
static void test_feature_mismatch(vtag_ctx *ctx)
{
    vtag_error err = {0};
    CHECK(make_checkpoint("fc7.safetensors", 3, 7, &err) == 0, "save: %s", err.msg);
    vtag_tagger_options o;
    vtag_tagger_options_default(&o);
    o.checkpoint = "fc7.safetensors";
    o.backbone = "backbone.safetensors";
    vtag_tagger_t *t = NULL;
    CHECK(vtag_tagger_open(&t, ctx, &o, &err) == VTAG_ERR_FORMAT && t == NULL, "fc 7 against 8 refused");
    char want[2048];
    snprintf(want, sizeof want, "%s: the model expects fc of 7 features, the backbone %s gives 8", o.checkpoint,
             o.backbone);
    CHECK(strcmp(err.msg, want) == 0, "message:\n  %s\nwant\n  %s", err.msg, want);
}

/* Loads path's parameters; 1 when they equal the tagger's, bit for bit. */
static int same_weights(const vtag_tagger_t *t, const char *path)
{
    vtag_model m;
    char *vj = NULL;
    vtag_error err = {0};
    if (vtag_checkpoint_load(&m, &vj, path, &err)) {
        fprintf(stderr, "load %s: %s\n", path, err.msg);
        return 0;
    }
    const vtag_model *tm = vtag_tagger_model(t);
    int same = m.params.total == tm->params.total &&
               memcmp(m.params.value, tm->params.value, (size_t)m.params.total * sizeof(float)) == 0;
    free(vj);
    vtag_model_free(&m);
    return same;
}

/* A run folder: pipeline.json with a summary, the built-in backbone, and
 * topdown's two checkpoints (different weights). */
static void test_run_folder(vtag_ctx *ctx, const char *video)
{
    static const char *const manifest =
        "{\"backbone\": \"built-in\", \"sample\": \"uniform:4\", \"size\": 0, \"summary\": "
        "{\"topdown\": {\"val_cider_d_scst\": %s, \"val_cider_d_xe\": %s}}}\n";
    static const struct {
        const char *scst, *xe, *model, *want;
    } cases[] = {
        {"0.41", "0.58", NULL, "topdown-xe.safetensors"},      /* XE beat SCST: the XE checkpoint */
        {"0.41", "0.58", "topdown", "topdown-xe.safetensors"}, /* the model named, the same choice */
        {"0.62", "0.58", NULL, "topdown.safetensors"},         /* SCST won */
        {"0.5", "0.5", NULL, "topdown.safetensors"},           /* a tie: SCST */
    };
    vtag_error err = {0};
    char text[512];
    CHECK(make_checkpoint("run/topdown.safetensors", 11, 8, &err) == 0, "save: %s", err.msg);
    CHECK(make_checkpoint("run/topdown-xe.safetensors", 12, 8, &err) == 0, "save: %s", err.msg);
    CHECK(make_backbone("run/backbone.safetensors", &err) == 0, "backbone: %s", err.msg);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(text, sizeof text, manifest, cases[c].scst, cases[c].xe);
        CHECK(write_text("run/pipeline.json", text) == 0, "write pipeline.json");
        vtag_tagger_options o;
        vtag_tagger_options_default(&o);
        o.dir = "run";
        o.model = cases[c].model;
        vtag_tagger_t *t = NULL;
        if (vtag_tagger_open(&t, ctx, &o, &err)) {
            CHECK(0, "case %zu: open: %s", c, err.msg);
            continue;
        }
        const char *mp = vtag_tagger_model_path(t);
        char rel[64];
        snprintf(rel, sizeof rel, "run/%s", cases[c].want);
        const char *other = c < 2 ? "run/topdown.safetensors" : "run/topdown-xe.safetensors";
        CHECK(mp && strcmp(mp, rel) == 0, "case %zu (scst %s, xe %s): opened %s, want %s", c, cases[c].scst,
              cases[c].xe, mp ? mp : "(null)", rel);
        CHECK(same_weights(t, rel) && !same_weights(t, other), "case %zu: the weights loaded are %s's", c,
              cases[c].want);
        CHECK(strcmp(vtag_tagger_backbone_path(t), "run/backbone.safetensors") == 0, "built-in backbone: %s",
              vtag_tagger_backbone_path(t));
        if (c == 0) {
            /* tagging from the folder = tagging with the XE checkpoint named */
            vtag_tag_result a = {0}, b = {0};
            CHECK(vtag_tagger_tag(t, ctx, video, NULL, &a, NULL, &err) == 0, "tag --from: %s", err.msg);
            vtag_tagger_options o2;
            vtag_tagger_options_default(&o2);
            o2.checkpoint = "run/topdown-xe.safetensors";
            o2.backbone = "run/backbone.safetensors";
            vtag_video_sampler s;
            vtag_video_sampler_default(&s);
            CHECK(vtag_video_sampler_parse(&s, "uniform:4", &err) == 0, "sampler: %s", err.msg);
            o2.sampler = &s;
            vtag_tagger_t *t2 = NULL;
            CHECK(vtag_tagger_open(&t2, ctx, &o2, &err) == 0, "open xe: %s", err.msg);
            if (t2) CHECK(vtag_tagger_tag(t2, ctx, video, NULL, &b, NULL, &err) == 0, "tag xe: %s", err.msg);
            char *ja = json_of(&a), *jb = json_of(&b);
            CHECK(ja && jb && strcmp(ja, jb) == 0, "--from tags as the XE checkpoint does:\n  %s\n  %s",
                  ja ? ja : "?", jb ? jb : "?");
            free(ja);
            free(jb);
            vtag_tag_result_free(&a);
            vtag_tag_result_free(&b);
            vtag_tagger_close(&t2);
        }
        vtag_tagger_close(&t);
    }
    /* only the XE file left (SCST skipped): it is used whatever the summary says */
    CHECK(unlink("run/topdown.safetensors") == 0, "remove the SCST checkpoint");
    vtag_tagger_options o;
    vtag_tagger_options_default(&o);
    o.dir = "run";
    vtag_tagger_t *t = NULL;
    CHECK(vtag_tagger_open(&t, ctx, &o, &err) == 0, "open without SCST: %s", err.msg);
    CHECK(t && strcmp(vtag_tagger_model_path(t), "run/topdown-xe.safetensors") == 0, "without SCST: the XE checkpoint");
    vtag_tagger_close(&t);
    /* a model the folder does not have */
    o.model = "fc";
    CHECK(vtag_tagger_open(&t, ctx, &o, &err) == VTAG_ERR_NOTFOUND && !t, "no fc model: refused");
    CHECK(strstr(err.msg, "no trained fc model") != NULL, "message: %s", err.msg);
    unlink("run/topdown-xe.safetensors");
    unlink("run/backbone.safetensors");
    unlink("run/pipeline.json");
}

int main(void)
{
    /* everything in a private folder, by relative names */
    if (!mkdtemp(dir) || chdir(dir) || mkdir("run", 0700)) {
        perror(dir);
        return 1;
    }
    vtag_error err = {0};

    /* the video: synth video 0, cut to 12 frames */
    vtag_synth_video v;
    vtag_synth_plan(1, 0, &v);
    v.frames = 12;
    vtag_synth_source *src = NULL;
    CHECK(vtag_synth_source_open_shapes(&src, &err) == 0, "shapes: %s", err.msg);
    const char *video = "v.mp4";
    CHECK(vtag_synth_write_video(video, &v, src, VTAG_SYNTH_CODEC_AUTO, NULL, NULL, &err) == 0, "video: %s", err.msg);
    vtag_synth_source_close(&src);
    CHECK(make_backbone("backbone.safetensors", &err) == 0, "backbone: %s", err.msg);
    CHECK(make_checkpoint("scst.safetensors", 5, 8, &err) == 0, "checkpoint: %s", err.msg);

    vtag_ctx ctx;
    CHECK(vtag_ctx_init(&ctx, 2, 42, &err) == 0, "ctx: %s", err.msg);
    test_tag_equals_run(&ctx, video);
    test_feature_mismatch(&ctx);
    test_run_folder(&ctx, video);
    vtag_ctx_free(&ctx);

    const char *files[] = {"v.mp4", "bad.mp4", "backbone.safetensors", "scst.safetensors", "fc7.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(files[i]);
    rmdir("run");
    if (chdir("/") == 0) rmdir(dir);
    return check_summary("run/tagger");
}
