/*
 * ek_client - see ek_client.h.
 */
#include "ek_client.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends all of buf. Returns 0 or -1. */
static int send_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

int ek_client_send(const char *path, const char *line, int timeout_ms,
                   char *reply, size_t reply_size, char *errstr,
                   size_t errstr_size)
{
        struct sockaddr_un sun;
        int                fd = -1, rc = -1;
        size_t             len      = 0;
        int64_t            deadline = mono_ms() + timeout_ms;

        if (reply_size < 2) {
                snprintf(errstr, errstr_size, "reply buffer too small");
                goto done;
        }
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sun.sun_path)) {
                snprintf(errstr, errstr_size, "socket path too long");
                goto done;
        }
        memcpy(sun.sun_path, path, strlen(path) + 1);

        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
                snprintf(errstr, errstr_size, "connect %s: %s", path,
                         strerror(errno));
                goto done;
        }
        if (send_all(fd, line, strlen(line)) != 0 ||
            send_all(fd, "\n", 1) != 0) {
                snprintf(errstr, errstr_size, "send: %s", strerror(errno));
                goto done;
        }
        /* One command per connection: tell the server we are done. */
        (void)shutdown(fd, SHUT_WR);

        for (;;) {
                struct pollfd pfd  = {.fd = fd, .events = POLLIN};
                int64_t       left = deadline - mono_ms();
                ssize_t       n;
                char         *nl;

                if (left <= 0) {
                        snprintf(errstr, errstr_size, "no reply within %d ms",
                                 timeout_ms);
                        goto done;
                }
                if (poll(&pfd, 1, (int)left) < 0) {
                        if (errno == EINTR)
                                continue;
                        snprintf(errstr, errstr_size, "poll: %s",
                                 strerror(errno));
                        goto done;
                }
                if (!pfd.revents)
                        continue;
                n = recv(fd, reply + len, reply_size - 1 - len, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        snprintf(errstr, errstr_size, "recv: %s",
                                 strerror(errno));
                        goto done;
                }
                if (n == 0) {
                        snprintf(errstr, errstr_size,
                                 "connection closed without a reply");
                        goto done;
                }
                len += (size_t)n;
                reply[len] = '\0';
                nl         = strchr(reply, '\n');
                if (nl) {
                        *nl = '\0';
                        rc  = 0;
                        goto done;
                }
                if (len + 1 == reply_size) {
                        rc = 0; /* keep the truncated reply */
                        goto done;
                }
        }

done:
        if (fd >= 0)
                close(fd);
        return rc;
}
