/*
 * sim_validate - see sim_validate.h.
 */
#include "sim_validate.h"
#include "sim_util.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const device_families[] = {"DESKTOP", "TABLET", "MOBILE",
                                              NULL};
static const char *const os_names[]        = {"WINDOWS", "MAC_OSX", "LINUX",
                                              "IOS",     "ANDROID", NULL};
/* Engagement attribute types the engagement method takes. The impression
 * events (impDisplay, impAccept, ...) belong to the report method. */
static const char *const attribute_types[] = {
    "cart", "purchase", "prodView", "ctmrinfo",   "mrktInfo", "personal",
    "lead", "service",  "error",    "searchInfo", NULL};

int sim_validate_version(const char *v, int *minorp)
{
        char  *end;
        double d;

        if (!v || !*v)
                return -1;
        d = strtod(v, &end);
        if (*end != '\0')
                return -1;
        if (fabs(d - 1.0) < 1e-9) {
                *minorp = 0;
                return 0;
        }
        if (fabs(d - 1.1) < 1e-9) {
                *minorp = 1;
                return 0;
        }
        return -1;
}

int sim_validate_obh(const char *obh)
{
        if (!obh || !strcasecmp(obh, "true") || !strcasecmp(obh, "false"))
                return 0;
        return -1;
}

static int in_list(const char *s, const char *const *list)
{
        for (; *list; list++) {
                if (!strcmp(s, *list))
                        return 1;
        }
        return 0;
}

static int fail(char *msg, size_t msg_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the name of the offending field to msg; returns -1. */
static int fail(char *msg, size_t msg_size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, msg_size, fmt, ap);
        va_end(ap);
        return -1;
}

/* The member key of obj unless absent or null. */
static const sim_jval_t *opt_member(const sim_jval_t *obj, const char *key)
{
        const sim_jval_t *v = sim_json_get(obj, key);

        return v && v->type != SIM_JSON_NULL ? v : NULL;
}

/* Returns the member key of obj if it is a string, NULL if absent or null;
 * sets *bad if it is present with another type. */
static const char *opt_string(const sim_jval_t *obj, const char *key, int *bad)
{
        const sim_jval_t *v = opt_member(obj, key);

        if (!v)
                return NULL;
        if (v->type != SIM_JSON_STRING) {
                *bad = 1;
                return NULL;
        }
        return v->str;
}

static int check_identities(const sim_jval_t *ids, sim_body_info_t *info,
                            char *msg, size_t msg_size)
{
        const sim_jval_t *id;
        const char       *acr, *sub;
        size_t            i;
        int               bad = 0;

        if (ids->type != SIM_JSON_ARRAY)
                return fail(msg, msg_size, "identities");
        for (i = 0, id = ids->child; id; id = id->next, i++) {
                if (id->type != SIM_JSON_OBJECT)
                        return fail(msg, msg_size, "identities[%zu]", i);
                acr = opt_string(id, "acr", &bad);
                if (bad || !acr || (strcmp(acr, "0") && strcmp(acr, "loa1")))
                        return fail(msg, msg_size, "identities[%zu].acr", i);
                sub = opt_string(id, "sub", &bad);
                if (bad || !sub || !*sub)
                        return fail(msg, msg_size, "identities[%zu].sub", i);
                opt_string(id, "iss", &bad);
                if (bad)
                        return fail(msg, msg_size, "identities[%zu].iss", i);
                if (i == 0)
                        info->sub = sub;
        }
        return 0;
}

static int check_client_properties(const sim_jval_t *cp, char *msg,
                                   size_t msg_size)
{
        static const char *const plain[] = {
            "appVersion", "osVersion", "type", "platform", "name", "version"};
        static const char *const os_keys[] = {"os", "osName"};
        const char              *s;
        unsigned char            addr[sizeof(struct in_addr)];
        size_t                   i;
        int                      bad = 0;

        if (cp->type != SIM_JSON_OBJECT)
                return fail(msg, msg_size, "clientProperties");
        s = opt_string(cp, "deviceFamily", &bad);
        if (bad || (s && !in_list(s, device_families)))
                return fail(msg, msg_size, "clientProperties.deviceFamily");
        for (i = 0; i < SIM_ARRAY_SIZE(os_keys); i++) {
                s = opt_string(cp, os_keys[i], &bad);
                if (bad || (s && !in_list(s, os_names)))
                        return fail(msg, msg_size, "clientProperties.%s",
                                    os_keys[i]);
        }
        s = opt_string(cp, "ipAddress", &bad);
        if (bad || (s && inet_pton(AF_INET, s, addr) != 1))
                return fail(msg, msg_size, "clientProperties.ipAddress");
        for (i = 0; i < SIM_ARRAY_SIZE(plain); i++) {
                opt_string(cp, plain[i], &bad);
                if (bad)
                        return fail(msg, msg_size, "clientProperties.%s",
                                    plain[i]);
        }
        return 0;
}

static int check_entry_points(const sim_jval_t *eps, char *msg, size_t msg_size)
{
        const sim_jval_t *ep;
        size_t            i;

        if (eps->type != SIM_JSON_ARRAY)
                return fail(msg, msg_size, "entryPoints");
        for (i = 0, ep = eps->child; ep; ep = ep->next, i++) {
                if (ep->type != SIM_JSON_STRING)
                        return fail(msg, msg_size, "entryPoints[%zu]", i);
        }
        return 0;
}

static int check_attributes(const sim_jval_t *attrs, char *msg, size_t msg_size)
{
        const sim_jval_t *a;
        const char       *type;
        size_t            i;
        int               bad = 0;

        if (attrs->type != SIM_JSON_ARRAY)
                return fail(msg, msg_size, "engagementAttributes");
        for (i = 0, a = attrs->child; a; a = a->next, i++) {
                if (a->type != SIM_JSON_OBJECT)
                        return fail(msg, msg_size, "engagementAttributes[%zu]",
                                    i);
                type = opt_string(a, "type", &bad);
                if (bad || !type || !in_list(type, attribute_types))
                        return fail(msg, msg_size,
                                    "engagementAttributes[%zu].type", i);
        }
        return 0;
}

int sim_validate_body(const sim_jval_t *body, const char *vid,
                      sim_body_info_t *info, char *msg, size_t msg_size)
{
        const sim_jval_t *v;
        const char       *cid;
        int               bad = 0;

        info->consumer_id = NULL;
        info->sub         = NULL;
        if (!body || body->type != SIM_JSON_OBJECT)
                return fail(msg, msg_size, "request body");
        cid = opt_string(body, "consumerId", &bad);
        if (bad)
                return fail(msg, msg_size, "consumerId");
        info->consumer_id = cid && *cid ? cid : NULL;
        if ((v = opt_member(body, "identities")) &&
            check_identities(v, info, msg, msg_size))
                return -1;
        if ((v = opt_member(body, "clientProperties")) &&
            check_client_properties(v, msg, msg_size))
                return -1;
        if ((v = opt_member(body, "entryPoints")) &&
            check_entry_points(v, msg, msg_size))
                return -1;
        if ((v = opt_member(body, "engagementAttributes")) &&
            check_attributes(v, msg, msg_size))
                return -1;
        if (!info->consumer_id && !info->sub && !(vid && *vid))
                return fail(msg, msg_size, "consumerId");
        return 0;
}
