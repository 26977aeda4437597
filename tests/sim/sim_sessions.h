/*
 * sim_sessions - the simulator's table of monitoring sessions.
 *
 * A session belongs to one account and one visitor. It is created by an
 * engagement call without sid (201) and found again by later calls with
 * that sid (200). Sessions idle longer than the TTL are forgotten, as is
 * the session used longest ago when the table is full; both then answer
 * "invalid sessionId" (404/39), like the real API after a session ended.
 *
 * @locality any thread: every call takes the table's lock.
 */
#ifndef SIM_SESSIONS_H
#define SIM_SESSIONS_H

#include "sim_util.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sim_sessions sim_sessions_t;

typedef enum sim_sessions_result {
        SIM_SESSIONS_OK           = 0,
        SIM_SESSIONS_UNKNOWN      = 1, /* no such sid for this account */
        SIM_SESSIONS_VID_MISMATCH = 2, /* sid known, vid not its visitor */
        SIM_SESSIONS_ERROR        = -1 /* out of memory */
} sim_sessions_result_t;

/* Creates a table of at most max_entries sessions that expire after
 * ttl_ms of idleness (0: never). Returns NULL when out of memory. The
 * caller owns the table (sim_sessions_destroy). */
sim_sessions_t *sim_sessions_new(size_t max_entries, int64_t ttl_ms);

/* Frees the table. NULL-safe. */
void sim_sessions_destroy(sim_sessions_t *ss);

/* Creates a session of account for visitor vid (NULL or "": a new visitor
 * id is made). Writes the new session id to sid and the visitor id to
 * vid_out (each SIM_ID_MAX + 1 bytes). */
sim_sessions_result_t sim_sessions_create(sim_sessions_t *ss,
                                          const char *account, const char *vid,
                                          char *sid, char *vid_out);

/* Looks up session sid of account. vid (may be NULL) must be the
 * session's visitor if given. On SIM_SESSIONS_OK the session's visitor id
 * is written to vid_out (SIM_ID_MAX + 1 bytes) and its idle clock
 * restarts. */
sim_sessions_result_t sim_sessions_lookup(sim_sessions_t *ss,
                                          const char *account, const char *sid,
                                          const char *vid, char *vid_out);

/* Forgets session sid. Returns 1 if it existed, else 0. */
int sim_sessions_remove(sim_sessions_t *ss, const char *sid);

/* Forgets every session. Returns how many there were. */
size_t sim_sessions_expire_all(sim_sessions_t *ss);

/* Changes the idle TTL (0: never expire). */
void sim_sessions_set_ttl(sim_sessions_t *ss, int64_t ttl_ms);

/* The idle TTL in ms (0: never expire). */
int64_t sim_sessions_ttl(sim_sessions_t *ss);

/* Counters for /_sim/stats. */
typedef struct sim_sessions_stats {
        size_t   active;
        uint64_t created;
        uint64_t evicted; /* dropped because the table was full */
} sim_sessions_stats_t;

void sim_sessions_stats(sim_sessions_t *ss, sim_sessions_stats_t *st);

#endif /* SIM_SESSIONS_H */
