/*
 * sim_server - the simulator's HTTP server (libmicrohttpd): routes
 * requests to the engagement method, the Domain API and the control
 * endpoints, delays answers without holding a thread (suspend, resume from
 * the sim_delay timer), writes the request log.
 *
 * @locality sim_server_start/reload/stop from the main thread; request
 * handling runs on MHD's thread pool.
 */
#ifndef SIM_SERVER_H
#define SIM_SERVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sim_server sim_server_t;

/* Settings from the command line. Strings are borrowed and must outlive
 * the server. */
typedef struct sim_options {
        const char *bind;           /* IPv4 address to listen on */
        int         port;           /* 0: any free port */
        const char *scenario_path;  /* NULL: expose for everyone */
        const char *log_path;       /* NULL: no request log */
        int         threads;        /* server threads (>= 1) */
        const char *apps;           /* known app ids, comma list */
        int64_t     session_ttl_ms; /* 0: sessions never expire */
        size_t      max_sessions;
        int         latency_ms;
        int         latency_jitter_ms;
        double      fail_ratio; /* 0 to 1 */
        int         fail_status;
        const char *csds_base_uri; /* NULL: bind:port */
        size_t      max_body;      /* bytes */
        int         max_connections;
        size_t      max_delayed;    /* answers waiting at once */
        int         idle_timeout_s; /* 0: keep-alive forever */
        size_t      conn_memory;    /* MHD memory pool per connection */
        int         turbo;          /* MHD_USE_TURBO */
        int         verbose;        /* MHD's own messages to stderr */
        uint64_t    seed;           /* 0: random */
} sim_options_t;

/* Fills o with the defaults. */
void sim_options_init(sim_options_t *o);

/* Loads the scenario, opens the request log and starts listening. Returns
 * 0 and sets *srvp (the caller's; sim_server_stop), or -1 with errstr
 * set. */
int sim_server_start(const sim_options_t *opts, sim_server_t **srvp,
                     char *errstr, size_t errstr_size);

/* The port the server listens on. */
uint16_t sim_server_port(const sim_server_t *srv);

/* Re-reads the scenario file (SIGHUP). Returns 0, or -1 with errstr set;
 * the old scenario then stays. */
int sim_server_reload(sim_server_t *srv, char *errstr, size_t errstr_size);

/* Answers what is waiting for its latency, stops the server, flushes the
 * request log and frees everything. NULL-safe. */
void sim_server_stop(sim_server_t *srv);

#endif /* SIM_SERVER_H */
