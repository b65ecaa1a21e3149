/* vtag core: errors, the execution context (threads, RNG, arena), tensors,
 * GEMM and the parameter store. Every other module builds on this header. */
#ifndef VTAG_CORE_H
#define VTAG_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VTAG_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------
 * Library functions return a status (0 = ok) and, on failure, fill a
 * vtag_error with a one-line message the caller can print. The library
 * never exits. */
typedef enum vtag_status {
    VTAG_OK = 0,
    VTAG_ERR_ARG = 1,      /* invalid argument or shape */
    VTAG_ERR_NOMEM = 2,    /* allocation failed */
    VTAG_ERR_IO = 3,       /* open/read/write/rename failed */
    VTAG_ERR_FORMAT = 4,   /* malformed file contents */
    VTAG_ERR_NOTFOUND = 5, /* a named item is missing */
    VTAG_ERR_UNSUPPORTED = 6,
    VTAG_ERR_DIVERGED = 7, /* training gave a loss or gradient that is nan or inf */
} vtag_status;

typedef struct vtag_error {
    int code;
    char msg[512];
} vtag_error;

/* Sets err (if non-NULL) and returns code, so callers can `return vtag_fail(...)`. */
int vtag_fail(vtag_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *vtag_status_name(int code);

/* ---- checked size arithmetic -------------------------------------------
 * Every size computed from an input (a file's shape, a config, an option)
 * goes through these: each returns 0 and stores the result, or returns 1
 * on overflow (or a negative operand for the int64 forms) and stores 0. */
static inline int vtag_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, out)) return *out = 0, 1;
    return 0;
}
static inline int vtag_add_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0 || __builtin_add_overflow(a, b, out)) return *out = 0, 1;
    return 0;
}
static inline int vtag_mul_size(size_t a, size_t b, size_t *out)
{
    if (__builtin_mul_overflow(a, b, out)) return *out = 0, 1;
    return 0;
}
/* The element count of a shape (1 for ndim 0); 1 on overflow or a negative dim. */
static inline int vtag_shape_numel(const int64_t *shape, int ndim, int64_t *out)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        if (vtag_mul_i64(n, shape[d], &n)) return *out = 0, 1;
    return *out = n, 0;
}

/* ---- text from inputs (error.c, utf8.c) -----------------------------------
 * Messages quote file names and fields read from files. vtag_fail and the
 * CLI's printers pass every message through vtag_text_escape, so no input
 * can move the cursor, recolour or clear a terminal, or add a line. */

/* Length of the longest valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF) prefix of s[0..len). */
size_t vtag_utf8_valid_prefix(const char *s, size_t len);
/* Copies the string src into dst (cap >= 1 bytes, always NUL-terminated)
 * with \n, \r, \t written as those two characters, other control bytes
 * (< 0x20, 0x7f) and bytes that are not valid UTF-8 as \xNN, and the C1
 * controls, line/paragraph separators and bidirectional overrides as \uNNNN;
 * the rest of valid UTF-8 is kept. Escaping twice changes nothing. Cuts at a
 * whole character or escape when dst is too short. Returns strlen(dst). */
size_t vtag_text_escape(char *dst, size_t cap, const char *src);

/* ---- input files (input.c) --------------------------------------------------
 * Every file vtag reads is opened through these: anything but a regular file
 * (a FIFO, a device, a socket, a directory) is refused with "FILE: not a regular
 * file (a FIFO)" rather than blocking in open() or reading without end. */

/* open(2) of a regular file for reading, without blocking on a FIFO. */
int vtag_file_open_fd(int *fd, const char *path, vtag_error *err);
/* The same as a stdio stream ("rb"). */
int vtag_file_open(FILE **f, const char *path, vtag_error *err);
/* Only the check, for readers that open the file themselves (FFmpeg). */
int vtag_file_check_regular(const char *path, vtag_error *err);

/* The longest line (without its '\n') any line-oriented input may have; a
 * real labels, score, tag or log line is a few KiB. */
#define VTAG_LINE_MAX ((size_t)1 << 20)

/* A line buffer reused from line to line. */
typedef struct vtag_line {
    char *data;     /* [len + 1]: the line with its '\n' if it had one, NUL-terminated */
    size_t len;     /* 0 at the end of the file */
    size_t cap;
    int64_t number; /* 1-based number of the line in data */
} vtag_line;

/* Reads the next line of f into ln (ln zeroed before the first call). At the
 * end of the file returns VTAG_OK with ln->len 0. A line longer than max_len
 * bytes fails with "PATH: line N is longer than 1 MiB" before more than
 * max_len + 1 bytes are held; a read error fails naming PATH. */
