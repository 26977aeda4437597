/*
 * ek_cluster - a librdkafka mock cluster (rdkafka_mock.h) and the control
 * commands applied to it.
 *
 * The cluster lives on an otherwise idle producer handle; its brokers run
 * in librdkafka's mock thread and listen on 127.0.0.1 at ports the kernel
 * picks. Broker ids are 1..broker_cnt.
 *
 * @locality one thread (the caller's) drives this module; the mock's own
 *           thread does the networking.
 */
#ifndef EK_CLUSTER_H
#define EK_CLUSTER_H

#include "ek_command.h"

#include <stddef.h>

typedef struct ek_cluster ek_cluster_t;

/* Creates a mock cluster of broker_cnt brokers (1..64). debug != 0 turns
 * on librdkafka's "mock" debug context, logged to stderr. Returns the
 * cluster (owned by the caller, free with ek_cluster_destroy) or NULL with
 * the reason in errstr. */
ek_cluster_t *ek_cluster_new(int broker_cnt, int debug, char *errstr,
                             size_t errstr_size);

/* The bootstrap.servers list, e.g. "127.0.0.1:40101,127.0.0.1:40103".
 * Owned by the cluster, valid until ek_cluster_destroy. */
const char *ek_cluster_bootstraps(const ek_cluster_t *cluster);

/* Creates a topic. replication 0 means min(3, broker count). The leader of
 * partition p is then pinned to broker (p mod broker_cnt) + 1 so that
 * tests see the same layout on every run. The topic is remembered (at
 * most 256) for "topic-down" and "topic-up", which make all its
 * partitions leaderless and restore the pinned leaders. Returns 0, or -1
 * with errstr (e.g. TOPIC_ALREADY_EXISTS). */
int ek_cluster_topic_create(ek_cluster_t *cluster, const char *topic,
                            int partitions, int replication, char *errstr,
                            size_t errstr_size);

/* Applies a parsed command and writes the one-line answer, "ok ..." or
 * "error ...", without newline, into reply. Returns 0 if the answer is
 * ok, -1 if it is an error. */
int ek_cluster_execute(ek_cluster_t *cluster, const ek_command_t *cmd,
                       char *reply, size_t reply_size);

/* Parses and applies one control line. Returns 1 if the line holds no
 * command (blank or comment: reply left empty, nothing to send), 0 if the
 * reply is "ok ...", -1 if it is "error ...". */
int ek_cluster_handle_line(ek_cluster_t *cluster, const char *line, char *reply,
                           size_t reply_size);

/* Destroys the mock cluster and its handle; closes every client
 * connection. NULL is a no-op. */
void ek_cluster_destroy(ek_cluster_t *cluster);

#endif /* EK_CLUSTER_H */
