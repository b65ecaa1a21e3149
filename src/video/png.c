/* RGB24 → PNG through libpng: to a file, written atomically (vtag_atomic_*:
 * a reader never sees half a file), or to memory (the HTML report embeds
 * frames). libpng reports errors by longjmp; nothing else lives across it. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "vtag/video.h"

/* Everything the setjmp/longjmp section touches lives here, so no local
 * variable is modified between setjmp and a longjmp. */
typedef struct png_job {
    FILE *fp;             /* the file, or NULL: into mem */
    uint8_t *mem;         /* (mem_cap) malloc'd, grown by on_write */
    size_t mem_len, mem_cap;
    int mem_failed;
    int write_errno;      /* errno of the write to fp that failed, taken when it failed */
    const uint8_t *rgb;
    int64_t width, height;
    char msg[200];
} png_job;

static void on_write(png_structp png, png_bytep data, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (job->mem_len + n > job->mem_cap) {
        size_t cap = job->mem_cap ? job->mem_cap : 4096;
        while (cap < job->mem_len + n) cap *= 2;
        uint8_t *m = realloc(job->mem, cap);
        if (!m) {
            job->mem_failed = 1;
            png_error(png, "out of memory");
        }
        job->mem = m;
        job->mem_cap = cap;
    }
    memcpy(job->mem + job->mem_len, data, n);
    job->mem_len += n;
}

/* libpng's own file writer says only "Write Error": keep the reason. */
static void on_write_file(png_structp png, png_bytep data, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    errno = 0;
    if (fwrite(data, 1, n, job->fp) != n) {
        job->write_errno = errno ? errno : EIO;
        png_error(png, "write failed");
    }
}

static void on_flush(png_structp png) { (void)png; }

static void on_error(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    snprintf(job->msg, sizeof job->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* the library does not print */
}

/* 0 on success; job->msg says why not. */
static int encode(png_job *job)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
    if (!png) {
        snprintf(job->msg, sizeof job->msg, "out of memory");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(job->msg, sizeof job->msg, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    if (job->fp) png_set_write_fn(png, job, on_write_file, on_flush);
    else png_set_write_fn(png, job, on_write, on_flush);
    /* Frames are small and rewritten often: fast deflate is the better trade. */
    png_set_compression_level(png, 3);
    png_set_IHDR(png, info, (png_uint_32)job->width, (png_uint_32)job->height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int64_t y = 0; y < job->height; y++) png_write_row(png, job->rgb + y * job->width * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int vtag_video_write_png(const char *path, const uint8_t *rgb, int64_t width, int64_t height, vtag_error *err)
{
    if (width <= 0 || height <= 0 || width > 1 << 24 || height > 1 << 24)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: bad PNG size %lldx%lld", path, (long long)width,
                         (long long)height);
    vtag_atomic a;
    int rc = vtag_atomic_open(&a, path, err);
    if (rc) return rc;
    png_job job = {.fp = a.f, .rgb = rgb, .width = width, .height = height};
    /* errno is taken where a call fails: fflush overwrites it (a PNG that fits in the stdio
     * buffer fails only at the flush, which the commit reports with its own errno) */
    if (encode(&job)) {
        int e = job.write_errno;
        rc = vtag_fail(err, VTAG_ERR_IO, "%s: write failed: %s", path, e ? strerror(e) : job.msg);
        vtag_atomic_abort(&a);
        return rc;
    }
    return vtag_atomic_commit(&a, err);
}

int vtag_video_encode_png(const uint8_t *rgb, int64_t width, int64_t height, uint8_t **png, size_t *len,
                          vtag_error *err)
{
    *png = NULL;
    *len = 0;
    if (width <= 0 || height <= 0 || width > 1 << 24 || height > 1 << 24)
        return vtag_fail(err, VTAG_ERR_ARG, "bad PNG size %lldx%lld", (long long)width, (long long)height);
    png_job job = {.rgb = rgb, .width = width, .height = height};
    if (encode(&job)) {
        free(job.mem);
        return vtag_fail(err, job.mem_failed ? VTAG_ERR_NOMEM : VTAG_ERR_ARG, "PNG encoding failed: %s", job.msg);
    }
    *png = job.mem;
    *len = job.mem_len;
    return VTAG_OK;
}