int vtag_line_read(vtag_line *ln, FILE *f, const char *path, size_t max_len, vtag_error *err);
void vtag_line_free(vtag_line *ln);

/* ---- file identity (same_file.c) -------------------------------------------
 * One file is one (device, inode) pair after following symlinks: a hard link
 * or a symlink to a file is that file. A name that does not exist (or a
 * dangling symlink) is no file and the same as nothing. A stat failure other
 * than "does not exist" is an error. Commands refuse an output that is one of
 * their inputs with these. */
int vtag_path_same_file(const char *a, const char *b, int *same, vtag_error *err);
/* The same for an open descriptor (the standard output: 1) and a name. */
int vtag_fd_same_file(int fd, const char *path, int *same, vtag_error *err);

/* ---- random numbers ----------------------------------------------------
 * splitmix64 is counter based: draw i of a stream depends only on the
 * seed and i, so parallel fills are identical for every thread count. */
typedef struct vtag_rng {
    uint64_t state;
} vtag_rng;

void vtag_rng_seed(vtag_rng *rng, uint64_t seed);
uint64_t vtag_rng_next(vtag_rng *rng);
float vtag_rng_uniform(vtag_rng *rng);      /* [0, 1) */
float vtag_rng_normal(vtag_rng *rng);       /* N(0, 1) */
/* Draw `index` of the stream starting at state `base`, without advancing. */
uint64_t vtag_rng_at(uint64_t base, uint64_t index);
/* Advance by n draws (after a parallel fill with vtag_rng_*_at). */
void vtag_rng_skip(vtag_rng *rng, uint64_t n);
float vtag_rng_uniform_at(uint64_t base, uint64_t index);

/* ---- arena (bump) allocator ---------------------------------------------
 * Per-step activations. vtag_arena_reset() frees everything at once; after
 * a step that overflowed the first block, the blocks are merged into one of
 * the high-water size, so steady-state steps allocate nothing. */
typedef struct vtag_arena_block vtag_arena_block;
typedef struct vtag_arena {
    vtag_arena_block *head; /* current block; older ones chained behind */
    size_t used_total;      /* bytes handed out since the last reset */
    size_t high_water;      /* max used_total over all steps */
} vtag_arena;

int vtag_arena_init(vtag_arena *a, size_t capacity, vtag_error *err);
/* 64-byte aligned, uninitialised; NULL only when memory is exhausted. */
void *vtag_arena_alloc(vtag_arena *a, size_t bytes);
float *vtag_arena_floats(vtag_arena *a, int64_t n);
float *vtag_arena_zeros(vtag_arena *a, int64_t n);
void vtag_arena_reset(vtag_arena *a);
void vtag_arena_free(vtag_arena *a);

/* ---- compute backend ----------------------------------------------------
 * The few kernels a future GPU backend must provide. Matrices are
 * row-major: C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C. */
typedef struct vtag_backend {
    const char *name;
    void (*gemm)(int threads, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                 float beta, float *c, int64_t ldc);
} vtag_backend;

extern const vtag_backend vtag_backend_cblas; /* OpenBLAS through CBLAS */
extern const vtag_backend vtag_backend_naive; /* reference loops, for tests */

/* ---- kernel paths (cpu.c) -------------------------------------------------
 * One build runs on any x86-64 CPU: each SIMD kernel is compiled once per
 * path and the path is chosen at run time. VTAG_CPU=generic|avx2|avx512
 * forces one; a path the CPU (or the OS) cannot run is refused. */
typedef enum vtag_isa {
    VTAG_ISA_GENERIC = 0, /* x86-64 baseline (SSE2), or any other architecture */
    VTAG_ISA_AVX2 = 1,    /* x86-64-v3: AVX2, FMA, BMI2, F16C */
    VTAG_ISA_AVX512 = 2,  /* x86-64-v4: AVX-512 F, BW, CD, DQ, VL */
} vtag_isa;
#define VTAG_ISA_COUNT 3

const char *vtag_isa_name(vtag_isa isa);
/* 1 if this CPU and OS can run the path. */
int vtag_isa_supported(vtag_isa isa);
/* The widest path this CPU runs. */
vtag_isa vtag_isa_best(void);
/* The paths this CPU runs, narrowest first, as "generic, avx2" (cap >= 32). */
void vtag_isa_list_supported(char *buf, size_t cap);
/* The path to use: VTAG_CPU when set (refused, with a message naming what the
 * CPU supports, if it is unknown or not supported here), else the best; a
 * refused VTAG_CPU leaves *isa at the best. */
int vtag_isa_select(vtag_isa *isa, vtag_error *err);

/* ---- context -------------------------------------------------------------
 * Everything that would otherwise be a global travels here. */
typedef struct vtag_ctx {
    int threads;                 /* for GEMM and element-wise loops */
    vtag_isa isa;                /* SIMD kernel path (vtag_isa_select) */
    vtag_rng rng;                /* seeded, reproducible */
    vtag_arena arena;            /* per-step activations */
    const vtag_backend *backend; /* GEMM provider */
} vtag_ctx;

/* threads <= 0 means "number of cores". */
int vtag_ctx_init(vtag_ctx *ctx, int threads, uint64_t seed, vtag_error *err);
void vtag_ctx_free(vtag_ctx *ctx);
int vtag_default_threads(void);

/* Row-major GEMM through ctx->backend. */
void vtag_gemm(const vtag_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
               float *c, int64_t ldc);

/* A GEMM whose B operand (a weight) is packed once and then reused: the few-row products of a
 * recurrence (50 rows × a 2048×512 weight at every step), where a BLAS call repacks the whole
 * weight each time. A CPU kernel on ctx->isa's path, not a backend entry. op(B) [K, N] is kept
 * as panels of VTAG_PACK_NR columns, each [K][VTAG_PACK_NR], the last one zero-padded. */
#define VTAG_PACK_NR 16
typedef struct vtag_packed_b {
    float *data;  /* [ceil(n / VTAG_PACK_NR), k, VTAG_PACK_NR] */
    int64_t k, n; /* op(B) is [k, n] */
} vtag_packed_b;

/* Floats the packing of op(B) [k, n] needs; -1 if that overflows. */
int64_t vtag_gemm_pack_floats(int64_t k, int64_t n);
/* Packs op(B) [k, n] (trans_b: B is [n, k], as a Linear's weight) into buf, which holds
 * vtag_gemm_pack_floats(k, n) floats and stays owned by the caller. */
void vtag_gemm_pack(const vtag_ctx *ctx, vtag_packed_b *p, float *buf, int trans_b, int64_t k, int64_t n,
                    const float *b, int64_t ldb);
/* C[m, n] = alpha · A[m, k] · op(B) + beta · C (beta == 0 overwrites); the threads split the
 * columns by whole panels and every element's sum is the same on any split, so the bits do not
 * depend on the thread count. */
void vtag_gemm_packed(const vtag_ctx *ctx, int64_t m, float alpha, const float *a, int64_t lda,
                      const vtag_packed_b *b, float beta, float *c, int64_t ldc);

/* ---- tensors -------------------------------------------------------------- */
#define VTAG_MAX_DIMS 6

typedef struct vtag_tensor {
    float *data;                    /* not owned */
    int ndim;
    int64_t shape[VTAG_MAX_DIMS];
} vtag_tensor;

int64_t vtag_numel(int ndim, const int64_t *shape);

/* ---- parameter store -------------------------------------------------------
 * Named tensors carved out of four single allocations: values, gradients,
 * and Adam's first and second moments, so zeroing gradients is one memset
 * and the optimizer one loop over a flat buffer. Declare every tensor with
 * vtag_params_add, then vtag_params_alloc once. */
typedef struct vtag_param {
    char *name;
    int ndim;
    int64_t shape[VTAG_MAX_DIMS];
    int64_t offset; /* in floats, into each of the four buffers */
    int64_t numel;
} vtag_param;

typedef struct vtag_params {
    vtag_param *items;
    int count, cap;
    int64_t total;  /* floats */
    float *value;   /* [total] */
    float *grad;    /* [total] */
    float *adam_m;  /* [total] */
    float *adam_v;  /* [total] */
} vtag_params;

void vtag_params_init(vtag_params *p);
/* Returns the index of the new tensor, or a negative status. */
int vtag_params_add(vtag_params *p, const char *name, int ndim, const int64_t *shape,
                    vtag_error *err);
int vtag_params_alloc(vtag_params *p, vtag_error *err);
int vtag_params_find(const vtag_params *p, const char *name); /* index or -1 */
float *vtag_params_value(const vtag_params *p, int index);
float *vtag_params_grad(const vtag_params *p, int index);
void vtag_params_zero_grad(vtag_params *p);
void vtag_params_free(vtag_params *p);

