/* The ordered gather of a sharded run (src/run/shard.c), private to src/run:
 * item i of a list belongs to rank i mod N (vtag_cluster_owner). Every rank
 * other than 0 works through its own items in list order and sends each
 * result to rank 0 as one message; rank 0 does its own items in between and
 * takes the others' from their owners in list order, so it can write the
 * output as it goes, alone, exactly as one process would.
 *
 * Rank 0 may stop early (an error, an output that fails): at the end it says
 * stop to every rank, which stops before its next item, and reads what each
 * still sends up to its end, so no rank waits forever on another.
 *
 * Messages, all through vtag_cluster_send/recv: a result is at least one byte
 * (its format is the caller's); a rank's last message to rank 0 is empty (its
 * end); rank 0's one message to each rank, empty, says stop. Rank 0 sends
 * nothing else, and an empty message is sent at once by Open MPI (eagerly),
 * so its stop never waits on a rank that is itself sending. */
#ifndef VTAG_RUN_SHARD_H
#define VTAG_RUN_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "vtag/cluster.h"
#include "vtag/core.h"

typedef struct shard {
    vtag_cluster *c; /* NULL: one process */
    int rank, size;
    int stopped;     /* rank > 0: rank 0's stop has been seen */
    int broken;      /* a message failed (or a rank ended early): the ranks no longer meet,
                        so no shard_finish or shard_agree; the caller ends the job */
} shard;

void shard_init(shard *s, vtag_cluster *c);
/* The rank that does item i; 1 when it is this one. */
int shard_owner(const shard *s, int64_t i);
int shard_mine(const shard *s, int64_t i);
/* A rank other than 0, before each of its items: *stop is 1 once rank 0 has said stop. */
int shard_should_stop(shard *s, int *stop, vtag_error *err);
/* A rank other than 0: the result of its next item (len >= 1 bytes). */
int shard_send(shard *s, const void *buf, size_t len, vtag_error *err);
/* Rank 0: the result of item i from its owner, malloc'd (*len >= 1); an end
 * in its place is an error ("rank R ended before video I"). */
int shard_recv(shard *s, int64_t i, void **buf, size_t *len, vtag_error *err);
/* The end, on every rank, after its last item: rank 0 says stop to every rank
 * and reads what each still sends up to its end; the others send their end
 * and wait for rank 0's stop. Nothing in one process. */
int shard_finish(shard *s, vtag_error *err);
/* Every rank's rc (err its message) → the first failure in rank order, on
 * every rank: rank 0's own message, or "rank R: ..." (vtag_cluster_agree).
 * Returns rc as it is in one process. Collective. */
int shard_agree(shard *s, int rc, vtag_error *err);

#endif
