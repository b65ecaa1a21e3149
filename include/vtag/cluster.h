/* vtag cluster: one job over several processes started by an MPI launcher
 * (mpirun, srun; Open MPI), SPEC §10. The same program runs as one process
 * when no launcher started it: then no MPI call is made at all.
 *
 * What the commands build on it:
 *   - training: every rank holds the whole model; each step's gradient is the
 *     sum of a fixed number of micro-batch gradients in a fixed binary-tree
 *     order (vtag_cluster_tree_sum), so 1, 2 or 4 ranks give the same bits;
 *   - extraction and tagging: video i belongs to rank i mod N
 *     (vtag_cluster_owner); every rank sends each of its results to rank 0
 *     in its own input order (vtag_cluster_send), and rank 0 receives them in
 *     the global input order (vtag_cluster_recv) and writes the one output. */
#ifndef VTAG_CLUSTER_H
#define VTAG_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vtag_cluster vtag_cluster;

/* 1 when this process was started by an MPI launcher: the environment holds
 * OMPI_COMM_WORLD_SIZE (Open MPI's mpirun), PMIX_RANK or PMI_RANK (srun). */
int vtag_cluster_launched(void);
/* The rank the launcher gave this process (those variables), before the job
 * is joined; 0 without a launcher. */
int vtag_cluster_launch_rank(void);

/* Joins the job: MPI_Init when launched (errors then return instead of
 * aborting the job), else a cluster of one process without MPI. One per
 * process, before any thread is started; *c is NULL on failure. */
int vtag_cluster_open(vtag_cluster **c, vtag_error *err);
/* Leaves the job (MPI_Finalize when launched); NULLs *c. */
void vtag_cluster_close(vtag_cluster **c);
/* Ends every rank of the job now with this exit status (MPI_Abort), for a
 * rank that fails where the others would wait on it forever. Does nothing in
 * a cluster of one process (the caller returns its status as usual). */
void vtag_cluster_abort(vtag_cluster *c, int status);

int vtag_cluster_rank(const vtag_cluster *c); /* 0 .. size-1 */
int vtag_cluster_size(const vtag_cluster *c); /* ranks; 1 without a launcher */
/* Ranks of this job on this machine (1 without a launcher). */
int vtag_cluster_local_size(const vtag_cluster *c);
/* The threads a rank uses when the user gave none (threads <= 0): this
 * machine's cores shared out over its ranks, at least 1; `threads` when > 0. */
int vtag_cluster_threads(const vtag_cluster *c, int threads);
/* The rank that owns item i of a list shared out round-robin: i mod size. */
int vtag_cluster_owner(const vtag_cluster *c, int64_t i);

/* Every rank gives its status; every rank gets back the first non-zero one
 * in rank order (0 when all are 0) in *all, and err takes the message of
 * that rank ("rank R: ..."). Collective. */
int vtag_cluster_agree(vtag_cluster *c, int status, vtag_error *err, int *all);

/* 1 when the last vtag_cluster_agree found a failure: every rank knows it,
 * so each can end normally (rank 0 reporting it); 0 when a rank failed on its
 * own, where the others may be waiting on it (vtag_cluster_abort). */
int vtag_cluster_failed_together(const vtag_cluster *c);

/* Point to point, for results gathered on one rank. Messages between two
 * ranks arrive in the order they were sent. send copies len bytes (at most
 * INT_MAX); recv waits for the next message from `from` and returns it
 * malloc'd in *buf (*len bytes; the caller frees). */
int vtag_cluster_send(vtag_cluster *c, int to, const void *buf, size_t len, vtag_error *err);
int vtag_cluster_recv(vtag_cluster *c, int from, void **buf, size_t *len, vtag_error *err);

/* Broadcasts len bytes of buf from rank root to every rank. Collective. */
int vtag_cluster_bcast(vtag_cluster *c, void *buf, size_t len, int root, vtag_error *err);

/* The deterministic gradient sum. Each rank holds x[n] and sums[n_sums], the
 * sums of an aligned subtree of 2^k leaves (rank r the r-th); the size must
 * be a power of two. Afterwards every rank holds the sums over all ranks
 * combined as a perfect binary tree, left + right at each node: rank pairs
 * (2j, 2j+1) first, then pairs of pairs, ... -- the same additions, in the
 * same order, as one process summing all the leaves that way. Collective. */
int vtag_cluster_tree_sum(vtag_cluster *c, float *x, int64_t n, double *sums, int n_sums, vtag_error *err);

/* The same tree over leaves held in one process: x[i] += y[i] and sums
 * likewise, the left subtree's sum in x. */
void vtag_tree_add(float *x, const float *y, int64_t n, double *sums, const double *ysums, int n_sums);

/* 1 in *ready when a message from rank `from` is waiting, so that
 * vtag_cluster_recv would return it without waiting; 0 otherwise. A sharded
 * run's ranks look for rank 0's stop this way between their items. */
int vtag_cluster_poll(vtag_cluster *c, int from, int *ready, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif
