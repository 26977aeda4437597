/*
 * ek_client - the sending side of the control socket: connect, send one
 * command line, read its one-line reply. This is what `embedded-kafka
 * --ctl PATH COMMAND...` runs, so shell tests need no socat or nc.
 */
#ifndef EK_CLIENT_H
#define EK_CLIENT_H

#include <stddef.h>

/* Sends line (a newline is added) to the control socket at path and waits
 * up to timeout_ms for the reply, written into reply without its newline.
 * Returns 0 if a reply arrived (whatever it says), -1 on a connection
 * error or timeout with the reason in errstr. */
int ek_client_send(const char *path, const char *line, int timeout_ms,
                   char *reply, size_t reply_size, char *errstr,
                   size_t errstr_size);

#endif /* EK_CLIENT_H */
