/*
 * sim_sessions - see sim_sessions.h.
 */
#include "sim_sessions.h"
#include "sim_lru.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of generated session and visitor ids (the API's look alike). */
#define GEN_ID_LEN 22

typedef struct session {
        char vid[SIM_ID_MAX + 1];
        char account[]; /* NUL-terminated */
} session_t;

struct sim_sessions {
        pthread_mutex_t lock;
        sim_lru_t      *lru;
        int64_t         ttl_ms;
        uint64_t        created;
};

sim_sessions_t *sim_sessions_new(size_t max_entries, int64_t ttl_ms)
{
        sim_sessions_t *ss = calloc(1, sizeof(*ss));

        if (!ss)
                return NULL;
        ss->lru = sim_lru_new(max_entries, free);
        if (!ss->lru) {
                free(ss);
                return NULL;
        }
        pthread_mutex_init(&ss->lock, NULL);
        ss->ttl_ms = ttl_ms;
        return ss;
}

void sim_sessions_destroy(sim_sessions_t *ss)
{
        if (!ss)
                return;
        sim_lru_destroy(ss->lru);
        pthread_mutex_destroy(&ss->lock);
        free(ss);
}

sim_sessions_result_t sim_sessions_create(sim_sessions_t *ss,
                                          const char *account, const char *vid,
                                          char *sid, char *vid_out)
{
        size_t                alen = strlen(account);
        session_t            *s    = malloc(sizeof(*s) + alen + 1);
        int64_t               now  = sim_mono_ms();
        sim_sessions_result_t res  = SIM_SESSIONS_ERROR;

        if (!s)
                return SIM_SESSIONS_ERROR;
        memcpy(s->account, account, alen + 1);
        if (vid && *vid)
                snprintf(s->vid, sizeof(s->vid), "%s", vid);
        else
                sim_random_id(s->vid, sizeof(s->vid), GEN_ID_LEN);
        memcpy(vid_out, s->vid, strlen(s->vid) + 1);

        pthread_mutex_lock(&ss->lock);
        if (ss->ttl_ms > 0)
                sim_lru_expire(ss->lru, now, ss->ttl_ms);
        /* 132 random bits make a clash unlikely; still never hand out an id
         * twice. */
        do {
                sim_random_id(sid, SIM_ID_MAX + 1, GEN_ID_LEN);
        } while (sim_lru_get(ss->lru, sid, now, 0));
        if (sim_lru_put(ss->lru, sid, s, now) == 0) {
                ss->created++;
                res = SIM_SESSIONS_OK;
        }
        pthread_mutex_unlock(&ss->lock);
        return res;
}

sim_sessions_result_t sim_sessions_lookup(sim_sessions_t *ss,
                                          const char *account, const char *sid,
                                          const char *vid, char *vid_out)
{
        sim_sessions_result_t res = SIM_SESSIONS_UNKNOWN;
        session_t            *s;

        pthread_mutex_lock(&ss->lock);
        s = sim_lru_get(ss->lru, sid, sim_mono_ms(), ss->ttl_ms);
        if (!s || strcmp(s->account, account))
                goto done;
        if (vid && *vid && strcmp(vid, s->vid)) {
                res = SIM_SESSIONS_VID_MISMATCH;
                goto done;
        }
        memcpy(vid_out, s->vid, strlen(s->vid) + 1);
        res = SIM_SESSIONS_OK;
done:
        pthread_mutex_unlock(&ss->lock);
        return res;
}

int sim_sessions_remove(sim_sessions_t *ss, const char *sid)
{
        int r;

        pthread_mutex_lock(&ss->lock);
        r = sim_lru_del(ss->lru, sid);
        pthread_mutex_unlock(&ss->lock);
        return r;
}

size_t sim_sessions_expire_all(sim_sessions_t *ss)
{
        size_t n;

        pthread_mutex_lock(&ss->lock);
        n = sim_lru_clear(ss->lru);
        pthread_mutex_unlock(&ss->lock);
        return n;
}

void sim_sessions_set_ttl(sim_sessions_t *ss, int64_t ttl_ms)
{
        pthread_mutex_lock(&ss->lock);
        ss->ttl_ms = ttl_ms;
        pthread_mutex_unlock(&ss->lock);
}

int64_t sim_sessions_ttl(sim_sessions_t *ss)
{
        int64_t ttl;

        pthread_mutex_lock(&ss->lock);
        ttl = ss->ttl_ms;
        pthread_mutex_unlock(&ss->lock);
        return ttl;
}

void sim_sessions_stats(sim_sessions_t *ss, sim_sessions_stats_t *st)
{
        pthread_mutex_lock(&ss->lock);
        st->active  = sim_lru_count(ss->lru);
        st->created = ss->created;
        st->evicted = sim_lru_evictions(ss->lru);
        pthread_mutex_unlock(&ss->lock);
}
