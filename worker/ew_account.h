/*
 * ew_account - what the worker keeps per LivePerson account: the Monitoring
 * API host (configured, or discovered through the Domain API and cached for
 * a TTL), a token bucket (monitoring.rate_limit_per_s) and a circuit breaker.
 *
 * Pure: decisions over times the caller passes in; the engine does the I/O
 * (the Domain API call) and keeps the events that wait.
 *
 * Circuit breaker: calls are counted in a sliding window of
 * EW_ACCOUNT_WINDOW_SLOTS slots over circuit_window_ms. When at least
 * circuit_min_requests calls were made and the failed share reaches
 * circuit_failure_ratio, the circuit OPENs: no call is admitted for
 * circuit_cooldown_ms. Then it is HALF_OPEN: one probe call is admitted;
 * its success CLOSEs the circuit (window cleared), its failure OPENs it
 * again.
 *
 * @locality single thread: the loop's owner.
 */
#ifndef EW_ACCOUNT_H
#define EW_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "ew_timerq.h"

#define EW_ACCOUNT_WINDOW_SLOTS 10

typedef enum ew_circuit {
        EW_CIRCUIT_CLOSED    = 0,
        EW_CIRCUIT_OPEN      = 1,
        EW_CIRCUIT_HALF_OPEN = 2,
} ew_circuit_t;

typedef enum ew_domain_state {
        EW_DOMAIN_NONE = 0, /* never looked up */
        EW_DOMAIN_LOOKUP,   /* first lookup in progress */
        EW_DOMAIN_READY,    /* base_url usable */
        EW_DOMAIN_REFRESH,  /* base_url usable, a refresh in progress */
        EW_DOMAIN_FAILED,   /* no base_url; next lookup at retry_at */
} ew_domain_state_t;

typedef struct ew_account_conf {
        const char *base_url;   /* configured host: no discovery; may be NULL */
        double      rate_per_s; /* 0: no limit */
        double      burst;      /* bucket size; <= 0: max(1, rate_per_s) */
        double      failure_ratio; /* 0: no breaker */
        int         min_requests;
        int         window_ms;
        int         cooldown_ms;
        int         domain_ttl_ms;
} ew_account_conf_t;

typedef enum ew_admit {
        EW_ADMIT_OK = 0,       /* call now (a token was taken) */
        EW_ADMIT_WAIT_DOMAIN,  /* host unknown yet: wait for the lookup */
        EW_ADMIT_WAIT_RATE,    /* no token: wait until *wake_ms */
        EW_ADMIT_WAIT_CIRCUIT, /* circuit open (or probe out): *wake_ms */
} ew_admit_t;

typedef struct ew_account {
        char                    *id;
        const ew_account_conf_t *conf;

        /* domain */
        char *base_url; /* "scheme://host", owned; NULL until known */
        ew_domain_state_t domain;
        int64_t           domain_expires_ms;
        int64_t           domain_retry_ms; /* FAILED: next lookup */
        int               lookup_failures;

        /* token bucket */
        double  tokens;
        int64_t refill_ms;

        /* circuit */
        ew_circuit_t circuit;
        int64_t      open_until_ms;
        int          probe_out; /* HALF_OPEN: the probe is in flight */
        int64_t      slot_start_ms[EW_ACCOUNT_WINDOW_SLOTS];
        int          slot_calls[EW_ACCOUNT_WINDOW_SLOTS];
        int          slot_failures[EW_ACCOUNT_WINDOW_SLOTS];

        /* the engine's: events of this account waiting to be admitted, and
         * the timer that tries them again */
        void      *parked_head, *parked_tail;
        int        parked;
        ew_timer_t wake_timer;
        int64_t    wake_ms;      /* when the timer is due, -1 if not armed */
        void      *lookup;       /* the Domain API request in flight, or NULL */
        void      *lookup_owner; /* the engine that started it */
} ew_account_t;

/* Creates an account (caller frees with ew_account_destroy). With a
 * configured base_url the domain is READY for good. NULL if out of
 * memory. */
ew_account_t *ew_account_new(const char *id, const ew_account_conf_t *conf,
                             int64_t now_ms);
void          ew_account_destroy(ew_account_t *acct);

/* May a call start now? Takes a token when it answers EW_ADMIT_OK and
 * marks the half-open probe as out. *wake_ms is set for the WAIT_RATE and
 * WAIT_CIRCUIT answers. */
ew_admit_t ew_account_admit(ew_account_t *acct, int64_t now_ms,
                            int64_t *wake_ms);

/* Records the end of an admitted call: failed is 1 for a 5xx, 429,
 * timeout or transport error. Returns 1 if the circuit changed state. */
int ew_account_record(ew_account_t *acct, int64_t now_ms, int failed);

/* 1 if a Domain API lookup should start now (first lookup, expired TTL,
 * or a failed one whose back-off passed); the account is then marked as
 * looking up. */
int ew_account_domain_due(ew_account_t *acct, int64_t now_ms);

/* The lookup's answer: base_url "scheme://host" (copied). Returns 0, or -1
 * if out of memory (treated as a failure). */
int ew_account_domain_set(ew_account_t *acct, const char *base_url,
                          int64_t now_ms);

/* The lookup failed: keeps a still-usable old host, else waits. Returns the
 * back-off in ms before the next attempt (1 s doubling to 60 s). */
int64_t ew_account_domain_failed(ew_account_t *acct, int64_t now_ms);

const char *ew_circuit_str(ew_circuit_t c);

/* Parses the Domain API's answer {"service":"smt","account":…,"baseURI":
 * "host[:port]"} into "scheme://host". Returns a new string (caller frees)
 * or NULL with errstr set. */
char *ew_account_parse_domain(const char *body, size_t len, const char *scheme,
                              char *errstr, size_t errstr_size);

#endif /* EW_ACCOUNT_H */