/* ---- files: atomic writes, paths, clock (fs.c) -----------------------------
 * Every file vtag writes (checkpoints, features, manifests, reports, frames,
 * videos) goes through vtag_atomic_*: it is written under a temporary name
 * beside its target (".NAME.tmp.XXXXXX" in the same folder, mode 0644), flushed,
 * fsync'd, renamed over the target, and the folder fsync'd. A reader, a crash
 * or a kill -9 at any moment sees the old file or the new one, never a torn
 * one; a failed write leaves the old file and removes the temporary one. */
typedef struct vtag_atomic {
    FILE *f;    /* write here ("wb"); a writer with its own I/O (FFmpeg) may
                   fclose it and write to tmp by name before the commit */
    char *path; /* the target (owned) */
    char *tmp;  /* the temporary file (owned) */
} vtag_atomic;

/* Creates the temporary file for path. */
int vtag_atomic_open(vtag_atomic *a, const char *path, vtag_error *err);
/* Flushes and closes f (when still open), fsyncs the temporary file, renames
 * it over the target and fsyncs the folder: "PATH: write failed: REASON" on
 * any failure, after which the temporary file is gone and the target is the
 * old one. Frees a's names either way. */
int vtag_atomic_commit(vtag_atomic *a, vtag_error *err);
/* Drops the temporary file (a writer that failed); a zeroed a is a no-op. */
void vtag_atomic_abort(vtag_atomic *a);
/* The whole buffer as the file path, atomically. */
int vtag_atomic_write(const char *path, const void *data, size_t n, vtag_error *err);

/* An append-only log of lines (the training logs, one JSON line per epoch):
 * opened for appending ("PATH: cannot open the log"), each line written and
 * flushed at once ("PATH: cannot write: REASON"); its last lines may only
 * reach the disk at close, which is checked too. A log opened with path NULL
 * is no log: every call is a no-op. path is borrowed until close. */
typedef struct vtag_log {
    FILE *f;
    const char *path;
} vtag_log;
int vtag_log_open(vtag_log *l, const char *path, vtag_error *err);
int vtag_log_line(vtag_log *l, const char *line, vtag_error *err);
/* Closes the log; a failure is reported when err is non-NULL. */
int vtag_log_close(vtag_log *l, vtag_error *err);

/* A training step's "step N: loss is nan (diverged)" in err made into the
 * line a user acts on: "PHASE E step N: loss is nan (diverged); kept the
 * last good checkpoint OUT" (E = epoch + 1), or "...; no checkpoint was
 * written" when OUT does not exist. The code stays VTAG_ERR_DIVERGED. */
void vtag_diverged_at(vtag_error *err, const char *phase, int epoch, const char *out);

/* fsync of a folder, so that renames and new names in it reach the disk
 * (best effort: a folder that cannot be opened is left as it is). */
void vtag_fsync_dir(const char *dir);

/* SIGTERM, SIGINT and SIGHUP from now on call fn(user, signal) on a thread
 * of their own (the caller's fn prints and exits, say) instead of ending the
 * process on the spot. Blocks them in the calling thread and so in every
 * thread it starts later: call it before any other thread starts. */
int vtag_on_stop_signal(void (*fn)(void *user, int sig), void *user, vtag_error *err);

/* "DIR/NAME" (malloc'd; NULL when out of memory). */
char *vtag_path_join(const char *dir, const char *name);
/* True when path is an existing regular file (symlinks followed). */
int vtag_is_file(const char *path);
/* Monotonic wall clock in seconds (stage timings, throughput). */
double vtag_seconds(void);

/* ---- run-folder locks (lock.c) ---------------------------------------------
 * An exclusive lock on a file (flock(2)), taken without waiting and dropped by
 * the kernel when the last descriptor of it closes: when the holder and every
 * child that inherited the descriptor have exited, however they died. The
 * file stays; it holds the holder's pid. */

/* Opens (creating) path, a regular file with one name, and locks it: *fd then
 * holds the lock (children inherit it; vtag_lock_release drops it) and the
 * file this process's pid. When another process holds it: VTAG_ERR_IO, "PATH:
 * locked by pid N", and *holder = N (-1 when it has not written its pid yet);
 * *holder is 0 after any other failure. */
int vtag_lock_file(const char *path, int *fd, long *holder, vtag_error *err);
void vtag_lock_release(int *fd);

/* ---- SHA-256 (sha256.c, OpenSSL's libcrypto) --------------------------------
 * hex receives 64 lowercase hexadecimal digits and a NUL ("" on failure). */

/* The file at path, read in 64 KiB blocks (vtag_file_open_fd's checks). */
int vtag_file_sha256(const char *path, char hex[65], vtag_error *err);
/* n bytes at data. */
int vtag_sha256_hex(const void *data, size_t n, char hex[65], vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif
