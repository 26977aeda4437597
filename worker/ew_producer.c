/*
 * ew_producer - see ew_producer.h.
 */
#include "ew_producer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ew_kafka_conf.h"
#include "ew_log.h"
#include "ew_util.h"

struct ew_producer {
        rd_kafka_t       *rk;
        rd_kafka_queue_t *mainq;
        rd_kafka_topic_t *rkt_out;
        rd_kafka_topic_t *rkt_dead;
        ew_loop_t        *loop;
        int wake_fds[2]; /* librdkafka writes [1] when mainq gets events */
        ew_producer_dr_cb_t *dr_cb;
        void                *arg;
};

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                      void *opaque)
{
        ew_producer_t *p = opaque;

        (void)rk;
        if (!p->dr_cb) /* purged at destroy: nobody waits for it */
                return;
        if (rkm->err) {
                char err[512];
                ew_snprintf(err, sizeof(err), "%s [%d]: %s",
                            rd_kafka_topic_name(rkm->rkt), rkm->partition,
                            rd_kafka_err2str(rkm->err));
                p->dr_cb(p->arg, rkm->_private, err,
                         rkm->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
        } else {
                p->dr_cb(p->arg, rkm->_private, NULL, 0);
        }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        (void)rk;
        (void)opaque;
        if (err == RD_KAFKA_RESP_ERR__FATAL)
                EW_ERROR("producer", "fatal error: %s", reason);
        else
                EW_WARN("producer", "%s: %s",
                        rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void on_wake(ew_loop_t *loop, int fd, int events, void *opaque)
{
        (void)loop;
        (void)events;
        ew_fd_drain(fd);
        ew_producer_poll(opaque);
}

ew_producer_t *ew_producer_new(const ew_config_t *conf, ew_loop_t *loop,
                               ew_producer_dr_cb_t *dr_cb, void *arg,
                               char *errstr, size_t errstr_size)
{
        ew_producer_t   *p;
        rd_kafka_conf_t *rkc;
        char             why[512];

        p = calloc(1, sizeof(*p));
        if (!p) {
                ew_snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        p->wake_fds[0] = p->wake_fds[1] = -1;
        p->loop                         = loop;
        p->dr_cb                        = dr_cb;
        p->arg                          = arg;

        rkc = ew_kafka_conf_new(conf, EW_KAFKA_PRODUCER, errstr, errstr_size);
        if (!rkc)
                goto error;
        rd_kafka_conf_set_dr_msg_cb(rkc, dr_msg_cb);
        rd_kafka_conf_set_error_cb(rkc, error_cb);
        rd_kafka_conf_set_opaque(rkc, p);

        p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, why, sizeof(why));
        if (!p->rk) {
                rd_kafka_conf_destroy(rkc);
                ew_snprintf(errstr, errstr_size, "cannot create producer: %s",
                            why);
                goto error;
        }
        /* rkc now belongs to p->rk. */

        p->rkt_out = rd_kafka_topic_new(p->rk, conf->kafka.output_topic, NULL);
        p->rkt_dead =
            rd_kafka_topic_new(p->rk, conf->kafka.dead_letter_topic, NULL);
        if (!p->rkt_out || !p->rkt_dead) {
                ew_snprintf(errstr, errstr_size,
                            "cannot create topic handle: %s",
                            rd_kafka_err2str(rd_kafka_last_error()));
                goto error;
        }

        if (ew_pipe_nonblock(p->wake_fds) == -1) {
                ew_snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
                goto error;
        }
        p->mainq = rd_kafka_queue_get_main(p->rk);
        rd_kafka_queue_io_event_enable(p->mainq, p->wake_fds[1], "1", 1);
        if (ew_loop_set(loop, p->wake_fds[0], EW_LOOP_READ, on_wake, p) == -1) {
                ew_snprintf(errstr, errstr_size, "epoll: %s", strerror(errno));
                goto error;
        }
        return p;

error:
        ew_producer_destroy(p, 0);
        return NULL;
}

void ew_producer_destroy(ew_producer_t *p, int timeout_ms)
{
        if (!p)
                return;
        if (p->rk && timeout_ms > 0)
                ew_producer_flush(p, timeout_ms);
        if (p->wake_fds[0] != -1)
                ew_loop_del(p->loop, p->wake_fds[0]);
        if (p->mainq) {
                rd_kafka_queue_io_event_enable(p->mainq, -1, NULL, 0);
                rd_kafka_queue_destroy(p->mainq);
        }
        if (p->rkt_out)
                rd_kafka_topic_destroy(p->rkt_out);
        if (p->rkt_dead)
                rd_kafka_topic_destroy(p->rkt_dead);
        if (p->rk) {
                int left = rd_kafka_outq_len(p->rk);
                if (left > 0)
                        EW_WARN("producer",
                                "%d message(s) not delivered at shutdown; "
                                "their inputs stay uncommitted",
                                left);
                /* Pending messages' payloads belong to their jobs: purge so
                 * no delivery callback runs after this point. */
                rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE |
                                          RD_KAFKA_PURGE_F_INFLIGHT |
                                          RD_KAFKA_PURGE_F_NON_BLOCKING);
                p->dr_cb = NULL;
                rd_kafka_destroy(p->rk);
        }
        if (p->wake_fds[0] != -1)
                close(p->wake_fds[0]);
        if (p->wake_fds[1] != -1)
                close(p->wake_fds[1]);
        free(p);
}

int ew_producer_send(ew_producer_t *p, int dead_letter, const void *key,
                     size_t key_len, const void *value, size_t value_len,
                     const rd_kafka_headers_t *headers, void *msg_opaque,
                     char *errstr, size_t errstr_size)
{
        rd_kafka_headers_t *hdrs =
            headers ? rd_kafka_headers_copy(headers) : NULL;
        /* A plain variable: librdkafka's macro casts its argument without
         * parentheses. */
        rd_kafka_topic_t   *rkt = dead_letter ? p->rkt_dead : p->rkt_out;
        rd_kafka_resp_err_t err;

        err = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(rkt),
                                RD_KAFKA_V_KEY(key, key_len),
                                RD_KAFKA_V_VALUE((void *)value, value_len),
                                RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (err) {
                /* Headers are only taken over on success. */
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                ew_snprintf(errstr, errstr_size, "produce to %s: %s",
                            dead_letter ? "dead-letter topic" : "output topic",
                            rd_kafka_err2str(err));
                return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? -2 : -1;
        }
        return 0;
}

void ew_producer_poll(ew_producer_t *p)
{
        rd_kafka_poll(p->rk, 0);
}

int ew_producer_flush(ew_producer_t *p, int timeout_ms)
{
        rd_kafka_flush(p->rk, timeout_ms);
        return rd_kafka_outq_len(p->rk);
}

int ew_producer_outq_len(const ew_producer_t *p)
{
        return rd_kafka_outq_len(p->rk);
}

const char *ew_producer_fatal(ew_producer_t *p, char *buf, size_t size)
{
        if (rd_kafka_fatal_error(p->rk, buf, size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
                return NULL;
        return buf;
}
