/*
 * ew_loop - see ew_loop.h.
 *
 * Registrations live in an array indexed by fd. Each carries a generation
 * number that is also stored in the epoll event's data, so an event that
 * epoll_wait() returned for a registration deleted (or deleted and
 * re-created on a recycled fd number) earlier in the same batch is
 * recognised as stale and dropped instead of reaching the wrong callback.
 *
 * A registration with an empty mask is taken out of epoll altogether:
 * epoll always reports EPOLLERR/EPOLLHUP, which, level-triggered, would
 * wake the loop forever on a silent fd whose peer went away.
 */
#include "ew_loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ew_util.h"

/* Events taken from epoll per wait; more ready fds wait for the next
 * round (level-triggered, so nothing is lost). */
#define LOOP_BATCH 256

/* Upper bound on fd numbers we index (the array is sized by the largest
 * fd seen, so this is only a guard against nonsense). */
#define LOOP_MAX_FD (1 << 24)

typedef struct reg {
        ew_loop_cb_t *cb; /* NULL: not registered */
        void         *opaque;
        int           events;   /* EW_LOOP_* mask */
        int           in_epoll; /* fd is currently added to the epoll set */
        uint32_t      gen;      /* bumped on every new registration of fd */
} reg_t;

struct ew_loop {
        int                epfd;
        reg_t             *regs; /* indexed by fd */
        int                nregs;
        uint32_t           next_gen;
        struct epoll_event evs[LOOP_BATCH];
};

static uint64_t pack(int fd, uint32_t gen)
{
        return ((uint64_t)gen << 32) | (uint32_t)fd;
}

static uint32_t to_epoll(int events)
{
        uint32_t ev = 0;

        if (events & EW_LOOP_READ)
                ev |= EPOLLIN;
        if (events & EW_LOOP_WRITE)
                ev |= EPOLLOUT;
        return ev;
}

/* Makes regs[fd] addressable. Returns 0 or -1 (errno set). */
static int grow(ew_loop_t *loop, int fd)
{
        reg_t *regs;
        int    n;

        if (fd < loop->nregs)
                return 0;
        if (fd >= LOOP_MAX_FD) {
                errno = EBADF;
                return -1;
        }
        n = loop->nregs ? loop->nregs : 64;
        while (n <= fd)
                n *= 2;
        regs = realloc(loop->regs, (size_t)n * sizeof(*regs));
        if (!regs)
                return -1;
        memset(regs + loop->nregs, 0,
               (size_t)(n - loop->nregs) * sizeof(*regs));
        loop->regs  = regs;
        loop->nregs = n;
        return 0;
}

/* Contract in ew_loop.h. */
ew_loop_t *ew_loop_new(char *errstr, size_t errstr_size)
{
        ew_loop_t *loop = calloc(1, sizeof(*loop));

        if (!loop) {
                ew_snprintf(errstr, errstr_size, "out of memory");
                goto error;
        }
        loop->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (loop->epfd == -1) {
                ew_snprintf(errstr, errstr_size, "epoll_create1: %s",
                            strerror(errno));
                goto error;
        }
        loop->next_gen = 1;
        return loop;

error:
        free(loop);
        return NULL;
}

/* Contract in ew_loop.h. */
void ew_loop_destroy(ew_loop_t *loop)
{
        if (!loop)
                return;
        close(loop->epfd);
        free(loop->regs);
        free(loop);
}

