/* vtag_on_stop_signal (core.h): the stop signals handed to a thread. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "vtag/core.h"

typedef struct stop_watch {
    void (*fn)(void *user, int sig);
    void *user;
    sigset_t set;
} stop_watch;

static void *watch(void *arg)
{
    stop_watch *w = arg;
    int sig = 0;
    if (sigwait(&w->set, &sig) == 0) w->fn(w->user, sig);
    return NULL;
}

int vtag_on_stop_signal(void (*fn)(void *user, int sig), void *user, vtag_error *err)
{
    stop_watch *w = malloc(sizeof *w); /* the watcher's for the rest of the process */
    if (!w) return vtag_fail(err, VTAG_ERR_NOMEM, "signals: out of memory");
    *w = (stop_watch){fn, user, {{0}}};
    sigemptyset(&w->set);
    sigaddset(&w->set, SIGTERM);
    sigaddset(&w->set, SIGINT);
    sigaddset(&w->set, SIGHUP);
    pthread_t th;
    if (pthread_sigmask(SIG_BLOCK, &w->set, NULL) != 0 || pthread_create(&th, NULL, watch, w) != 0) {
        free(w);
        return vtag_fail(err, VTAG_ERR_IO, "signals: cannot start the thread that watches for them");
    }
    pthread_detach(th);
    return VTAG_OK;
}
