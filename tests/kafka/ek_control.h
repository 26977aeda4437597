/*
 * ek_control - the control channel of embedded-kafka: command lines read
 * from a file descriptor (stdin) and from clients of a unix stream socket,
 * one reply line written back for each command line.
 *
 * Lines are at most EK_COMMAND_LINE_MAX bytes; a longer one is answered
 * "error line too long" and skipped. Blank lines and '#' comments get no
 * reply. Socket clients are served concurrently (at most
 * EK_CONTROL_CLIENTS_MAX; more are closed on accept) and each may send any
 * number of lines on one connection; the replies come back in order.
 *
 * @locality one thread: ek_control_run() is a poll(2) loop on the caller's
 *           thread and calls the handler there.
 */
#ifndef EK_CONTROL_H
#define EK_CONTROL_H

#include <stddef.h>

#define EK_CONTROL_CLIENTS_MAX 16
/* Longest reply line passed to the handler's buffer, NUL included. */
#define EK_CONTROL_REPLY_MAX 1024

/* Handles one line and writes the reply (without newline) into reply.
 * Returns 1 if the line needs no reply, else 0 or -1 (ok / error: both
 * are sent). */
typedef int (*ek_control_handler_t)(void *opaque, const char *line, char *reply,
                                    size_t reply_size);

typedef struct ek_control ek_control_t;

/* Sets up the channel. in_fd (-1: none) is read for lines whose replies
 * go to out_fd (blocking writes); neither is closed by this module.
 * socket_path (NULL: none) is created as a listening unix socket; a stale
 * socket file at that path is replaced, any other file is an error.
 * Returns the channel (free with ek_control_destroy) or NULL with errstr. */
ek_control_t *ek_control_new(int in_fd, int out_fd, const char *socket_path,
                             ek_control_handler_t handler, void *opaque,
                             char *errstr, size_t errstr_size);

/* Serves the channel until stop_fd becomes readable (returns 0), or, if
 * exit_on_eof, until in_fd reaches end of file (returns 1). Without
 * exit_on_eof, end of file on in_fd just stops reading it. Returns -1 on a
 * poll failure, with the reason in errstr. */
int ek_control_run(ek_control_t *ctl, int stop_fd, int exit_on_eof,
                   char *errstr, size_t errstr_size);

/* Closes every client and the listening socket and removes the socket
 * file. NULL is a no-op. */
void ek_control_destroy(ek_control_t *ctl);

#endif /* EK_CONTROL_H */