/* Contract in ew_loop.h. EINVAL for a negative fd or a NULL callback. */
int ew_loop_set(ew_loop_t *loop, int fd, int events, ew_loop_cb_t *cb,
                void *opaque)
{
        struct epoll_event ev;
        reg_t             *r;
        uint32_t           gen;
        int                op;

        if (fd < 0 || !cb) {
                errno = EINVAL;
                return -1;
        }
        if (grow(loop, fd) == -1)
                return -1;
        r = &loop->regs[fd];
        /* A replaced registration keeps its generation: events already
         * fetched for this fd are still about the same open file. */
        gen = r->cb ? r->gen : loop->next_gen++;
        events &= EW_LOOP_READ | EW_LOOP_WRITE;

        if (events) {
                memset(&ev, 0, sizeof(ev));
                ev.events   = to_epoll(events);
                ev.data.u64 = pack(fd, gen);
                op          = r->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
                if (epoll_ctl(loop->epfd, op, fd, &ev) == -1) {
                        /* The fd may have been closed and reopened behind
                         * our back (epoll forgot it) or still be known to
                         * epoll from an earlier life: try the other op. */
                        if (errno != ENOENT && errno != EEXIST)
                                return -1;
                        op =
                            op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
                        if (epoll_ctl(loop->epfd, op, fd, &ev) == -1)
                                return -1;
                }
                r->in_epoll = 1;
        } else if (r->in_epoll) {
                /* Failure means epoll no longer knows the fd: fine. */
                (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
                r->in_epoll = 0;
        }

        r->cb     = cb;
        r->opaque = opaque;
        r->events = events;
        r->gen    = gen;
        return 0;
}

/* Contract in ew_loop.h. NULL-safe. Also takes a parked fd out of the
 * set. */
void ew_loop_del(ew_loop_t *loop, int fd)
{
        reg_t *r;

        if (!loop || fd < 0 || fd >= loop->nregs)
                return;
        r = &loop->regs[fd];
        if (!r->cb && !r->in_epoll)
                return;
        if (r->in_epoll)
                (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
        memset(r, 0, sizeof(*r));
}

/* Contract in ew_loop.h. NULL-safe. Parked: no callback (cb NULL) but
 * in_epoll still set, with the generation of the last registration. */
void ew_loop_park(ew_loop_t *loop, int fd)
{
        reg_t *r;

        if (!loop || fd < 0 || fd >= loop->nregs || !loop->regs[fd].cb)
                return;
        r         = &loop->regs[fd];
        r->cb     = NULL;
        r->opaque = NULL;
}

int ew_loop_in_set(const ew_loop_t *loop, int fd)
{
        return loop && fd >= 0 && fd < loop->nregs && loop->regs[fd].in_epoll;
}

/* Contract in ew_loop.h. At most LOOP_BATCH fds per call; the rest stay
 * ready for the next call (level-triggered). */
int ew_loop_run_once(ew_loop_t *loop, int timeout_ms)
{
        int n, i, ran = 0;

        n = epoll_wait(loop->epfd, loop->evs, LOOP_BATCH, timeout_ms);
        if (n == -1)
                return errno == EINTR ? 0 : -1;

        for (i = 0; i < n; i++) {
                uint64_t data = loop->evs[i].data.u64;
                uint32_t got  = loop->evs[i].events;
                int      fd   = (int)(uint32_t)(data & 0xffffffffu);
                uint32_t gen  = (uint32_t)(data >> 32);
                reg_t   *r;
                int      events = 0;

                /* Re-read the registration each time: earlier callbacks
                 * may have deleted it, replaced it or grown the array. */
                if (fd >= loop->nregs)
                        continue;
                r = &loop->regs[fd];
                if (!r->cb && r->in_epoll && r->gen == gen) {
                        /* Parked and something happened (typically the
                         * peer closed an idle connection): out of the set,
                         * or level-triggered epoll reports it forever. */
                        (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
                        r->in_epoll = 0;
                        continue;
                }
                if (!r->cb || r->gen != gen || !r->in_epoll)
                        continue;

                if (got & (EPOLLERR | EPOLLHUP))
                        events = EW_LOOP_READ | EW_LOOP_WRITE;
                else {
                        if (got & EPOLLIN)
                                events |= EW_LOOP_READ;
                        if (got & EPOLLOUT)
                                events |= EW_LOOP_WRITE;
                        /* Drop bits the registration no longer asks for
                         * (changed by an earlier callback in this batch). */
                        events &= r->events;
                        if (!events)
                                continue;
                }
                r->cb(loop, fd, events, r->opaque);
                ran++;
        }
        return ran;
}
