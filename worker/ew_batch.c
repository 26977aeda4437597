/*
 * ew_batch - see ew_batch.h.
 *
 * The same loop as the worker, with a file in place of the consumer and
 * two files in place of the producer: lines are read while fewer than
 * worker.queue_high_watermark events are in the engine, and each terminal
 * message is written as one line and reported published at once.
 */
#include "ew_batch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ew_engine.h"
#include "ew_http.h"
#include "ew_log.h"
#include "ew_loop.h"
#include "ew_util.h"

#define READ_CHUNK 65536
#define PROGRESS_MS 250

typedef struct batch {
        const ew_config_t     *conf;
        const ew_batch_opts_t *opts;
        ew_loop_t             *loop;
        ew_http_t             *http;
        ew_engine_t           *eng;
        ew_batch_summary_t    *sum;

        int in_fd;
        int in_stream; /* pipe or terminal: read when the loop says so */
        int readable;
        int eof;
        const char *in_name;
        off_t       in_size, in_read;

        char     *buf; /* unfinished line */
        size_t    len, cap, max_line;
        int       skipping; /* discarding the rest of an over-long line */
        long long line_no;

        FILE *out, *dead;
        int   write_failed;

        int     sigfd, signals;
        int     progress;
        int64_t start_ms, next_progress_ms;
} batch_t;

static int on_publish(void *arg, ew_job_t *job, const ew_output_t *out)
{
        batch_t    *b    = arg;
        FILE       *fp   = out->dead_letter && b->dead ? b->dead : b->out;
        char       *line = NULL;
        const void *data;
        size_t      len;

        if (out->dead_letter) {
                line = ew_message_dead_letter_json(out->dead, out->value,
                                                   out->value_len, &len);
                if (!line)
                        return -1; /* out of memory: the engine tries again */
                data = line;
                switch (out->dead->kind) {
                case EW_DEAD_INVALID_EVENT:
                        b->sum->invalid_event++;
                        break;
                case EW_DEAD_REJECTED:
                        b->sum->rejected++;
                        break;
                default:
                        b->sum->retries_exhausted++;
                        break;
                }
        } else {
                data = out->value;
                len  = out->value_len;
                if (out->kind == EW_RESULT_ENGAGEMENT)
                        b->sum->engagement++;
                else if (out->kind == EW_RESULT_CONVERSATION)
                        b->sum->conversation++;
                else
                        b->sum->unavailable++;
        }
        if (fwrite(data, 1, len, fp) != len || fputc('\n', fp) == EOF)
                b->write_failed = errno ? errno : EIO;
        free(line);
        b->sum->events++;
        ew_engine_published(b->eng, job, NULL);
        return 0;
}

static void on_signal(ew_loop_t *loop, int fd, int events, void *opaque)
{
        batch_t                *b = opaque;
        struct signalfd_siginfo si;

        (void)loop;
        (void)events;
        while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                b->signals++;
                if (b->signals == 1)
                        EW_INFO("batch",
                                "%s: reading no more input; finishing "
                                "the events already read (again to "
                                "stop at once)",
                                strsignal((int)si.ssi_signo));
        }
}

static void on_readable(ew_loop_t *loop, int fd, int events, void *opaque)
{
        batch_t *b = opaque;

        (void)loop;
        (void)fd;
        (void)events;
        b->readable = 1;
}

static void submit_line(batch_t *b, const char *line, size_t len)
{
        ew_input_t in;

        b->line_no++;
        while (len > 0 && (line[len - 1] == '\r'))
                len--;
        if (len == 0 || strspn(line, " \t") == len)
                return; /* blank */
        memset(&in, 0, sizeof(in));
        in.value            = line;
        in.value_len        = len;
        in.source.topic     = b->in_name;
        in.source.partition = 0;
        in.source.offset    = b->line_no;
        in.timestamp_ms     = ew_wall_ms();
        if (ew_engine_submit(b->eng, &in) == -1)
                EW_ERROR("batch", "line %lld: out of memory; skipped",
                         b->line_no);
}

/* Splits what was read into lines. A line longer than max_line is cut
 * there (the engine refuses it as oversized) and the rest skipped. */
