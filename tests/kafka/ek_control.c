/*
 * ek_control - see ek_control.h.
 */
#include "ek_control.h"
#include "ek_command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Replies waiting to be written to one client; a client that stops
 * reading for this long is dropped. */
#define CLIENT_OUT_MAX 16384

/* Bytes of an incomplete line, and whether the current line overflowed. */
typedef struct linebuf {
        char   buf[EK_COMMAND_LINE_MAX];
        size_t len;
        int    overflow; /* discarding until the next newline */
} linebuf_t;

typedef struct client {
        int       fd;  /* -1: slot free */
        int       eof; /* peer shut down its side: close once flushed */
        linebuf_t in;
        char      out[CLIENT_OUT_MAX];
        size_t    out_len;
} client_t;

struct ek_control {
        int                  in_fd; /* -1 once at end of file */
        linebuf_t            in;
        int                  out_fd;
        int                  listen_fd;
        char                *socket_path; /* owned; NULL: no socket */
        ek_control_handler_t handler;
        void                *opaque;
        client_t             clients[EK_CONTROL_CLIENTS_MAX];
};

/* Writes all of buf to a blocking fd. Returns 0 or -1. */
static int write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Runs the handler on one complete line; returns the reply length or 0
 * when there is nothing to send. The reply ends with a newline. */
static size_t handle_line(ek_control_t *ctl, const char *line, int overflow,
                          char *reply, size_t reply_size)
{
        size_t len;

        if (overflow) {
                snprintf(reply, reply_size, "error line too long (max %d)",
                         EK_COMMAND_LINE_MAX - 1);
        } else if (ctl->handler(ctl->opaque, line, reply, reply_size - 1) ==
                   1) {
                return 0;
        }
        len          = strlen(reply);
        reply[len++] = '\n';
        reply[len]   = '\0';
        return len;
}

/* Called for each reply produced while draining a line buffer. */
typedef int (*reply_sink_t)(void *arg, const char *reply, size_t len);

/* Appends data to lb and handles every complete line in it. Returns -1 if
 * the sink failed, else 0. */
static int linebuf_feed(ek_control_t *ctl, linebuf_t *lb, const char *data,
                        size_t len, reply_sink_t sink, void *arg)
{
        char   reply[EK_CONTROL_REPLY_MAX + 1];
        size_t i;

        for (i = 0; i < len; i++) {
                size_t rlen;

                if (data[i] != '\n') {
                        if (lb->len + 1 < sizeof(lb->buf))
                                lb->buf[lb->len++] = data[i];
                        else
                                lb->overflow = 1;
                        continue;
                }
                lb->buf[lb->len] = '\0';
                rlen         = handle_line(ctl, lb->buf, lb->overflow, reply,
                                           sizeof(reply));
                lb->len      = 0;
                lb->overflow = 0;
                if (rlen > 0 && sink(arg, reply, rlen) != 0)
                        return -1;
        }
        return 0;
}

static int stdout_sink(void *arg, const char *reply, size_t len)
{
        ek_control_t *ctl = arg;

        /* A reader that went away must not stop the broker. */
        (void)write_all(ctl->out_fd, reply, len);
        return 0;
}

static int client_sink(void *arg, const char *reply, size_t len)
{
        client_t *c = arg;

        if (c->out_len + len > sizeof(c->out))
                return -1;
        memcpy(c->out + c->out_len, reply, len);
        c->out_len += len;
        return 0;
}

static void client_close(client_t *c)
{
        if (c->fd >= 0)
                close(c->fd);
        c->fd          = -1;
        c->eof         = 0;
        c->in.len      = 0;
        c->in.overflow = 0;
        c->out_len     = 0;
}

/* Sends what it can of the pending replies. Returns -1 on a dead peer. */
static int client_flush(client_t *c)
{
        while (c->out_len > 0) {
                ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return 0;
                if (n <= 0)
                        return -1;
                memmove(c->out, c->out + n, c->out_len - (size_t)n);
                c->out_len -= (size_t)n;
        }
        return 0;
}

static void client_read(ek_control_t *ctl, client_t *c)
{
        char    buf[4096];
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

        if (n < 0 &&
            (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                return;
        if (n < 0) {
                client_close(c);
                return;
        }
        if (n == 0) {
                /* A last line without newline still counts. */
                if (c->in.len > 0 || c->in.overflow)
                        (void)linebuf_feed(ctl, &c->in, "\n", 1, client_sink,
                                           c);
                c->eof = 1;
                return;
        }
        if (linebuf_feed(ctl, &c->in, buf, (size_t)n, client_sink, c) != 0)
                client_close(c); /* not reading its replies */
}

static void accept_client(ek_control_t *ctl)
{
        int    fd;
        size_t i;

        fd = accept(ctl->listen_fd, NULL, NULL);
        if (fd < 0)
                return;
        if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
                close(fd);
                return;
        }
        for (i = 0; i < EK_CONTROL_CLIENTS_MAX; i++) {
                if (ctl->clients[i].fd < 0) {
                        ctl->clients[i].fd = fd;
                        return;
                }
        }
        close(fd); /* full: the client sees end of file without reply */
}

static void read_input(ek_control_t *ctl)
{
        char    buf[4096];
        ssize_t n = read(ctl->in_fd, buf, sizeof(buf));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                if (ctl->in.len > 0)
                        (void)linebuf_feed(ctl, &ctl->in, "\n", 1, stdout_sink,
                                           ctl);
                ctl->in_fd = -1; /* end of file (or error): stop reading */
                return;
        }
        (void)linebuf_feed(ctl, &ctl->in, buf, (size_t)n, stdout_sink, ctl);
}

