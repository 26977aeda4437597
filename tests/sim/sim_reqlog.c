/*
 * sim_reqlog - see sim_reqlog.h.
 *
 * Two buffers: writers append to the active one under `lock`; a flush
 * swaps it with the spare under `lock` and writes the spare out under
 * `io_lock`, so writers never wait for the disk unless the buffer is full.
 * Lock order: io_lock, then lock.
 */
#include "sim_reqlog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (4u << 20)

struct sim_reqlog {
        int             fd;
        int             own_fd;
        pthread_mutex_t lock;    /* active buffer, stopping */
        pthread_mutex_t io_lock; /* spare buffer and the file */
        pthread_cond_t  cond;
        pthread_t       thread;
        int             thread_started;
        int             stopping;
        char           *active, *spare;
        size_t          active_len;
};

static void write_all(int fd, const char *p, size_t len)
{
        ssize_t n;

        while (len > 0) {
                n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return; /* a request log is best effort */
                }
                p += n;
                len -= (size_t)n;
        }
}

/* Writes out the active buffer. Called with io_lock held, lock not. */
static void flush_locked_io(sim_reqlog_t *rl)
{
        char  *buf;
        size_t len;

        pthread_mutex_lock(&rl->lock);
        buf            = rl->active;
        len            = rl->active_len;
        rl->active     = rl->spare;
        rl->active_len = 0;
        rl->spare      = buf;
        pthread_mutex_unlock(&rl->lock);
        write_all(rl->fd, buf, len);
}

void sim_reqlog_flush(sim_reqlog_t *rl)
{
        pthread_mutex_lock(&rl->io_lock);
        flush_locked_io(rl);
        pthread_mutex_unlock(&rl->io_lock);
}

static void *flusher_main(void *arg)
{
        sim_reqlog_t   *rl = arg;
        struct timespec ts;
        int             stop;

        for (;;) {
                pthread_mutex_lock(&rl->lock);
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_nsec += SIM_REQLOG_FLUSH_MS * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                if (!rl->stopping)
                        pthread_cond_timedwait(&rl->cond, &rl->lock, &ts);
                stop = rl->stopping;
                pthread_mutex_unlock(&rl->lock);
                sim_reqlog_flush(rl);
                if (stop)
                        break;
        }
        return NULL;
}

sim_reqlog_t *sim_reqlog_open(const char *path, char *errstr,
                              size_t errstr_size)
{
        sim_reqlog_t      *rl = calloc(1, sizeof(*rl));
        pthread_condattr_t ca;
        int                err;

        if (!rl) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&rl->lock, NULL);
        pthread_mutex_init(&rl->io_lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&rl->cond, &ca);
        pthread_condattr_destroy(&ca);
        rl->fd = -1;
        if (!strcmp(path, "-")) {
                rl->fd = STDOUT_FILENO;
        } else {
                rl->fd =
                    open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (rl->fd < 0) {
                        snprintf(errstr, errstr_size, "%s: %s", path,
                                 strerror(errno));
                        goto error;
                }
                rl->own_fd = 1;
        }
        rl->active = malloc(BUF_SIZE);
        rl->spare  = malloc(BUF_SIZE);
        if (!rl->active || !rl->spare) {
                snprintf(errstr, errstr_size, "out of memory");
                goto error;
        }
        err = pthread_create(&rl->thread, NULL, flusher_main, rl);
        if (err) {
                snprintf(errstr, errstr_size, "log thread: %s", strerror(err));
                goto error;
        }
        rl->thread_started = 1;
        return rl;
error:
        sim_reqlog_close(rl);
        return NULL;
}

void sim_reqlog_write(sim_reqlog_t *rl, const char *line, size_t len)
{
        if (len + 1 > BUF_SIZE) {
                /* Too long to buffer: keep order by flushing first. */
                pthread_mutex_lock(&rl->io_lock);
                flush_locked_io(rl);
                write_all(rl->fd, line, len);
                write_all(rl->fd, "\n", 1);
                pthread_mutex_unlock(&rl->io_lock);
                return;
        }
        for (;;) {
                pthread_mutex_lock(&rl->lock);
                if (rl->active_len + len + 1 <= BUF_SIZE) {
                        memcpy(rl->active + rl->active_len, line, len);
                        rl->active[rl->active_len + len] = '\n';
                        rl->active_len += len + 1;
                        pthread_mutex_unlock(&rl->lock);
                        return;
                }
                pthread_mutex_unlock(&rl->lock);
                sim_reqlog_flush(rl);
        }
}

void sim_reqlog_close(sim_reqlog_t *rl)
{
        if (!rl)
                return;
        if (rl->thread_started) {
                pthread_mutex_lock(&rl->lock);
                rl->stopping = 1;
                pthread_cond_signal(&rl->cond);
                pthread_mutex_unlock(&rl->lock);
                pthread_join(rl->thread, NULL);
        }
        if (rl->fd >= 0 && rl->active)
                sim_reqlog_flush(rl);
        if (rl->own_fd)
                close(rl->fd);
        free(rl->active);
        free(rl->spare);
        pthread_cond_destroy(&rl->cond);
        pthread_mutex_destroy(&rl->io_lock);
        pthread_mutex_destroy(&rl->lock);
        free(rl);
}