static void take_bytes(batch_t *b, const char *p, size_t n)
{
        while (n > 0) {
                const char *nl   = memchr(p, '\n', n);
                size_t      part = nl ? (size_t)(nl - p) : n;
                size_t      room = b->max_line - b->len;

                if (!b->skipping) {
                        size_t take = part < room ? part : room;
                        memcpy(b->buf + b->len, p, take);
                        b->len += take;
                        if (take < part)
                                b->skipping = 1;
                }
                if (nl) {
                        submit_line(b, b->buf, b->len);
                        b->len      = 0;
                        b->skipping = 0;
                        p += part + 1;
                        n -= part + 1;
                } else {
                        break;
                }
        }
}

static void read_some(batch_t *b)
{
        char    chunk[READ_CHUNK];
        ssize_t r;

        r = read(b->in_fd, chunk, sizeof(chunk));
        if (r > 0) {
                b->in_read += r;
                take_bytes(b, chunk, (size_t)r);
                return;
        }
        if (r == -1 && (errno == EAGAIN || errno == EINTR)) {
                b->readable = 0;
                return;
        }
        if (r == -1)
                EW_ERROR("batch", "reading %s: %s", b->in_name,
                         strerror(errno));
        if (b->len > 0) /* last line without a newline */
                submit_line(b, b->buf, b->len);
        b->len = 0;
        b->eof = 1;
}

static void show_progress(batch_t *b, int final)
{
        int64_t now     = ew_mono_ms();
        double  secs    = (double)(now - b->start_ms) / 1000.0;
        double  rate    = secs > 0 ? (double)b->sum->events / secs : 0;
        char    eta[64] = "";

        if (!b->progress || (!final && now < b->next_progress_ms))
                return;
        b->next_progress_ms = now + PROGRESS_MS;
        if (!final && b->in_size > 0 && b->in_read > 0) {
                double frac = (double)b->in_read / (double)b->in_size;
                if (frac > 0.01 && frac < 1.0)
                        ew_snprintf(eta, sizeof(eta), ", ETA %.0f s",
                                    secs * (1.0 - frac) / frac);
        }
        fprintf(stderr, "\r%lld events done, %.0f/s%s\033[K%s", b->sum->events,
                rate, eta, final ? "\n" : "");
        fflush(stderr);
}

static int open_output(const char *path, FILE **fpp, char *errstr,
                       size_t errstr_size)
{
        if (!path || !strcmp(path, "-")) {
                *fpp = stdout;
                return 0;
        }
        *fpp = fopen(path, "w");
        if (!*fpp) {
                ew_snprintf(errstr, errstr_size, "cannot write %s: %s", path,
                            strerror(errno));
                return -1;
        }
        return 0;
}

static int64_t engine_waiting(const batch_t *b)
{
        ew_engine_stats_t st;

        ew_engine_get_stats(b->eng, &st);
        return st.waiting;
}

