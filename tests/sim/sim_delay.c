/*
 * sim_delay - see sim_delay.h.
 */
#include "sim_delay.h"
#include "sim_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct pending {
        int64_t       deadline_ms; /* monotonic */
        uint64_t      seq;         /* keeps equal deadlines in FIFO order */
        sim_delay_fn *fn;
        void         *arg;
} pending_t;

struct sim_delay {
        pthread_mutex_t lock;
        pthread_cond_t  cond;
        pthread_t       thread;
        int             thread_started;
        int             stopping;
        pending_t      *heap;
        size_t          count, cap, max_pending;
        uint64_t        seq;
};

/* Timers fired per wake-up before the lock is taken again. */
#define FIRE_BATCH 256

static int earlier(const pending_t *a, const pending_t *b)
{
        return a->deadline_ms < b->deadline_ms ||
               (a->deadline_ms == b->deadline_ms && a->seq < b->seq);
}

static void heap_up(pending_t *h, size_t i)
{
        pending_t t = h[i];

        while (i > 0 && earlier(&t, &h[(i - 1) / 2])) {
                h[i] = h[(i - 1) / 2];
                i    = (i - 1) / 2;
        }
        h[i] = t;
}

static void heap_down(pending_t *h, size_t n, size_t i)
{
        pending_t t = h[i];
        size_t    c;

        for (;;) {
                c = 2 * i + 1;
                if (c >= n)
                        break;
                if (c + 1 < n && earlier(&h[c + 1], &h[c]))
                        c++;
                if (!earlier(&h[c], &t))
                        break;
                h[i] = h[c];
                i    = c;
        }
        h[i] = t;
}

static pending_t heap_pop(sim_delay_t *dl)
{
        pending_t top = dl->heap[0];

        dl->count--;
        if (dl->count > 0) {
                dl->heap[0] = dl->heap[dl->count];
                heap_down(dl->heap, dl->count, 0);
        }
        return top;
}

static void *timer_main(void *arg)
{
        sim_delay_t    *dl = arg;
        pending_t       due[FIRE_BATCH];
        size_t          n, i;
        int64_t         now, wait_ms;
        struct timespec ts;

        pthread_mutex_lock(&dl->lock);
        while (!dl->stopping) {
                now = sim_mono_ms();
                n   = 0;
                while (dl->count > 0 && dl->heap[0].deadline_ms <= now &&
                       n < FIRE_BATCH)
                        due[n++] = heap_pop(dl);
                if (n > 0) {
                        pthread_mutex_unlock(&dl->lock);
                        for (i = 0; i < n; i++)
                                due[i].fn(due[i].arg);
                        pthread_mutex_lock(&dl->lock);
                        continue;
                }
                if (dl->count == 0) {
                        pthread_cond_wait(&dl->cond, &dl->lock);
                        continue;
                }
                wait_ms = dl->heap[0].deadline_ms - now;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += wait_ms / 1000;
                ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&dl->cond, &dl->lock, &ts);
        }
        pthread_mutex_unlock(&dl->lock);
        return NULL;
}

sim_delay_t *sim_delay_new(size_t max_pending, char *errstr, size_t errstr_size)
{
        sim_delay_t       *dl = calloc(1, sizeof(*dl));
        pthread_condattr_t ca;
        int                err;

        if (!dl) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        dl->max_pending = max_pending;
        pthread_mutex_init(&dl->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&dl->cond, &ca);
        pthread_condattr_destroy(&ca);
        err = pthread_create(&dl->thread, NULL, timer_main, dl);
        if (err) {
                snprintf(errstr, errstr_size, "timer thread: %s",
                         strerror(err));
                sim_delay_destroy(dl);
                return NULL;
        }
        dl->thread_started = 1;
        return dl;
}

int sim_delay_add(sim_delay_t *dl, int64_t delay_ms, sim_delay_fn *fn,
                  void *arg)
{
        pending_t t;
        int       rc = -1;

        t.deadline_ms = sim_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
        t.fn          = fn;
        t.arg         = arg;
        pthread_mutex_lock(&dl->lock);
        if (dl->stopping || dl->count >= dl->max_pending)
                goto done;
        if (dl->count == dl->cap) {
                size_t     ncap = dl->cap ? dl->cap * 2 : 1024;
                pending_t *nh   = realloc(dl->heap, ncap * sizeof(*nh));

                if (!nh)
                        goto done;
                dl->heap = nh;
                dl->cap  = ncap;
        }
        t.seq                 = dl->seq++;
        dl->heap[dl->count++] = t;
        heap_up(dl->heap, dl->count - 1);
        /* Wake the thread only if this timer is now the earliest. */
        if (dl->heap[0].seq == t.seq)
                pthread_cond_signal(&dl->cond);
        rc = 0;
done:
        pthread_mutex_unlock(&dl->lock);
        return rc;
}

size_t sim_delay_pending(sim_delay_t *dl)
{
        size_t n;

        pthread_mutex_lock(&dl->lock);
        n = dl->count;
        pthread_mutex_unlock(&dl->lock);
        return n;
}

void sim_delay_stop(sim_delay_t *dl)
{
        pending_t t;

        pthread_mutex_lock(&dl->lock);
        dl->stopping = 1;
        pthread_cond_signal(&dl->cond);
        pthread_mutex_unlock(&dl->lock);
        if (dl->thread_started) {
                pthread_join(dl->thread, NULL);
                dl->thread_started = 0;
        }
        /* The thread is gone: fire what is left, in deadline order. */
        pthread_mutex_lock(&dl->lock);
        while (dl->count > 0) {
                t = heap_pop(dl);
                pthread_mutex_unlock(&dl->lock);
                t.fn(t.arg);
                pthread_mutex_lock(&dl->lock);
        }
        pthread_mutex_unlock(&dl->lock);
}

void sim_delay_destroy(sim_delay_t *dl)
{
        if (!dl)
                return;
        sim_delay_stop(dl);
        free(dl->heap);
        pthread_cond_destroy(&dl->cond);
        pthread_mutex_destroy(&dl->lock);
        free(dl);
}
