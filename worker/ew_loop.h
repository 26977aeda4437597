/*
 * ew_loop - the worker's one event loop: epoll over file descriptors, each
 * registered with a callback. Everything the worker waits on is a file
 * descriptor here: libcurl's sockets (ew_http), librdkafka's queue wake-up
 * fds (rd_kafka_queue_io_event_enable), the signalfd. Timers are not kept
 * here: the owner computes the wait from its own deadlines (curl's timer,
 * the retry queue) and passes it to ew_loop_run_once().
 *
 * @locality single thread: the loop's owner.
 */
#ifndef EW_LOOP_H
#define EW_LOOP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ew_loop ew_loop_t;

/* Event bits, as epoll's. */
#define EW_LOOP_READ 0x1
#define EW_LOOP_WRITE 0x4

/* Called with the ready bits (EW_LOOP_READ/WRITE; errors and hang-ups are
 * reported as both). */
typedef void(ew_loop_cb_t)(ew_loop_t *loop, int fd, int events, void *opaque);

/* Returns a new loop, or NULL with errstr set. */
ew_loop_t *ew_loop_new(char *errstr, size_t errstr_size);

/* NULL-safe. Does not close registered fds. */
void ew_loop_destroy(ew_loop_t *loop);

/* Registers fd for events (a mask of EW_LOOP_*; 0 keeps it registered but
 * silent), replacing any earlier registration of fd. Returns 0 or -1
 * (errno set). */
int ew_loop_set(ew_loop_t *loop, int fd, int events, ew_loop_cb_t *cb,
                void *opaque);

/* Unregisters fd (before it is closed). Unknown fds are ignored. */
void ew_loop_del(ew_loop_t *loop, int fd);

/* Unregisters fd like ew_loop_del(), but leaves it in the epoll set until
 * something happens to it: for a socket that is likely to be watched
 * again soon (an idle keep-alive connection), whose next ew_loop_set()
 * then costs one epoll_ctl instead of a delete now and an add then. No
 * callback runs for a parked fd; an event on it, ew_loop_del() or a set
 * with no events takes it out of the set, and closing it removes it from
 * the kernel's set (the fd number may then be reused: ew_loop_set()
 * copes). The fd must not be dup()ed while parked. Unknown fds are
 * ignored. */
void ew_loop_park(ew_loop_t *loop, int fd);

/* 1 if fd is in the epoll set by the loop's account (registered or
 * parked), else 0. For tests and diagnostics. */
int ew_loop_in_set(const ew_loop_t *loop, int fd);

/* Waits up to timeout_ms (-1: forever, 0: poll) for ready fds and calls
 * their callbacks. A callback may add or delete registrations, including
 * its own. Returns the number of callbacks run, or -1 on an epoll error
 * other than EINTR. */
int ew_loop_run_once(ew_loop_t *loop, int timeout_ms);

#endif /* EW_LOOP_H */