int ew_batch_run(const ew_config_t *conf, const ew_batch_opts_t *opts,
                 ew_batch_summary_t *summary, char *errstr, size_t errstr_size)
{
        ew_engine_hooks_t hooks;
        struct stat       st;
        sigset_t          sigs;
        batch_t           b;
        int               rc = 1;

        memset(summary, 0, sizeof(*summary));
        memset(&b, 0, sizeof(b));
        b.conf     = conf;
        b.opts     = opts;
        b.sum      = summary;
        b.in_fd    = -1;
        b.sigfd    = -1;
        b.out      = NULL;
        b.max_line = (size_t)conf->worker.max_event_bytes + 1;
        b.start_ms = ew_mono_ms();

        if (!strcmp(opts->input, "-")) {
                b.in_fd   = STDIN_FILENO;
                b.in_name = "stdin";
        } else {
                b.in_fd   = open(opts->input, O_RDONLY | O_CLOEXEC);
                b.in_name = opts->input;
                if (b.in_fd == -1) {
                        ew_snprintf(errstr, errstr_size, "cannot read %s: %s",
                                    opts->input, strerror(errno));
                        goto done;
                }
        }
        if (fstat(b.in_fd, &st) == 0 && S_ISREG(st.st_mode))
                b.in_size = st.st_size;
        else
                b.in_stream = 1;
        b.progress =
            opts->progress >= 0 ? opts->progress : isatty(STDERR_FILENO);

        b.buf = malloc(b.max_line);
        if (!b.buf) {
                ew_snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        if (open_output(opts->output, &b.out, errstr, errstr_size) == -1)
                goto done;
        if (opts->dead_letter &&
            open_output(opts->dead_letter, &b.dead, errstr, errstr_size) == -1)
                goto done;

        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &sigs, NULL) == -1 ||
            (b.sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
                ew_snprintf(errstr, errstr_size, "signals: %s",
                            strerror(errno));
                goto done;
        }
        b.loop = ew_loop_new(errstr, errstr_size);
        if (!b.loop)
                goto done;
        ew_loop_set(b.loop, b.sigfd, EW_LOOP_READ, on_signal, &b);
        if (b.in_stream) {
                fcntl(b.in_fd, F_SETFL, fcntl(b.in_fd, F_GETFL) | O_NONBLOCK);
                if (ew_loop_set(b.loop, b.in_fd, EW_LOOP_READ, on_readable,
                                &b) == -1) {
                        ew_snprintf(errstr, errstr_size, "cannot watch %s: %s",
                                    b.in_name, strerror(errno));
                        goto done;
                }
        }

        b.http = ew_engine_http_new(b.loop, conf, errstr, errstr_size);
        if (!b.http)
                goto done;
        memset(&hooks, 0, sizeof(hooks));
        hooks.publish = on_publish;
        hooks.arg     = &b;
        b.eng = ew_engine_new(conf, b.http, &hooks, errstr, errstr_size);
        if (!b.eng)
                goto done;

        while (b.signals < 2 && !b.write_failed) {
                int64_t waiting    = engine_waiting(&b);
                int     want_input = !b.eof && !b.signals &&
                                 waiting < conf->worker.queue_high_watermark;
                long wait = 250, t;

                if (b.eof || b.signals) {
                        if (waiting == 0)
                                break;
                }
                if (b.in_stream)
                        ew_loop_set(b.loop, b.in_fd,
                                    want_input ? EW_LOOP_READ : 0, on_readable,
                                    &b);
                if (want_input && (!b.in_stream || b.readable)) {
                        read_some(&b);
                        wait = 0;
                }
                t = ew_http_timeout_ms(b.http);
                if (t >= 0 && t < wait)
                        wait = t;
                t = ew_engine_timeout_ms(b.eng);
                if (t >= 0 && t < wait)
                        wait = t;
                ew_loop_run_once(b.loop, (int)wait);
                if (ew_http_timeout_ms(b.http) == 0)
                        ew_http_on_timeout(b.http);
                ew_engine_run_timers(b.eng);
                show_progress(&b, 0);
        }
        show_progress(&b, 1);

        if (b.write_failed) {
                ew_snprintf(errstr, errstr_size, "writing the results: %s",
                            strerror(b.write_failed));
                rc = 1;
        } else if (b.signals) {
                rc = 130;
        } else {
                rc = summary->invalid_event + summary->rejected +
                             summary->retries_exhausted
                         ? 3
                         : 0;
        }

done:
        summary->seconds = (double)(ew_mono_ms() - b.start_ms) / 1000.0;
        ew_engine_destroy(b.eng);
        ew_http_destroy(b.http);
        if (b.loop && b.in_stream && b.in_fd != -1)
                ew_loop_del(b.loop, b.in_fd);
        if (b.loop && b.sigfd != -1)
                ew_loop_del(b.loop, b.sigfd);
        ew_loop_destroy(b.loop);
        if (b.sigfd != -1)
                close(b.sigfd);
        if (b.in_fd > STDIN_FILENO)
                close(b.in_fd);
        if (b.out && b.out != stdout && fclose(b.out) != 0 && rc != 1) {
                ew_snprintf(errstr, errstr_size, "closing %s: %s", opts->output,
                            strerror(errno));
                rc = 1;
        } else if (b.out == stdout && fflush(stdout) != 0 && rc != 1) {
                ew_snprintf(errstr, errstr_size, "writing stdout: %s",
                            strerror(errno));
                rc = 1;
        }
        if (b.dead && b.dead != stdout && fclose(b.dead) != 0 && rc != 1) {
                ew_snprintf(errstr, errstr_size, "closing %s: %s",
                            opts->dead_letter, strerror(errno));
                rc = 1;
        }
        free(b.buf);
        return rc;
}