static int open_listener(ek_control_t *ctl, const char *path, char *errstr,
                         size_t errstr_size)
{
        struct sockaddr_un sun;
        struct stat        st;

        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sun.sun_path)) {
                snprintf(errstr, errstr_size,
                         "control socket path longer than %zu bytes",
                         sizeof(sun.sun_path) - 1);
                return -1;
        }
        memcpy(sun.sun_path, path, strlen(path) + 1);

        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode)) {
                        snprintf(errstr, errstr_size,
                                 "%s exists and is not a socket", path);
                        return -1;
                }
                (void)unlink(path); /* stale socket of an earlier run */
        }
        ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (ctl->listen_fd < 0 ||
            fcntl(ctl->listen_fd, F_SETFD, FD_CLOEXEC) != 0 ||
            fcntl(ctl->listen_fd, F_SETFL, O_NONBLOCK) != 0) {
                snprintf(errstr, errstr_size, "socket: %s", strerror(errno));
                return -1;
        }
        if (bind(ctl->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
                snprintf(errstr, errstr_size, "bind %s: %s", path,
                         strerror(errno));
                return -1;
        }
        ctl->socket_path = strdup(path);
        if (!ctl->socket_path) {
                (void)unlink(path);
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (listen(ctl->listen_fd, EK_CONTROL_CLIENTS_MAX) != 0) {
                snprintf(errstr, errstr_size, "listen %s: %s", path,
                         strerror(errno));
                return -1;
        }
        return 0;
}

ek_control_t *ek_control_new(int in_fd, int out_fd, const char *socket_path,
                             ek_control_handler_t handler, void *opaque,
                             char *errstr, size_t errstr_size)
{
        ek_control_t *ctl;
        size_t        i;

        ctl = calloc(1, sizeof(*ctl));
        if (!ctl) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        ctl->in_fd     = in_fd;
        ctl->out_fd    = out_fd;
        ctl->listen_fd = -1;
        ctl->handler   = handler;
        ctl->opaque    = opaque;
        for (i = 0; i < EK_CONTROL_CLIENTS_MAX; i++)
                ctl->clients[i].fd = -1;

        if (socket_path &&
            open_listener(ctl, socket_path, errstr, errstr_size) != 0) {
                ek_control_destroy(ctl);
                return NULL;
        }
        return ctl;
}

int ek_control_run(ek_control_t *ctl, int stop_fd, int exit_on_eof,
                   char *errstr, size_t errstr_size)
{
        struct pollfd pfd[3 + EK_CONTROL_CLIENTS_MAX];
        client_t     *owner[3 + EK_CONTROL_CLIENTS_MAX];

        for (;;) {
                nfds_t n      = 0, i;
                int    in_idx = -1, listen_idx = -1;
                size_t c;

                if (ctl->in_fd < 0 && exit_on_eof)
                        return 1;

                pfd[n].fd     = stop_fd;
                pfd[n].events = POLLIN;
                owner[n++]    = NULL;
                if (ctl->in_fd >= 0) {
                        in_idx        = (int)n;
                        pfd[n].fd     = ctl->in_fd;
                        pfd[n].events = POLLIN;
                        owner[n++]    = NULL;
                }
                if (ctl->listen_fd >= 0) {
                        listen_idx    = (int)n;
                        pfd[n].fd     = ctl->listen_fd;
                        pfd[n].events = POLLIN;
                        owner[n++]    = NULL;
                }
                for (c = 0; c < EK_CONTROL_CLIENTS_MAX; c++) {
                        client_t *cl = &ctl->clients[c];

                        if (cl->fd < 0)
                                continue;
                        pfd[n].fd     = cl->fd;
                        pfd[n].events = (short)((cl->eof ? 0 : POLLIN) |
                                                (cl->out_len ? POLLOUT : 0));
                        owner[n++]    = cl;
                }

                if (poll(pfd, n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        snprintf(errstr, errstr_size, "poll: %s",
                                 strerror(errno));
                        return -1;
                }
                if (pfd[0].revents)
                        return 0;
                if (in_idx >= 0 && pfd[in_idx].revents)
                        read_input(ctl);
                if (listen_idx >= 0 && (pfd[listen_idx].revents & POLLIN))
                        accept_client(ctl);
                for (i = 0; i < n; i++) {
                        client_t *cl = owner[i];

                        if (!cl || cl->fd < 0 || !pfd[i].revents)
                                continue;
                        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                                client_read(ctl, cl);
                        if (cl->fd >= 0 && client_flush(cl) != 0)
                                client_close(cl);
                        if (cl->fd >= 0 && cl->eof && cl->out_len == 0)
                                client_close(cl);
                }
        }
}

void ek_control_destroy(ek_control_t *ctl)
{
        size_t i;

        if (!ctl)
                return;
        for (i = 0; i < EK_CONTROL_CLIENTS_MAX; i++)
                client_close(&ctl->clients[i]);
        if (ctl->listen_fd >= 0)
                close(ctl->listen_fd);
        if (ctl->socket_path) {
                (void)unlink(ctl->socket_path);
                free(ctl->socket_path);
        }
        free(ctl);
}
