/* The job of several processes (include/vtag/cluster.h) over Open MPI. */
#include "vtag/cluster.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vtag_cluster {
    int mpi;  /* MPI_Init was called */
    int rank, size;
    int local_size; /* ranks on this machine */
    int together;   /* the last agreement found a failure */
};

/* One message's tag: every message of this module has it, so that the order
 * between two ranks is the order of sending (MPI's non-overtaking rule). */
enum { TAG_ITEM = 17, TAG_TREE = 18 };

/* The largest piece of a float array sent in one MPI call. */
#define TREE_CHUNK ((int64_t)1 << 24)

int vtag_cluster_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int vtag_cluster_launch_rank(void)
{
    const char *names[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *r = getenv(names[i]);
        if (r && *r) return atoi(r);
    }
    return 0;
}

static int mpi_fail(vtag_error *err, int mpirc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(mpirc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", mpirc);
    return vtag_fail(err, VTAG_ERR_IO, "MPI: %s: %s", what, msg);
}

int vtag_cluster_open(vtag_cluster **out, vtag_error *err)
{
    *out = NULL;
    vtag_cluster *c = calloc(1, sizeof *c);
    if (!c) return vtag_fail(err, VTAG_ERR_NOMEM, "MPI: out of memory");
    c->size = c->local_size = 1;
    if (vtag_cluster_launched()) {
        int initialized = 0;
        MPI_Initialized(&initialized);
        if (initialized) {
            free(c);
            return vtag_fail(err, VTAG_ERR_ARG, "MPI: the job was joined twice in one process");
        }
        int provided = 0;
        /* Threads call no MPI function; only the calling thread does. */
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) {
            free(c);
            return vtag_fail(err, VTAG_ERR_IO, "MPI: MPI_Init failed (error %d): is this job's launcher an MPI one?", rc);
        }
        c->mpi = 1;
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c->size);
        MPI_Comm node;
        if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
            MPI_Comm_size(node, &c->local_size);
            MPI_Comm_free(&node);
        }
    }
    *out = c;
    return VTAG_OK;
}

void vtag_cluster_close(vtag_cluster **cp)
{
    vtag_cluster *c = *cp;
    if (!c) return;
    if (c->mpi) MPI_Finalize();
    free(c);
    *cp = NULL;
}

void vtag_cluster_abort(vtag_cluster *c, int status)
{
    if (c && c->mpi && c->size > 1) MPI_Abort(MPI_COMM_WORLD, status);
}

int vtag_cluster_rank(const vtag_cluster *c) { return c ? c->rank : 0; }
int vtag_cluster_size(const vtag_cluster *c) { return c ? c->size : 1; }
int vtag_cluster_local_size(const vtag_cluster *c) { return c && c->local_size > 0 ? c->local_size : 1; }

int vtag_cluster_threads(const vtag_cluster *c, int threads)
{
    if (threads > 0) return threads;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long t = (cores > 0 ? cores : 1) / vtag_cluster_local_size(c);
    return t > 0 ? (int)t : 1;
}

int vtag_cluster_owner(const vtag_cluster *c, int64_t i) { return (int)(i % vtag_cluster_size(c)); }

int vtag_cluster_agree(vtag_cluster *c, int status, vtag_error *err, int *all)
{
    *all = status;
    if (!c || !c->mpi || c->size == 1) return VTAG_OK;
    /* The first failing rank: the smallest rank with a non-zero status. */
    int mine = status ? c->rank : c->size, first = c->size;
    int rc = MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "agreeing on the status");
    if (first == c->size) return *all = 0, VTAG_OK;
    c->together = 1;
    struct {
        int code;
        char msg[sizeof err->msg];
    } m = {status, {0}};
    if (c->rank == first && err) memcpy(m.msg, err->msg, sizeof m.msg);
    rc = MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "agreeing on the status");
    m.msg[sizeof m.msg - 1] = 0;
    *all = m.code;
    if (c->rank != first) vtag_fail(err, m.code, "rank %d: %s", first, m.msg);
    return VTAG_OK;
}

int vtag_cluster_failed_together(const vtag_cluster *c) { return c && c->together; }

int vtag_cluster_send(vtag_cluster *c, int to, const void *buf, size_t len, vtag_error *err)
{
    if (!c || !c->mpi) return vtag_fail(err, VTAG_ERR_ARG, "MPI: a message in a job of one process");
    if (len > INT_MAX) return vtag_fail(err, VTAG_ERR_ARG, "MPI: a message of %zu bytes (at most %d)", len, INT_MAX);
    int rc = MPI_Send(buf, (int)len, MPI_BYTE, to, TAG_ITEM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? VTAG_OK : mpi_fail(err, rc, "sending a result");
}

int vtag_cluster_recv(vtag_cluster *c, int from, void **buf, size_t *len, vtag_error *err)
{
    *buf = NULL;
    *len = 0;
    if (!c || !c->mpi) return vtag_fail(err, VTAG_ERR_ARG, "MPI: a message in a job of one process");
    MPI_Message msg;
    MPI_Status st;
    int rc = MPI_Mprobe(from, TAG_ITEM, MPI_COMM_WORLD, &msg, &st);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "waiting for a result");
    int n = 0;
    MPI_Get_count(&st, MPI_BYTE, &n);
    char *p = malloc((size_t)n + 1); /* +1: a message of 0 bytes still gets a buffer */
    if (!p) return vtag_fail(err, VTAG_ERR_NOMEM, "MPI: out of memory for a result of %d bytes", n);
    rc = MPI_Mrecv(p, n, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        free(p);
        return mpi_fail(err, rc, "receiving a result");
    }
    *buf = p;
    *len = (size_t)n;
    return VTAG_OK;
}

