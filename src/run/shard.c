/* The ordered gather of a sharded run: results to rank 0 in list order, and
 * the stop that ends every rank (src/run/shard.h says how). */
#include "shard.h"

#include <stdlib.h>

void shard_init(shard *s, vtag_cluster *c)
{
    s->c = c;
    s->rank = vtag_cluster_rank(c);
    s->size = vtag_cluster_size(c);
    s->stopped = s->broken = 0;
}

int shard_owner(const shard *s, int64_t i) { return s->size == 1 ? 0 : vtag_cluster_owner(s->c, i); }
int shard_mine(const shard *s, int64_t i) { return shard_owner(s, i) == s->rank; }

/* Any failed message leaves the ranks out of step. */
static int broke(shard *s, int rc)
{
    if (rc) s->broken = 1;
    return rc;
}

int shard_should_stop(shard *s, int *stop, vtag_error *err)
{
    if (!s->stopped && s->rank > 0) {
        int rc = broke(s, vtag_cluster_poll(s->c, 0, &s->stopped, err));
        if (rc) return rc;
    }
    *stop = s->stopped;
    return VTAG_OK;
}

int shard_send(shard *s, const void *buf, size_t len, vtag_error *err)
{
    return broke(s, vtag_cluster_send(s->c, 0, buf, len, err));
}

int shard_recv(shard *s, int64_t i, void **buf, size_t *len, vtag_error *err)
{
    const int from = shard_owner(s, i);
    int rc = broke(s, vtag_cluster_recv(s->c, from, buf, len, err));
    if (rc) return rc;
    if (*len == 0) {
        free(*buf);
        *buf = NULL;
        s->broken = 1; /* its end is taken: shard_finish would wait for another */
        return vtag_fail(err, VTAG_ERR_FORMAT, "rank %d ended before video %lld of the list", from, (long long)i + 1);
    }
    return VTAG_OK;
}

int shard_finish(shard *s, vtag_error *err)
{
    if (s->size == 1) return VTAG_OK;
    void *buf = NULL;
    size_t len = 0;
    int rc = VTAG_OK;
    if (s->rank == 0) {
        for (int r = 1; r < s->size && !rc; r++) rc = vtag_cluster_send(s->c, r, "", 0, err);
        /* What a rank sent after the last result rank 0 took is read and dropped. */
        for (int r = 1; r < s->size && !rc; r++) {
            do {
                free(buf);
                rc = vtag_cluster_recv(s->c, r, &buf, &len, err);
            } while (!rc && len > 0);
        }
    } else {
        rc = vtag_cluster_send(s->c, 0, "", 0, err);
        if (!rc) rc = vtag_cluster_recv(s->c, 0, &buf, &len, err); /* the stop, seen or not */
        s->stopped = 1;
    }
    free(buf);
    return broke(s, rc);
}

int shard_agree(shard *s, int rc, vtag_error *err)
{
    int all = rc;
    int mrc = broke(s, vtag_cluster_agree(s->c, rc, err, &all));
    return mrc ? mrc : all;
}
