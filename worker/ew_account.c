/*
 * ew_account - see ew_account.h.
 */
#include "ew_account.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ew_util.h"

#define DOMAIN_BACKOFF_MIN_MS 1000
#define DOMAIN_BACKOFF_MAX_MS 60000

ew_account_t *ew_account_new(const char *id, const ew_account_conf_t *conf,
                             int64_t now_ms)
{
        ew_account_t *acct = calloc(1, sizeof(*acct));

        if (!acct)
                return NULL;
        acct->id   = strdup(id);
        acct->conf = conf;
        if (!acct->id)
                goto error;
        if (conf->base_url) {
                acct->base_url = strdup(conf->base_url);
                if (!acct->base_url)
                        goto error;
                acct->domain            = EW_DOMAIN_READY;
                acct->domain_expires_ms = INT64_MAX;
        }
        acct->tokens    = conf->burst > 0
                              ? conf->burst
                              : (conf->rate_per_s > 1 ? conf->rate_per_s : 1);
        acct->refill_ms = now_ms;
        acct->wake_ms   = -1;
        ew_timer_init(&acct->wake_timer);
        return acct;

error:
        ew_account_destroy(acct);
        return NULL;
}

void ew_account_destroy(ew_account_t *acct)
{
        if (!acct)
                return;
        free(acct->id);
        free(acct->base_url);
        free(acct);
}

const char *ew_circuit_str(ew_circuit_t c)
{
        switch (c) {
        case EW_CIRCUIT_CLOSED:
                return "closed";
        case EW_CIRCUIT_OPEN:
                return "open";
        case EW_CIRCUIT_HALF_OPEN:
                return "half-open";
        }
        return "?";
}

static double bucket_size(const ew_account_t *acct)
{
        const ew_account_conf_t *c = acct->conf;

        if (c->burst > 0)
                return c->burst;
        return c->rate_per_s > 1 ? c->rate_per_s : 1;
}

static int64_t slot_width(const ew_account_t *acct)
{
        int64_t w = acct->conf->window_ms / EW_ACCOUNT_WINDOW_SLOTS;

        return w > 0 ? w : 1;
}

/* Sums the calls and failures of the slots inside the window. */
static void window_sum(const ew_account_t *acct, int64_t now_ms, int *calls,
                       int *failures)
{
        int64_t oldest = now_ms - acct->conf->window_ms;
        int     i;

        *calls = *failures = 0;
        for (i = 0; i < EW_ACCOUNT_WINDOW_SLOTS; i++) {
                if (acct->slot_calls[i] == 0 ||
                    acct->slot_start_ms[i] + slot_width(acct) <= oldest)
                        continue;
                *calls += acct->slot_calls[i];
                *failures += acct->slot_failures[i];
        }
}

static void window_clear(ew_account_t *acct)
{
        memset(acct->slot_calls, 0, sizeof(acct->slot_calls));
        memset(acct->slot_failures, 0, sizeof(acct->slot_failures));
}

ew_admit_t ew_account_admit(ew_account_t *acct, int64_t now_ms,
                            int64_t *wake_ms)
{
        const ew_account_conf_t *c     = acct->conf;
        int                      probe = 0;

        if (acct->domain != EW_DOMAIN_READY &&
            acct->domain != EW_DOMAIN_REFRESH)
                return EW_ADMIT_WAIT_DOMAIN;

        if (acct->circuit == EW_CIRCUIT_OPEN) {
                if (now_ms < acct->open_until_ms) {
                        *wake_ms = acct->open_until_ms;
                        return EW_ADMIT_WAIT_CIRCUIT;
                }
                acct->circuit   = EW_CIRCUIT_HALF_OPEN;
                acct->probe_out = 0;
        }
        if (acct->circuit == EW_CIRCUIT_HALF_OPEN) {
                if (acct->probe_out) {
                        /* The probe decides; look again after a cool-down
                         * in case its answer never comes. */
                        *wake_ms = now_ms + c->cooldown_ms;
                        return EW_ADMIT_WAIT_CIRCUIT;
                }
                probe = 1;
        }

        if (c->rate_per_s > 0) {
                double size = bucket_size(acct);
                acct->tokens +=
                    (double)(now_ms - acct->refill_ms) * c->rate_per_s / 1000.0;
                if (acct->tokens > size)
                        acct->tokens = size;
                acct->refill_ms = now_ms;
                if (acct->tokens < 1.0) {
                        *wake_ms =
                            now_ms + (int64_t)ceil((1.0 - acct->tokens) *
                                                   1000.0 / c->rate_per_s);
                        return EW_ADMIT_WAIT_RATE;
                }
                acct->tokens -= 1.0;
        }
        if (probe)
                acct->probe_out = 1;
        return EW_ADMIT_OK;
}