int vtag_cluster_bcast(vtag_cluster *c, void *buf, size_t len, int root, vtag_error *err)
{
    if (!c || !c->mpi || c->size == 1) return VTAG_OK;
    for (size_t off = 0; off < len;) {
        const size_t k = len - off < (size_t)INT_MAX ? len - off : (size_t)INT_MAX;
        int rc = MPI_Bcast((char *)buf + off, (int)k, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "broadcast");
        off += k;
    }
    return VTAG_OK;
}

void vtag_tree_add(float *x, const float *y, int64_t n, double *sums, const double *ysums, int n_sums)
{
    for (int64_t i = 0; i < n; i++) x[i] = x[i] + y[i];
    for (int i = 0; i < n_sums; i++) sums[i] = sums[i] + ysums[i];
}

int vtag_cluster_tree_sum(vtag_cluster *c, float *x, int64_t n, double *sums, int n_sums, vtag_error *err)
{
    if (!c || !c->mpi || c->size == 1) return VTAG_OK;
    const int rank = c->rank, size = c->size;
    if (size & (size - 1))
        return vtag_fail(err, VTAG_ERR_ARG, "MPI: %d ranks: the gradient tree needs a power of two", size);
    if (n_sums < 0 || n_sums > 64) return vtag_fail(err, VTAG_ERR_ARG, "MPI: %d sums (at most 64)", n_sums);
    const int64_t chunk = n < TREE_CHUNK ? n : TREE_CHUNK;
    float *y = chunk ? malloc((size_t)chunk * sizeof *y) : NULL;
    if (chunk && !y) return vtag_fail(err, VTAG_ERR_NOMEM, "MPI: out of memory for the gradient sum");
    double ysums[64];
    int rc = MPI_SUCCESS;
    /* Up the tree: at level s the rank r with r mod 2s == 0 adds its right
     * neighbour r + s's subtree to its own, chunk by chunk. */
    for (int s = 1; s < size && rc == MPI_SUCCESS; s <<= 1) {
        if (rank % (2 * s) == 0) {
            for (int64_t off = 0; off < n && rc == MPI_SUCCESS; off += chunk) {
                const int k = (int)(n - off < chunk ? n - off : chunk);
                rc = MPI_Recv(y, k, MPI_FLOAT, rank + s, TAG_TREE, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                if (rc == MPI_SUCCESS) vtag_tree_add(x + off, y, k, NULL, NULL, 0);
            }
            if (rc == MPI_SUCCESS) rc = MPI_Recv(ysums, n_sums, MPI_DOUBLE, rank + s, TAG_TREE, MPI_COMM_WORLD,
                                                 MPI_STATUS_IGNORE);
            if (rc == MPI_SUCCESS) vtag_tree_add(NULL, NULL, 0, sums, ysums, n_sums);
        } else {
            for (int64_t off = 0; off < n && rc == MPI_SUCCESS; off += chunk) {
                const int k = (int)(n - off < chunk ? n - off : chunk);
                rc = MPI_Send(x + off, k, MPI_FLOAT, rank - s, TAG_TREE, MPI_COMM_WORLD);
            }
            if (rc == MPI_SUCCESS) rc = MPI_Send(sums, n_sums, MPI_DOUBLE, rank - s, TAG_TREE, MPI_COMM_WORLD);
            break; /* this rank's subtree is now inside another's */
        }
    }
    free(y);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "summing the gradient");
    /* Down: rank 0's root sum to everyone. */
    for (int64_t off = 0; off < n && rc == MPI_SUCCESS; off += chunk) {
        const int k = (int)(n - off < chunk ? n - off : chunk);
        rc = MPI_Bcast(x + off, k, MPI_FLOAT, 0, MPI_COMM_WORLD);
    }
    if (rc == MPI_SUCCESS) rc = MPI_Bcast(sums, n_sums, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? VTAG_OK : mpi_fail(err, rc, "sharing the gradient sum");
}

int vtag_cluster_poll(vtag_cluster *c, int from, int *ready, vtag_error *err)
{
    *ready = 0;
    if (!c || !c->mpi) return vtag_fail(err, VTAG_ERR_ARG, "MPI: a message in a job of one process");
    int flag = 0;
    int rc = MPI_Iprobe(from, TAG_ITEM, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "looking for a message");
    *ready = flag != 0;
    return VTAG_OK;
}
