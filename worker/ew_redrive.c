/*
 * ew_redrive - see ew_redrive.h.
 */
#include "ew_redrive.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "ew_kafka_conf.h"
#include "ew_log.h"
#include "ew_message.h"
#include "ew_util.h"

/* Headers the worker added to the dead letter: not the event's own. */
static const char *const added_headers[] = {
    EW_HDR_ERROR_KIND,          EW_HDR_ERROR_MESSAGE,  EW_HDR_ERROR_HTTP_STATUS,
    EW_HDR_ERROR_INTERNAL_CODE, EW_HDR_ERROR_ATTEMPTS, EW_HDR_SOURCE_TOPIC,
    EW_HDR_SOURCE_PARTITION,    EW_HDR_SOURCE_OFFSET,  EW_HDR_EVENT_ID,
    EW_HDR_FAILED_AT,           EW_REDRIVE_HEADER,
};

int ew_redrive_parse_time(const char *s, int64_t *ms)
{
        struct tm   tm;
        const char *p;
        long        frac   = 0;
        int         digits = 0, off = 0, n = 0;
        time_t      t;
        char       *end;

        if (!s || !*s)
                return -1;
        if (strspn(s, "0123456789") == strlen(s)) {
                *ms = strtoll(s, NULL, 10);
                return 0;
        }
        memset(&tm, 0, sizeof(tm));
        if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
            n != 19 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
            tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
            tm.tm_sec > 60)
                return -1;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        p = s + n;
        if (*p == '.') {
                for (p++; isdigit((unsigned char)*p); p++, digits++)
                        if (digits < 3)
                                frac = frac * 10 + (*p - '0');
                if (digits == 0)
                        return -1;
                for (; digits < 3; digits++)
                        frac *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                long h = strtol(p + 1, &end, 10);
                if (end != p + 3 || *end != ':')
                        return -1;
                off = (int)(h * 60 + strtol(end + 1, &end, 10));
                if (end != p + 6)
                        return -1;
                if (*p == '-')
                        off = -off;
                p = end;
        } else {
                return -1;
        }
        if (*p)
                return -1;
        t   = timegm(&tm);
        *ms = ((int64_t)t - (int64_t)off * 60) * 1000 + frac;
        return 0;
}

static int header_text(const rd_kafka_headers_t *hdrs, const char *name,
                       char *buf, size_t size)
{
        const void *val;
        size_t      len;

        if (!hdrs ||
            rd_kafka_header_get_last(hdrs, name, &val, &len) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            !val || len >= size)
                return -1;
        memcpy(buf, val, len);
        buf[len] = '\0';
        return 0;
}

static int is_added(const char *name)
{
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(added_headers); i++)
                if (!strcmp(name, added_headers[i]))
                        return 1;
        return 0;
}

/* Decides whether rkm is replayed; fills *count with its replays so far. */
static int selected(const ew_redrive_opts_t  *opts,
                    const rd_kafka_message_t *rkm,
                    const rd_kafka_headers_t *hdrs, int *count,
                    const char **why)
{
        char    buf[128];
        int64_t failed;
        int     i, kind_ok = opts->kinds_cnt == 0;

        (void)rkm;
        *count = 0;
        if (header_text(hdrs, EW_REDRIVE_HEADER, buf, sizeof(buf)) == 0)
                *count = atoi(buf);
        if (header_text(hdrs, EW_HDR_ERROR_KIND, buf, sizeof(buf)) == -1) {
                *why = "not a dead letter of this worker (no error.kind)";
                return 0;
        }
        for (i = 0; i < opts->kinds_cnt; i++)
                if (!strcmp(buf, opts->kinds[i]))
                        kind_ok = 1;
        if (!kind_ok) {
                *why = "kind not selected";
                return 0;
        }
        if (opts->since_ms >= 0 &&
            (header_text(hdrs, EW_HDR_FAILED_AT, buf, sizeof(buf)) == -1 ||
             ew_redrive_parse_time(buf, &failed) == -1 ||
             failed < opts->since_ms)) {
                *why = "failed before --since";
                return 0;
        }
        return 1;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
        long long *failed = opaque;

        (void)rk;
        if (rkm->err) {
                (*failed)++;
                EW_ERROR("redrive", "not delivered: %s",
                         rd_kafka_err2str(rkm->err));
        }
}

int ew_redrive_run(const ew_config_t *conf, const ew_redrive_opts_t *opts,
                   ew_redrive_summary_t *sum, char *errstr, size_t errstr_size)
{
        rd_kafka_t                      *consumer = NULL, *producer = NULL;
        rd_kafka_conf_t                 *cc = NULL, *pc = NULL;
        rd_kafka_topic_partition_list_t *assign = NULL;
        const rd_kafka_metadata_t       *md     = NULL;
        rd_kafka_topic_t                *rkt    = NULL;
        int64_t                         *ends   = NULL;
        long long                        failed = 0;
        const char                      *topic  = conf->kafka.dead_letter_topic;
        int64_t                          deadline;
        int                              i, pcnt = 0, open_parts = 0, rc = -1;
        char                             why[512], group[300];

        memset(sum, 0, sizeof(*sum));
        cc = ew_kafka_conf_new(conf, EW_KAFKA_CONSUMER, errstr, errstr_size);
        if (!cc)
                goto done;
        ew_snprintf(group, sizeof(group), "%s-redrive", conf->kafka.group_id);
        if (rd_kafka_conf_set(cc, "group.id", group, why, sizeof(why)) ||
            rd_kafka_conf_set(cc, "enable.auto.commit", "false", why,
                              sizeof(why)) ||
            rd_kafka_conf_set(cc, "enable.partition.eof", "true", why,
                              sizeof(why))) {
                ew_snprintf(errstr, errstr_size, "consumer config: %s", why);
                goto done;
        }
        consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, why, sizeof(why));
        if (!consumer) {
                ew_snprintf(errstr, errstr_size, "cannot create consumer: %s",
                            why);
                goto done;
        }
        cc = NULL; /* owned by consumer */

        pc = ew_kafka_conf_new(conf, EW_KAFKA_PRODUCER, errstr, errstr_size);
        if (!pc)
                goto done;
        rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
        rd_kafka_conf_set_opaque(pc, &failed);
        producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, why, sizeof(why));
        if (!producer) {
                ew_snprintf(errstr, errstr_size, "cannot create producer: %s",
                            why);
                goto done;
        }
        pc = NULL;

        rkt = rd_kafka_topic_new(consumer, topic, NULL);
        if (!rkt ||
            rd_kafka_metadata(consumer, 0, rkt, &md, 10000) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            md->topic_cnt != 1 || md->topics[0].err) {
                ew_snprintf(errstr, errstr_size,
                            "cannot read the metadata of topic %s", topic);
                goto done;
        }
        pcnt   = md->topics[0].partition_cnt;
        ends   = calloc((size_t)pcnt + 1, sizeof(*ends));
        assign = rd_kafka_topic_partition_list_new(pcnt);
        if (!ends || !assign) {
                ew_snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        /* The end of each partition now: what fails during the replay is
         * not replayed by this run. */
        for (i = 0; i < pcnt; i++) {
                int32_t p = md->topics[0].partitions[i].id;
                int64_t lo, hi;
                if (rd_kafka_query_watermark_offsets(consumer, topic, p, &lo,
                                                     &hi, 10000)) {
                        ew_snprintf(errstr, errstr_size,
                                    "cannot read the offsets of %s [%d]", topic,
                                    p);
                        goto done;
                }
                if (hi <= lo)
                        continue;
                ends[i] = hi;
                rd_kafka_topic_partition_list_add(assign, topic, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
                open_parts++;
        }
        if (open_parts && rd_kafka_assign(consumer, assign)) {
                ew_snprintf(errstr, errstr_size, "cannot assign %s", topic);
                goto done;
        }

        deadline =
            ew_mono_ms() + (opts->timeout_ms > 0 ? opts->timeout_ms : 60000);
        while (open_parts > 0) {
                rd_kafka_message_t *rkm;
                rd_kafka_headers_t *hdrs = NULL, *out = NULL;
                const char         *skip_why = NULL;
                int                 count, idx = -1;

                if (ew_mono_ms() > deadline) {
                        ew_snprintf(errstr, errstr_size,
                                    "timed out reading %s (%d partition(s) "
                                    "not finished)",
                                    topic, open_parts);
                        goto done;
                }
                rkm = rd_kafka_consumer_poll(consumer, 500);
                if (!rkm)
                        continue;
                for (i = 0; i < pcnt; i++)
                        if (md->topics[0].partitions[i].id == rkm->partition)
                                idx = i;
                if (rkm->err) {
                        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                EW_WARN("redrive", "%s",
                                        rd_kafka_message_errstr(rkm));
                        else if (idx >= 0 && ends[idx] > 0 &&
                                 rkm->offset >= ends[idx]) {
                                ends[idx] = 0;
                                open_parts--;
                        }
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                if (idx < 0 || ends[idx] == 0 || rkm->offset >= ends[idx]) {
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                sum->read++;
                rd_kafka_message_headers(rkm, &hdrs);
                if (!selected(opts, rkm, hdrs, &count, &skip_why)) {
                        sum->skipped++;
                        EW_DEBUG("redrive", "%s [%d] offset %lld skipped: %s",
                                 topic, rkm->partition, (long long)rkm->offset,
                                 skip_why);
                } else if (count >= opts->max_redrives) {
                        sum->refused++;
                        EW_WARN("redrive",
                                "%s [%d] offset %lld refused: already "
                                "redriven %d time(s) (limit %d)",
                                topic, rkm->partition, (long long)rkm->offset,
                                count, opts->max_redrives);
                } else if (!opts->dry_run) {
                        const char         *name;
                        const void         *val;
                        size_t              size, h;
                        char                cnt[16];
                        rd_kafka_resp_err_t err;

                        out = rd_kafka_headers_new(8);
                        for (h = 0; hdrs && !rd_kafka_header_get_all(
                                                hdrs, h, &name, &val, &size);
                             h++)
                                if (!is_added(name))
                                        rd_kafka_header_add(out, name, -1, val,
                                                            (ssize_t)size);
                        ew_snprintf(cnt, sizeof(cnt), "%d", count + 1);
                        rd_kafka_header_add(out, EW_REDRIVE_HEADER, -1, cnt,
                                            -1);
                        err = rd_kafka_producev(
                            producer, RD_KAFKA_V_TOPIC(conf->kafka.input_topic),
                            RD_KAFKA_V_KEY(rkm->key, rkm->key_len),
                            RD_KAFKA_V_VALUE(rkm->payload, rkm->len),
                            RD_KAFKA_V_HEADERS(out),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_END);
                        if (err) {
                                rd_kafka_headers_destroy(out);
                                ew_snprintf(errstr, errstr_size,
                                            "produce to %s: %s",
                                            conf->kafka.input_topic,
                                            rd_kafka_err2str(err));
                                rd_kafka_message_destroy(rkm);
                                goto done;
                        }
                        rd_kafka_poll(producer, 0);
                        sum->redriven++;
                } else {
                        sum->redriven++;
                }
                if (rkm->offset + 1 >= ends[idx]) {
                        ends[idx] = 0;
                        open_parts--;
                }
                rd_kafka_message_destroy(rkm);
        }

        if (rd_kafka_flush(producer, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            failed > 0) {
                ew_snprintf(errstr, errstr_size,
                            "%lld replayed event(s) not acknowledged by the "
                            "broker",
                            failed + rd_kafka_outq_len(producer));
                goto done;
        }
        rc = 0;

done:
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        if (assign)
                rd_kafka_topic_partition_list_destroy(assign);
        free(ends);
        if (cc)
                rd_kafka_conf_destroy(cc);
        if (pc)
                rd_kafka_conf_destroy(pc);
        if (consumer) {
                rd_kafka_consumer_close(consumer);
                rd_kafka_destroy(consumer);
        }
        if (producer)
                rd_kafka_destroy(producer);
        return rc;
}