int ew_account_record(ew_account_t *acct, int64_t now_ms, int failed)
{
        const ew_account_conf_t *c = acct->conf;
        int64_t                  width, start;
        int                      i, calls, failures;

        if (c->failure_ratio <= 0)
                return 0;
        if (acct->circuit == EW_CIRCUIT_HALF_OPEN) {
                acct->probe_out = 0;
                if (failed) {
                        acct->circuit       = EW_CIRCUIT_OPEN;
                        acct->open_until_ms = now_ms + c->cooldown_ms;
                } else {
                        acct->circuit = EW_CIRCUIT_CLOSED;
                        window_clear(acct);
                }
                return 1;
        }

        width = slot_width(acct);
        start = now_ms - now_ms % width;
        i     = (int)((now_ms / width) % EW_ACCOUNT_WINDOW_SLOTS);
        if (acct->slot_start_ms[i] != start) {
                acct->slot_start_ms[i] = start;
                acct->slot_calls[i]    = 0;
                acct->slot_failures[i] = 0;
        }
        acct->slot_calls[i]++;
        if (failed)
                acct->slot_failures[i]++;

        if (acct->circuit != EW_CIRCUIT_CLOSED)
                return 0;
        window_sum(acct, now_ms, &calls, &failures);
        if (calls >= c->min_requests &&
            (double)failures >= c->failure_ratio * (double)calls) {
                acct->circuit       = EW_CIRCUIT_OPEN;
                acct->open_until_ms = now_ms + c->cooldown_ms;
                return 1;
        }
        return 0;
}

int ew_account_domain_due(ew_account_t *acct, int64_t now_ms)
{
        switch (acct->domain) {
        case EW_DOMAIN_NONE:
                acct->domain = EW_DOMAIN_LOOKUP;
                return 1;
        case EW_DOMAIN_READY:
                if (now_ms < acct->domain_expires_ms)
                        return 0;
                acct->domain = EW_DOMAIN_REFRESH;
                return 1;
        case EW_DOMAIN_FAILED:
                if (now_ms < acct->domain_retry_ms)
                        return 0;
                acct->domain = EW_DOMAIN_LOOKUP;
                return 1;
        default:
                return 0; /* a lookup is in progress */
        }
}

int ew_account_domain_set(ew_account_t *acct, const char *base_url,
                          int64_t now_ms)
{
        char *copy = strdup(base_url);

        if (!copy) {
                ew_account_domain_failed(acct, now_ms);
                return -1;
        }
        free(acct->base_url);
        acct->base_url          = copy;
        acct->domain            = EW_DOMAIN_READY;
        acct->domain_expires_ms = now_ms + acct->conf->domain_ttl_ms;
        acct->lookup_failures   = 0;
        return 0;
}

int64_t ew_account_domain_failed(ew_account_t *acct, int64_t now_ms)
{
        int64_t backoff = DOMAIN_BACKOFF_MIN_MS;
        int     i;

        acct->lookup_failures++;
        for (i = 1;
             i < acct->lookup_failures && backoff < DOMAIN_BACKOFF_MAX_MS; i++)
                backoff *= 2;
        if (backoff > DOMAIN_BACKOFF_MAX_MS)
                backoff = DOMAIN_BACKOFF_MAX_MS;
        if (acct->base_url) {
                /* Keep serving from the host we had; look again later. */
                acct->domain            = EW_DOMAIN_READY;
                acct->domain_expires_ms = now_ms + backoff;
        } else {
                acct->domain          = EW_DOMAIN_FAILED;
                acct->domain_retry_ms = now_ms + backoff;
        }
        return backoff;
}

char *ew_account_parse_domain(const char *body, size_t len, const char *scheme,
                              char *errstr, size_t errstr_size)
{
        json_tokener *tok  = json_tokener_new_ex(8);
        json_object  *root = NULL, *uri;
        const char   *host;
        char         *url = NULL;
        size_t        n;

        if (!tok) {
                ew_snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (len > 65536 || !ew_utf8_valid(body, len))
                goto bad;
        root = json_tokener_parse_ex(tok, body, (int)len);
        if (!root || json_tokener_get_error(tok) != json_tokener_success ||
            !json_object_is_type(root, json_type_object))
                goto bad;
        if (!json_object_object_get_ex(root, "baseURI", &uri) ||
            !json_object_is_type(uri, json_type_string))
                goto bad;
        host = json_object_get_string(uri);
        n    = strlen(host);
        /* A host name (optionally :port), nothing that would change the URL's
         * meaning. */
        if (n == 0 || n > 253 || strcspn(host, "/?#@ \t\r\n\\") != n)
                goto bad;
        n   = strlen(scheme) + 3 + n + 1;
        url = malloc(n);
        if (url)
                ew_snprintf(url, n, "%s://%s", scheme, host);
        else
                ew_snprintf(errstr, errstr_size, "out of memory");
        goto done;

bad:
        ew_snprintf(errstr, errstr_size,
                    "Domain API answer has no usable baseURI");
done:
        json_object_put(root);
        json_tokener_free(tok);
        return url;
}
