/*
 * ew_event - see ew_event.h.
 *
 * Decisions the header leaves open, taken here:
 *
 * - The value is read by ew_json (RFC 8259 exactly: UTF-8, no NUL bytes,
 *   no raw control characters, paired surrogates, max_depth) into tokens
 *   on the stack, and the event copies out what it keeps: a valid event
 *   costs one allocation. Two rules go beyond the RFC and are checked on
 *   the tokens (check_tokens): integers (no fraction, no exponent) must fit
 *   in 64 bits, and member names must not hold \u0000. Both were first
 *   made because json-c saturated such integers and cut such names; they
 *   stay because many of the API's possible readers do the same.
 * - A member named twice in any object is refused (EW_JSON_UNIQUE_KEYS):
 *   the members travel to the API as their text, and a repeated name would
 *   carry a value no check has seen (which of the two the API's parser
 *   keeps is its own choice).
 * - Messages: the checks carry the field path as a chain of segments on
 *   the stack (vpath_t) and render it only when one fails. When ew_json
 *   refuses the value, explain() works out the message on that cold path:
 *   NUL bytes, then invalid UTF-8, then a lexical scan for the problems the
 *   contract names (NaN, leading zeros, "1.", raw control characters, lone
 *   surrogates, depth, trailing data; scan_lexical) up to where the reader
 *   stopped, then a repeated member with its path, else the reader's own
 *   words.
 * - Unknown top-level fields are ignored, so producers can add metadata;
 *   they never reach the API, whose body is built from the documented
 *   fields only (ew_request_body).
 * - A documented top-level field whose value is JSON null counts as absent
 *   (many serializers write nulls for unset fields). Inside identities,
 *   clientProperties and engagementAttributes null is a wrong type, since
 *   those objects are forwarded as they are.
 * - Identity objects are closed: fields other than iss, acr and sub are
 *   refused, because they would be forwarded to the API.
 * - clientProperties is open: besides the documented fields (checked),
 *   other fields pass through when they are strings, numbers or booleans
 *   (the doc mentions type, platform and a client timestamp); objects,
 *   arrays and null are refused. Both "os" (the table) and "osName" (the
 *   doc's example body) are accepted and checked against the same list; if
 *   both are present they must agree.
 * - ipAddress must be a dotted quad of four decimal numbers 0-255 without
 *   leading zeros (01.2.3.4 is refused: some parsers read it as octal).
 * - sessionId without visitorId is refused: a session belongs to a visit.
 * - Every identifier (eventId, accountId, appInstallationId, visitorId,
 *   sessionId, consumerId, identities[].sub) is a non-empty string of at
 *   most EW_EVENT_MAX_ID_BYTES bytes without NUL (\u0000) characters; other
 *   checked strings may be up to EW_EVENT_MAX_TEXT_BYTES.
 * - engagementAttributes: the documented types only; impression types are
 *   refused by name. The object the notes name for a type is required
 *   (ctmrinfo/mrktInfo: info, personal, lead, service, error); products,
 *   contacts and keywords must be arrays when present and service.status an
 *   integer 0-13. Other contents are forwarded unchecked. The notes say
 *   only ctmrinfo and personal are supported in authenticated flows; other
 *   types are still accepted (the API ignores them), not refused.
 */
#include "ew_event.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_json.h"
#include "ew_util.h"

/* Largest max_depth accepted: a larger one is a configuration mistake. */
#define EW_EVENT_DEPTH_CAP 10000

/* Room for a rendered field path such as
 * "engagementAttributes[99].service.status" or a quoted member name. */
#define PATH_SIZE 256

/* One step of a field path: a documented member name, a member name taken
 * from the document (shown quoted, as a producer may pick any), or an
 * array index. */
typedef struct vpath {
        const struct vpath *up; /* NULL at the top level */
        const char         *name;
        uint32_t            key;
        size_t              idx;
        int                 kind;
} vpath_t;

enum { P_NAME, P_KEY, P_INDEX };

#define PNAME(u, n) ((vpath_t){(u), (n), 0, 0, P_NAME})
#define PKEY(u, k) ((vpath_t){(u), NULL, (k), 0, P_KEY})
#define PIDX(u, i) ((vpath_t){(u), NULL, 0, (i), P_INDEX})

/* Validation context: the limits, the document, where the message goes. */
typedef struct vctx {
        const ew_event_limits_t *lim;
        const ew_json_doc_t     *doc;
        char                    *errstr;
        size_t                   errstr_size;
        uint32_t                 first_sub; /* identities[0].sub, or 0 */
} vctx_t;

/* The documented top-level members, in the order they are checked. */
enum {
        F_EVENT_ID,
        F_ACCOUNT_ID,
        F_APP_ID,
        F_VISITOR_ID,
        F_SESSION_ID,
        F_CONSUMER_ID, /* the last identifier */
        F_IDENTITIES,
        F_CLIENT_PROPERTIES,
        F_ENTRY_POINTS,
        F_ATTRIBUTES,
        F_COUNT
};

#define FIELD(s)                                                               \
        {                                                                      \
                s, sizeof(s) - 1                                               \
        }
static const struct {
        const char *name;
        size_t      len;
} fields[F_COUNT] = {
    FIELD("eventId"),           FIELD("accountId"),
    FIELD("appInstallationId"), FIELD("visitorId"),
    FIELD("sessionId"),         FIELD("consumerId"),
    FIELD("identities"),        FIELD("clientProperties"),
    FIELD("entryPoints"),       FIELD("engagementAttributes"),
};

/* 1 if string token i is s[0..n). Inline, as most calls are decided by
 * the length, and the rest by comparing the text (a constant n makes that
 * memcmp a few instructions); only escaped strings need ew_json. */
static inline int tok_is(const ew_json_doc_t *doc, uint32_t i, const char *s,
                         size_t n)
{
        const ew_json_tok_t *t = &doc->tok[i];

        if (t->count != n)
                return 0;
        if (!(t->flags & EW_JSON_F_ESCAPED))
                return memcmp(doc->text + t->off + 1, s, n) == 0;
        return ew_json_str_eq(doc, i, s, n);
}

/* 1 if member name token k is the literal s. */
#define KEY_IS(doc, k, s) tok_is((doc), (k), (s), sizeof(s) - 1)

static int fail(vctx_t *vc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int failp(vctx_t *vc, const vpath_t *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(vctx_t *vc, const char *fmt, ...)
{
        va_list ap;

        if (vc->errstr && vc->errstr_size > 0) {
                va_start(ap, fmt);
                vsnprintf(vc->errstr, vc->errstr_size, fmt, ap);
                va_end(ap);
        }
        return -1;
}

/* JSON type name as a producer would say it. */
static const char *type_name(const ew_json_doc_t *doc, uint32_t i)
{
        switch (ew_json_type(doc, i)) {
        case EW_JSON_NULL:
                return "null";
        case EW_JSON_FALSE:
        case EW_JSON_TRUE:
                return "boolean";
        case EW_JSON_NUMBER:
                return "number";
        case EW_JSON_STRING:
                return "string";
        case EW_JSON_ARRAY:
                return "array";
        case EW_JSON_OBJECT:
                return "object";
        }
        return "unknown";
}

/* Writes s[0..len) to buf as a double-quoted, printable excerpt: quotes,
 * backslashes and control characters escaped, at most about 40 bytes of
 * input, never cutting a UTF-8 sequence, "..." appended when cut. The
 * input must be valid UTF-8 (it came out of the parser). Returns buf. */
static char *quote(const char *s, size_t len, char *buf, size_t size)
{
        static const char hex[]  = "0123456789abcdef";
        size_t            o      = 0, i;
        const size_t      max_in = 40;

        if (size < 8) {
                if (size)
                        buf[0] = '\0';
                return buf;
        }
        buf[o++] = '"';
        for (i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                /* Worst case per byte is 4 output bytes; keep room for
                 * '..."' and the NUL. */
                if (o + 4 + 5 >= size || (i >= max_in && (c & 0xc0) != 0x80)) {
                        /* Drop a partly written character. */
                        while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80) {
                                i--;
                                o--;
                        }
                        memcpy(buf + o, "...", 3);
                        o += 3;
                        break;
                }
                if (c == '"' || c == '\\') {
                        buf[o++] = '\\';
                        buf[o++] = (char)c;
                } else if (c < 0x20 || c == 0x7f) {
                        buf[o++] = '\\';
                        buf[o++] = 'x';
                        buf[o++] = hex[c >> 4];
                        buf[o++] = hex[c & 0xf];
                } else {
                        buf[o++] = (char)c;
                }
        }
        buf[o++] = '"';
        buf[o]   = '\0';
        return buf;
}

/* quote() of the decoded string token i (for messages only). */
static char *quote_tok(const ew_json_doc_t *doc, uint32_t i, char *buf,
                       size_t size)
{
        size_t n = ew_json_count(doc, i);
        char  *s;

        if (!(doc->tok[i].flags & EW_JSON_F_ESCAPED))
                return quote(doc->text + doc->tok[i].off + 1, n, buf, size);
        s = malloc(n + 1);
        if (!s) {
                ew_snprintf(buf, size, "(?)");
                return buf;
        }
        ew_json_str_copy(doc, i, s);
        quote(s, n, buf, size);
        free(s);
        return buf;
}

/* Appends path p to buf[0..size) after *op bytes. */
static void path_put(const ew_json_doc_t *doc, const vpath_t *p, char *buf,
                     size_t size, size_t *op)
{
        char q[64];

        if (p->up)
                path_put(doc, p->up, buf, size, op);
        switch (p->kind) {
        case P_NAME:
                *op += ew_snprintf(buf + *op, size - *op, "%s%s",
                                   p->up ? "." : "", p->name);
                break;
        case P_KEY:
                *op +=
                    ew_snprintf(buf + *op, size - *op, "%s%s", p->up ? "." : "",
                                quote_tok(doc, p->key, q, sizeof(q)));
                break;
        default:
                *op += ew_snprintf(buf + *op, size - *op, "[%zu]", p->idx);
                break;
        }
}

/* Fails with "<path>: <message>". */
static int failp(vctx_t *vc, const vpath_t *p, const char *fmt, ...)
{
        char    path[PATH_SIZE];
        size_t  o = 0;
        va_list ap;

        if (!vc->errstr || vc->errstr_size == 0)
                return -1;
        path[0] = '\0';
        path_put(vc->doc, p, path, sizeof(path), &o);
        o = ew_snprintf(vc->errstr, vc->errstr_size, "%s: ", path);
        va_start(ap, fmt);
        vsnprintf(vc->errstr + o, vc->errstr_size - o, fmt, ap);
        va_end(ap);
        return -1;
}

/* 1 if string token i holds a \u0000 escape. */
static int has_nul(const ew_json_doc_t *doc, uint32_t i)
{
        size_t      len;
        const char *s, *end;

        if (!(doc->tok[i].flags & EW_JSON_F_ESCAPED))
                return 0;
        s   = ew_json_raw(doc, i, &len);
        end = s + len - 1;
        /* The string was checked: every backslash starts a whole escape
         * before the closing quote, and hex digits are no backslashes. */
        for (s++; s < end; s++) {
                if (*s != '\\')
                        continue;
                if (s[1] == 'u' && memcmp(s + 2, "0000", 4) == 0)
                        return 1;
                s++;
        }
        return 0;
}

/* Checks that token v is a string of 1..max bytes without NUL
 * characters. */
static int check_string(vctx_t *vc, const vpath_t *p, uint32_t v, size_t max)
{
        const ew_json_doc_t *doc = vc->doc;
        size_t               n;

        if (ew_json_type(doc, v) != EW_JSON_STRING)
                return failp(vc, p, "must be a string, got %s",
                             type_name(doc, v));
        n = ew_json_count(doc, v);
        if (n == 0)
                return failp(vc, p, "must not be empty");
        if (n > max)
                return failp(vc, p, "is %zu bytes, over the limit of %zu", n,
                             max);
        if (has_nul(doc, v))
                return failp(vc, p, "must not contain NUL characters");
        return 0;
}

/* Index of the entry of list[0..cnt) equal to string token v, or -1. */
static int str_index(const ew_json_doc_t *doc, uint32_t v,
                     const char *const *list, size_t cnt)
{
        size_t i;

        for (i = 0; i < cnt; i++)
                if (tok_is(doc, v, list[i], strlen(list[i])))
                        return (int)i;
        return -1;
}

/* Joins list[0..cnt) with ", " into buf. */
static char *join(const char *const *list, size_t cnt, char *buf, size_t size)
{
        size_t o = 0, i;

        buf[0] = '\0';
        for (i = 0; i < cnt; i++)
                o += ew_snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
                                 list[i]);
        return buf;
}

/* Checks that v is a non-empty string from list; *which (if non-NULL)
 * gets its index. */
static int check_enum(vctx_t *vc, const vpath_t *p, uint32_t v,
                      const char *const *list, size_t cnt, int *which)
{
        char q[64], all[160];
        int  k;

        if (check_string(vc, p, v, EW_EVENT_MAX_TEXT_BYTES) == -1)
                return -1;
        k = str_index(vc->doc, v, list, cnt);
        if (k < 0)
                return failp(vc, p, "must be one of %s, got %s",
                             join(list, cnt, all, sizeof(all)),
                             quote_tok(vc->doc, v, q, sizeof(q)));
        if (which)
                *which = k;
        return 0;
}

/* Checks that v is an array of at most max entries. */
static int check_array(vctx_t *vc, const vpath_t *p, uint32_t v, size_t max)
{
        size_t n;

        if (ew_json_type(vc->doc, v) != EW_JSON_ARRAY)
                return failp(vc, p, "must be an array, got %s",
                             type_name(vc->doc, v));
        n = ew_json_count(vc->doc, v);
        if (n > max)
                return failp(vc, p, "%zu entries, over the limit of %zu", n,
                             max);
        return 0;
}

/*
 * Rules beyond RFC 8259 (see the top), on the tokens of a parsed value.
 */

/* 1 if number token i is an integer outside the int64_t range. */
static int int_out_of_range(const ew_json_doc_t *doc, uint32_t i)
{
        size_t      len;
        const char *s = ew_json_raw(doc, i, &len);
        int64_t     v;

        if (memchr(s, '.', len) || memchr(s, 'e', len) || memchr(s, 'E', len))
                return 0;
        return ew_json_int64(doc, i, &v) == -1;
}

/* Refuses integers outside 64 bits and member names holding \u0000,
 * naming the first one in the text. Names are looked at only when some
 * string holds an escape at all (rarely). */
static int check_tokens(vctx_t *vc)
{
        const ew_json_doc_t *doc     = vc->doc;
        const ew_json_tok_t *t       = doc->tok;
        size_t               bad_int = SIZE_MAX, bad_key = SIZE_MAX;
        uint32_t             i, n, k, v;
        unsigned             escaped = 0;

        for (i = 0; i < doc->ntok; i++) {
                escaped |= t[i].flags;
                /* 19 digits is the shortest text that can be out of range */
                if (t[i].len >= 19 && t[i].type == EW_JSON_NUMBER &&
                    bad_int == SIZE_MAX && int_out_of_range(doc, i))
                        bad_int = t[i].off;
        }
        for (i = 0; escaped && i < doc->ntok; i++) {
                if (t[i].type != EW_JSON_OBJECT)
                        continue;
                EW_JSON_FOREACH_MEMBER(doc, i, n, k, v)
                {
                        if (t[k].off < bad_key && has_nul(doc, k))
                                bad_key = t[k].off;
                }
        }
        if (bad_int < bad_key)
                return fail(vc,
                            "value has an integer outside the 64-bit range "
                            "at offset %zu",
                            bad_int);
        if (bad_key != SIZE_MAX)
                return fail(vc,
                            "value is not strict JSON: a key holds \\u0000 "
                            "at offset %zu",
                            bad_key);
        return 0;
}

/*
 * Field checks, in the order of the header comment.
 */

static int check_identities(vctx_t *vc, uint32_t arr)
{
        static const char *const acrs[] = {"0", "loa1"};
        const ew_json_doc_t     *doc    = vc->doc;
        const vpath_t            p      = PNAME(NULL, "identities");
        uint32_t                 n, e, nm, k, v;
        size_t                   i = 0;
        char                     q[64];

        if (check_array(vc, &p, arr, vc->lim->max_identities) == -1)
                return -1;
        if (ew_json_count(doc, arr) == 0)
                return failp(vc, &p, "must not be empty");
        EW_JSON_FOREACH_ELEM(doc, arr, n, e)
        {
                const vpath_t pe  = PIDX(&p, i);
                uint32_t      acr = 0, sub = 0, iss = 0;

                if (ew_json_type(doc, e) != EW_JSON_OBJECT)
                        return failp(vc, &pe, "must be an object, got %s",
                                     type_name(doc, e));
                EW_JSON_FOREACH_MEMBER(doc, e, nm, k, v)
                {
                        if (KEY_IS(doc, k, "acr"))
                                acr = v;
                        else if (KEY_IS(doc, k, "sub"))
                                sub = v;
                        else if (KEY_IS(doc, k, "iss"))
                                iss = v;
                        else
                                return failp(vc, &PKEY(&pe, k),
                                             "unknown field (allowed: iss, "
                                             "acr, sub)");
                }
                if (!acr)
                        return failp(vc, &PNAME(&pe, "acr"), "required");
                if (ew_json_type(doc, acr) != EW_JSON_STRING)
                        return failp(vc, &PNAME(&pe, "acr"),
                                     "must be a string, got %s",
                                     type_name(doc, acr));
                if (str_index(doc, acr, acrs, EW_ARRAY_SIZE(acrs)) < 0)
                        return failp(vc, &PNAME(&pe, "acr"),
                                     "must be \"0\" or \"loa1\", got %s",
                                     quote_tok(doc, acr, q, sizeof(q)));
                if (!sub)
                        return failp(vc, &PNAME(&pe, "sub"), "required");
                if (check_string(vc, &PNAME(&pe, "sub"), sub,
                                 EW_EVENT_MAX_ID_BYTES) == -1)
                        return -1;
                if (iss && check_string(vc, &PNAME(&pe, "iss"), iss,
                                        EW_EVENT_MAX_TEXT_BYTES) == -1)
                        return -1;
                if (i == 0)
                        vc->first_sub = sub;
                i++;
        }
        return 0;
}

/* 1 if s[0..len) is a dotted quad: four decimal parts 0-255 without
 * leading zeros (what inet_pton(AF_INET) takes, minus "01"). */
static int ipv4_valid(const char *s, size_t len)
{
        size_t   i = 0, digits;
        unsigned part, parts = 0;

        for (;;) {
                part = 0;
                for (digits = 0; i < len && s[i] >= '0' && s[i] <= '9';
                     digits++, i++)
                        part = part * 10 + (unsigned)(s[i] - '0');
                if (digits == 0 || digits > 3 || part > 255 ||
                    (digits > 1 && s[i - digits] == '0'))
                        return 0;
                if (++parts == 4)
                        return i == len;
                if (i == len || s[i] != '.')
                        return 0;
                i++;
        }
}

/* ipv4_valid() of string token v. */
static int ipv4_tok(const ew_json_doc_t *doc, uint32_t v)
{
        char   ip[16];
        size_t n = ew_json_count(doc, v);

        if (!(doc->tok[v].flags & EW_JSON_F_ESCAPED))
                return ipv4_valid(doc->text + doc->tok[v].off + 1, n);
        if (n >= sizeof(ip))
                return 0;
        ew_json_str_copy(doc, v, ip);
        return ipv4_valid(ip, n);
}

static int check_client_properties(vctx_t *vc, uint32_t cp)
{
        static const char *const families[] = {"DESKTOP", "TABLET", "MOBILE"};
        static const char *const oses[] = {"WINDOWS", "MAC_OSX", "LINUX", "IOS",
                                           "ANDROID"};
        const ew_json_doc_t     *doc    = vc->doc;
        const vpath_t            p      = PNAME(NULL, "clientProperties");
        int                      os = -1, os_name = -1, which = -1;
        uint32_t                 n, k, v;

        if (ew_json_type(doc, cp) != EW_JSON_OBJECT)
                return failp(vc, &p, "must be an object, got %s",
                             type_name(doc, cp));
        EW_JSON_FOREACH_MEMBER(doc, cp, n, k, v)
        {
                if (KEY_IS(doc, k, "deviceFamily")) {
                        if (check_enum(vc, &PNAME(&p, "deviceFamily"), v,
                                       families, EW_ARRAY_SIZE(families),
                                       NULL) == -1)
                                return -1;
                } else if (KEY_IS(doc, k, "os") || KEY_IS(doc, k, "osName")) {
                        int is_os = ew_json_count(doc, k) == 2;
                        if (check_enum(vc, &PNAME(&p, is_os ? "os" : "osName"),
                                       v, oses, EW_ARRAY_SIZE(oses),
                                       &which) == -1)
                                return -1;
                        if (is_os)
                                os = which;
                        else
                                os_name = which;
                } else if (KEY_IS(doc, k, "ipAddress")) {
                        const vpath_t pi = PNAME(&p, "ipAddress");
                        if (check_string(vc, &pi, v, EW_EVENT_MAX_TEXT_BYTES) ==
                            -1)
                                return -1;
                        if (!ipv4_tok(doc, v))
                                /* The value is not echoed: an address is
                                 * personal data, and this message is
                                 * logged. */
                                return failp(vc, &pi,
                                             "must be an IPv4 address "
                                             "(a.b.c.d, parts 0-255 without "
                                             "leading zeros)");
                } else if (KEY_IS(doc, k, "appVersion") ||
                           KEY_IS(doc, k, "osVersion")) {
                        const char *name = ew_json_count(doc, k) == 10
                                               ? "appVersion"
                                               : "osVersion";
                        if (check_string(vc, &PNAME(&p, name), v,
                                         EW_EVENT_MAX_TEXT_BYTES) == -1)
                                return -1;
                } else {
                        /* Open for undocumented scalars, see the top. */
                        ew_json_type_t t = ew_json_type(doc, v);
                        if (t != EW_JSON_STRING && t != EW_JSON_NUMBER &&
                            t != EW_JSON_TRUE && t != EW_JSON_FALSE)
                                return failp(vc, &PKEY(&p, k),
                                             "must be a string, number or "
                                             "boolean, got %s",
                                             type_name(doc, v));
                }
        }
        if (os >= 0 && os_name >= 0 && os != os_name)
                return fail(vc, "clientProperties.osName: disagrees with "
                                "clientProperties.os");
        return 0;
}

static int check_entry_points(vctx_t *vc, uint32_t arr)
{
        const vpath_t p = PNAME(NULL, "entryPoints");
        uint32_t      n, e;
        size_t        i = 0;

        if (check_array(vc, &p, arr, vc->lim->max_entry_points) == -1)
                return -1;
        EW_JSON_FOREACH_ELEM(vc->doc, arr, n, e)
        {
                if (check_string(vc, &PIDX(&p, i), e,
                                 EW_EVENT_MAX_TEXT_BYTES) == -1)
                        return -1;
                i++;
        }
        return 0;
}

/* The documented attribute types and the object each one's content lives
 * in (NULL: the content is at the attribute's top level). */
static const struct attr_type {
        const char *type;
        const char *main;
} attr_types[] = {
    {"cart", NULL},       {"purchase", NULL},     {"prodView", NULL},
    {"ctmrinfo", "info"}, {"mrktInfo", "info"},   {"personal", "personal"},
    {"lead", "lead"},     {"service", "service"}, {"error", "error"},
    {"searchInfo", NULL},
};

static const char *const impression_types[] = {
    "impDisplay", "impAccept", "impExpanded", "impTimeout", "impClose",
};

/* If object obj has key, it must be an array (of objects when objects is
 * set, else of strings). prefix is the path of obj. */
static int check_member_array(vctx_t *vc, uint32_t obj, const vpath_t *prefix,
                              const char *key, int objects)
{
        const ew_json_doc_t *doc  = vc->doc;
        const ew_json_type_t want = objects ? EW_JSON_OBJECT : EW_JSON_STRING;
        uint32_t             v    = ew_json_get(doc, obj, key), n, e;
        size_t               i    = 0;
        vpath_t              p;

        if (!v)
                return 0;
        p = PNAME(prefix, key);
        if (ew_json_type(doc, v) != EW_JSON_ARRAY)
                return failp(vc, &p, "must be an array, got %s",
                             type_name(doc, v));
        EW_JSON_FOREACH_ELEM(doc, v, n, e)
        {
                if (ew_json_type(doc, e) != want)
                        return failp(vc, &PIDX(&p, i), "must be %s, got %s",
                                     objects ? "an object" : "a string",
                                     type_name(doc, e));
                i++;
        }
        return 0;
}

static int check_attribute(vctx_t *vc, uint32_t attr, size_t idx)
{
        const ew_json_doc_t    *doc  = vc->doc;
        const vpath_t           base = PNAME(NULL, "engagementAttributes");
        const vpath_t           p    = PIDX(&base, idx);
        const vpath_t           pt   = PNAME(&p, "type");
        const struct attr_type *at   = NULL;
        const char             *names[EW_ARRAY_SIZE(attr_types)];
        uint32_t                type, main_obj = 0, v;
        char                    q[64], all[160];
        size_t                  i;
        int                     k;

        if (ew_json_type(doc, attr) != EW_JSON_OBJECT)
                return failp(vc, &p, "must be an object, got %s",
                             type_name(doc, attr));
        if (!(type = ew_json_get(doc, attr, "type")))
                return failp(vc, &pt, "required");
        if (ew_json_type(doc, type) != EW_JSON_STRING)
                return failp(vc, &pt, "must be a string, got %s",
                             type_name(doc, type));
        for (i = 0; i < EW_ARRAY_SIZE(attr_types); i++) {
                names[i] = attr_types[i].type;
                if (!at &&
                    ew_json_str_eq(doc, type, names[i], strlen(names[i])))
                        at = &attr_types[i];
        }
        if (!at) {
                k = str_index(doc, type, impression_types,
                              EW_ARRAY_SIZE(impression_types));
                if (k >= 0)
                        return failp(vc, &pt,
                                     "impression event '%s' belongs to the "
                                     "report method and is not accepted by "
                                     "engagement",
                                     impression_types[k]);
                return failp(
                    vc, &pt, "unknown type %s (allowed: %s)",
                    quote_tok(doc, type, q, sizeof(q)),
                    join(names, EW_ARRAY_SIZE(names), all, sizeof(all)));
        }
        if (at->main) {
                const vpath_t pm = PNAME(&p, at->main);
                if (!(main_obj = ew_json_get(doc, attr, at->main)))
                        return failp(vc, &pm, "required for type \"%s\"",
                                     at->type);
                if (ew_json_type(doc, main_obj) != EW_JSON_OBJECT)
                        return failp(vc, &pm, "must be an object, got %s",
                                     type_name(doc, main_obj));
        }

        if (strcmp(at->type, "cart") == 0 || strcmp(at->type, "prodView") == 0)
                return check_member_array(vc, attr, &p, "products", 1);
        if (strcmp(at->type, "purchase") == 0 &&
            (v = ew_json_get(doc, attr, "cart"))) {
                const vpath_t pc = PNAME(&p, "cart");
                if (ew_json_type(doc, v) != EW_JSON_OBJECT)
                        return failp(vc, &pc, "must be an object, got %s",
                                     type_name(doc, v));
                return check_member_array(vc, v, &pc, "products", 1);
        }
        if (strcmp(at->type, "searchInfo") == 0)
                return check_member_array(vc, attr, &p, "keywords", 0);
        if (strcmp(at->type, "personal") == 0)
                return check_member_array(vc, main_obj, &PNAME(&p, "personal"),
                                          "contacts", 1);
        if (strcmp(at->type, "service") == 0 &&
            (v = ew_json_get(doc, main_obj, "status"))) {
                const vpath_t ps = PNAME(&p, "service");
                int64_t       st = -1;
                if (ew_json_int64(doc, v, &st) == -1 || st < 0 || st > 13) {
                        char num[32];
                        if (ew_json_int64(doc, v, &st) == 0)
                                ew_snprintf(num, sizeof(num), "%" PRId64, st);
                        else
                                ew_snprintf(num, sizeof(num), "%s",
                                            type_name(doc, v));
                        return failp(vc, &PNAME(&ps, "status"),
                                     "must be an integer from 0 to 13, got "
                                     "%s",
                                     num);
                }
        }
        return 0;
}

static int check_attributes(vctx_t *vc, uint32_t arr)
{
        const vpath_t p = PNAME(NULL, "engagementAttributes");
        uint32_t      n, e;
        size_t        i = 0;

        if (check_array(vc, &p, arr, vc->lim->max_attributes) == -1)
                return -1;
        EW_JSON_FOREACH_ELEM(vc->doc, arr, n, e)
        {
                if (check_attribute(vc, e, i++) == -1)
                        return -1;
        }
        return 0;
}

/* Finds the documented top-level members of the root object: at[F_*] is
 * the value's token, 0 when absent or null. */
static void collect(const ew_json_doc_t *doc, uint32_t *at)
{
        uint32_t n, k, v, len;
        size_t   f;

        EW_JSON_FOREACH_MEMBER(doc, 0, n, k, v)
        {
                if (ew_json_type(doc, v) == EW_JSON_NULL)
                        continue;
                len = ew_json_count(doc, k);
                for (f = 0; f < F_COUNT; f++) {
                        if (fields[f].len == len &&
                            tok_is(doc, k, fields[f].name, len)) {
                                at[f] = v;
                                break;
                        }
                }
        }
}

/* Validates the members found by collect(). */
static int validate(vctx_t *vc, const uint32_t *at)
{
        size_t f;

        for (f = F_EVENT_ID; f <= F_CONSUMER_ID; f++)
                if (at[f] && check_string(vc, &PNAME(NULL, fields[f].name),
                                          at[f], EW_EVENT_MAX_ID_BYTES) == -1)
                        return -1;
        if (at[F_IDENTITIES] && check_identities(vc, at[F_IDENTITIES]) == -1)
                return -1;
        if (at[F_CLIENT_PROPERTIES] &&
            check_client_properties(vc, at[F_CLIENT_PROPERTIES]) == -1)
                return -1;
        if (at[F_ENTRY_POINTS] &&
            check_entry_points(vc, at[F_ENTRY_POINTS]) == -1)
                return -1;
        if (at[F_ATTRIBUTES] && check_attributes(vc, at[F_ATTRIBUTES]) == -1)
                return -1;
        if (!at[F_IDENTITIES] && !at[F_CONSUMER_ID] && !at[F_VISITOR_ID])
                return fail(vc, "event must carry at least one of identities, "
                                "consumerId, visitorId");
        if (at[F_SESSION_ID] && !at[F_VISITOR_ID])
                return fail(vc, "sessionId: requires visitorId (a session "
                                "belongs to a visit)");
        return 0;
}

/* 1 if token v (0: absent) is an eventId the dead letter can carry. */
static int usable_event_id(const ew_json_doc_t *doc, uint32_t v)
{
        size_t n;

        if (!v || ew_json_type(doc, v) != EW_JSON_STRING)
                return 0;
        n = ew_json_count(doc, v);
        return n > 0 && n <= EW_EVENT_MAX_ID_BYTES && !has_nul(doc, v);
}

/* Copies usable eventId token v to out[0..size), cut to fit. */
static void copy_event_id(const ew_json_doc_t *doc, uint32_t v, char *out,
                          size_t size)
{
        char   id[EW_EVENT_MAX_ID_BYTES + 1];
        size_t n = ew_json_str_copy(doc, v, id);

        if (n >= size)
                n = size - 1;
        memcpy(out, id, n);
        out[n] = '\0';
}

/* Copies decoded string token i to *pp (NUL-terminated) and moves *pp on.
 * Returns the copy. */
static const char *put_str(const ew_json_doc_t *doc, uint32_t i, char **pp)
{
        char *s = *pp;

        *pp += ew_json_str_copy(doc, i, s) + 1;
        return s;
}

/* Copies token i's text to *pp (NUL-terminated) into *out and moves *pp
 * on. */
static void put_json(const ew_json_doc_t *doc, uint32_t i, char **pp,
                     ew_event_json_t *out)
{
        size_t      n;
        const char *s = ew_json_raw(doc, i, &n);

        memcpy(*pp, s, n);
        (*pp)[n]  = '\0';
        out->json = *pp;
        out->len  = n;
        *pp += n + 1;
}

/* The event for a validated value: one allocation holding the struct and
 * every string. NULL when out of memory. */
static ew_event_t *build(const vctx_t *vc, const uint32_t *at,
                         const ew_source_t *src)
{
        const ew_json_doc_t *doc = vc->doc;
        char                 def[EW_EVENT_MAX_ID_BYTES + 64];
        size_t               need = sizeof(ew_event_t), def_len = 0, f;
        ew_event_t          *ev;
        char                *p;

        for (f = F_EVENT_ID; f <= F_CONSUMER_ID; f++)
                if (at[f])
                        need += (size_t)ew_json_count(doc, at[f]) + 1;
        if (!at[F_EVENT_ID]) {
                ew_event_default_id(src, def, sizeof(def));
                def_len = strlen(def);
                need += def_len + 1;
        }
        if (vc->first_sub)
                need += (size_t)ew_json_count(doc, vc->first_sub) + 1;
        for (f = F_IDENTITIES; f < F_COUNT; f++)
                if (at[f])
                        need += (size_t)doc->tok[at[f]].len + 1;

        ev = malloc(need);
        if (!ev)
                return NULL;
        memset(ev, 0, sizeof(*ev));
        p = (char *)(ev + 1);
        {
                const char **ids[] = {
                    &ev->event_id,   &ev->account_id, &ev->app_installation_id,
                    &ev->visitor_id, &ev->session_id, &ev->consumer_id};
                for (f = F_EVENT_ID; f <= F_CONSUMER_ID; f++)
                        if (at[f])
                                *ids[f] = put_str(doc, at[f], &p);
        }
        if (!at[F_EVENT_ID]) {
                memcpy(p, def, def_len + 1);
                ev->event_id = p;
                p += def_len + 1;
        }
        if (vc->first_sub)
                ev->first_sub = put_str(doc, vc->first_sub, &p);
        if (at[F_IDENTITIES])
                put_json(doc, at[F_IDENTITIES], &p, &ev->identities);
        if (at[F_CLIENT_PROPERTIES])
                put_json(doc, at[F_CLIENT_PROPERTIES], &p,
                         &ev->client_properties);
        if (at[F_ENTRY_POINTS])
                put_json(doc, at[F_ENTRY_POINTS], &p, &ev->entry_points);
        if (at[F_ATTRIBUTES])
                put_json(doc, at[F_ATTRIBUTES], &p, &ev->engagement_attributes);
        return ev;
}

/*
 * The cold path: why the reader refused a value, in the contract's words.
 */

static int is_ws(unsigned char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(unsigned char c)
{
        return c >= '0' && c <= '9';
}

static int hex4(const char *p, unsigned *cp)
{
        unsigned v = 0;
        int      i;

        for (i = 0; i < 4; i++) {
                unsigned char c = (unsigned char)p[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= c - '0';
                else if (c >= 'a' && c <= 'f')
                        v |= c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        v |= c - 'A' + 10;
                else
                        return -1;
        }
        *cp = v;
        return 0;
}

/* Scans the string starting at the quote buf[*ip]; leaves *ip past the
 * closing quote. */
static int scan_string(vctx_t *vc, const char *buf, size_t len, size_t *ip)
{
        size_t   i = *ip + 1;
        unsigned cp, lo;

        while (i < len) {
                unsigned char c = (unsigned char)buf[i];
                if (c == '"') {
                        *ip = i + 1;
                        return 0;
                }
                if (c < 0x20)
                        return fail(vc,
                                    "value is not JSON: control character "
                                    "0x%02x inside a string at offset %zu",
                                    c, i);
                if (c != '\\') {
                        i++;
                        continue;
                }
                if (i + 1 >= len)
                        break;
                c = (unsigned char)buf[i + 1];
                if (c != 'u') {
                        if (!strchr("\"\\/bfnrt", c) || c == '\0')
                                return fail(vc,
                                            "value is not JSON: invalid "
                                            "escape at offset %zu",
                                            i);
                        i += 2;
                        continue;
                }
                if (i + 6 > len || hex4(buf + i + 2, &cp) == -1)
                        return fail(vc,
                                    "value is not JSON: invalid \\u escape "
                                    "at offset %zu",
                                    i);
                if (cp >= 0xdc00 && cp <= 0xdfff)
                        return fail(vc,
                                    "value is not JSON: lone surrogate "
                                    "\\u%04x at offset %zu",
                                    cp, i);
                if (cp >= 0xd800 && cp <= 0xdbff) {
                        if (i + 12 > len || buf[i + 6] != '\\' ||
                            buf[i + 7] != 'u' || hex4(buf + i + 8, &lo) == -1 ||
                            lo < 0xdc00 || lo > 0xdfff)
                                return fail(vc,
                                            "value is not JSON: lone "
                                            "surrogate \\u%04x at offset %zu",
                                            cp, i);
                        i += 12;
                } else {
                        i += 6;
                }
        }
        return fail(vc, "value is not JSON: unterminated string at offset %zu",
                    *ip);
}

/* Scans an RFC 8259 number starting at buf[*ip]; integers must fit
 * int64_t (see check_tokens). */
static int scan_number(vctx_t *vc, const char *buf, size_t len, size_t *ip)
{
        static const char max_pos[] = "9223372036854775807";
        static const char max_neg[] = "9223372036854775808";
        size_t            start = *ip, i = *ip, d0, nd;
        int               neg = 0, is_int = 1;

        if (buf[i] == '-') {
                neg = 1;
                i++;
        }
        d0 = i;
        if (i < len && buf[i] == '0') {
                i++;
        } else if (i < len && is_digit((unsigned char)buf[i])) {
                while (i < len && is_digit((unsigned char)buf[i]))
                        i++;
        } else {
                goto bad;
        }
        nd = i - d0;
        if (i < len && buf[i] == '.') {
                is_int = 0;
                i++;
                if (i >= len || !is_digit((unsigned char)buf[i]))
                        goto bad;
                while (i < len && is_digit((unsigned char)buf[i]))
                        i++;
        }
        if (i < len && (buf[i] == 'e' || buf[i] == 'E')) {
                is_int = 0;
                i++;
                if (i < len && (buf[i] == '+' || buf[i] == '-'))
                        i++;
                if (i >= len || !is_digit((unsigned char)buf[i]))
                        goto bad;
                while (i < len && is_digit((unsigned char)buf[i]))
                        i++;
        }
        /* What follows a number is a delimiter, never more digits (00). */
        if (i < len && !is_ws((unsigned char)buf[i]) && buf[i] != ',' &&
            buf[i] != '}' && buf[i] != ']')
                goto bad;
        if (is_int) {
                const char *max = neg ? max_neg : max_pos;
                if (nd > sizeof(max_pos) - 1 || (nd == sizeof(max_pos) - 1 &&
                                                 memcmp(buf + d0, max, nd) > 0))
                        return fail(vc,
                                    "value has an integer outside the 64-bit "
                                    "range at offset %zu",
                                    start);
        }
        *ip = i;
        return 0;
bad:
        return fail(vc, "value is not JSON: invalid number at offset %zu",
                    start);
}

/* Looks for a lexical problem (a token the grammar does not have, a
 * malformed number or string, nesting deeper than max_depth, anything
 * after the value) starting at or before byte limit. Returns -1 with the
 * message set, or 0 if there is none. The scan follows tokens, not the
 * grammar: the reader has already said where the text goes wrong, and
 * only problems up to there are reported. */
static int scan_lexical(vctx_t *vc, const char *buf, size_t len, size_t limit)
{
        static const char *const words[] = {"true", "false", "null"};
        size_t                   i       = 0, w;
        int                      depth = 0, done = 0;

        while (i < len && i <= limit) {
                unsigned char c = (unsigned char)buf[i];

                if (is_ws(c)) {
                        i++;
                        continue;
                }
                if (done)
                        return fail(vc,
                                    "value has trailing data after the JSON "
                                    "value at offset %zu",
                                    i);
                if (c == ',' || c == ':') {
                        i++;
                } else if (c == '{' || c == '[') {
                        if (++depth > vc->lim->max_depth)
                                return fail(vc,
                                            "value nests deeper than %d "
                                            "levels at offset %zu",
                                            vc->lim->max_depth, i);
                        i++;
                } else if (c == '}' || c == ']') {
                        done = --depth <= 0;
                        i++;
                } else if (c == '"') {
                        if (scan_string(vc, buf, len, &i) == -1)
                                return -1;
                        done = depth == 0;
                } else if (c == '-' || is_digit(c)) {
                        if (scan_number(vc, buf, len, &i) == -1)
                                return -1;
                        done = depth == 0;
                } else {
                        for (w = 0; w < EW_ARRAY_SIZE(words); w++) {
                                size_t wl = strlen(words[w]);
                                if (len - i >= wl &&
                                    memcmp(buf + i, words[w], wl) == 0)
                                        break;
                        }
                        if (w == EW_ARRAY_SIZE(words)) {
                                if (c > 0x20 && c < 0x7f)
                                        return fail(vc,
                                                    "value is not JSON: "
                                                    "unexpected '%c' at "
                                                    "offset %zu",
                                                    c, i);
                                return fail(vc,
                                            "value is not JSON: unexpected "
                                            "byte 0x%02x at offset %zu",
                                            c, i);
                        }
                        i += strlen(words[w]);
                        done = depth == 0;
                }
        }
        return 0;
}

/* Appends member name token k to buf at *op, after a '.' unless first:
 * as it is when it is a plain identifier, else quoted. */
static void name_put(const ew_json_doc_t *doc, uint32_t k, char *buf,
                     size_t size, size_t *op)
{
        const char *sep = *op ? "." : "";
        size_t      len, i;
        const char *s = ew_json_raw(doc, k, &len);
        char        q[64];

        for (i = 1; i + 1 < len && i <= 40; i++) {
                char c = s[i];
                if (!(c == '_' || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
                      (i > 1 && is_digit((unsigned char)c))))
                        break;
        }
        if (len > 2 && i + 1 == len)
                *op += ew_snprintf(buf + *op, size - *op, "%s%.*s", sep,
                                   (int)(len - 2), s + 1);
        else
                *op += ew_snprintf(buf + *op, size - *op, "%s%s", sep,
                                   quote_tok(doc, k, q, sizeof(q)));
}

/* Writes the path of token target (inside doc's root) to buf, e.g.
 * engagementAttributes[0].info; "" for the root. */
static void path_of(const ew_json_doc_t *doc, uint32_t target, char *buf,
                    size_t size)
{
        uint32_t cur = 0, n, k, v, e;
        size_t   o   = 0, i;

        buf[0] = '\0';
        while (cur != target) {
                if (ew_json_type(doc, cur) == EW_JSON_OBJECT) {
                        EW_JSON_FOREACH_MEMBER(doc, cur, n, k, v)
                        {
                                if (v <= target &&
                                    target < ew_json_skip(doc, v))
                                        break;
                        }
                        if (n == 0)
                                return;
                        name_put(doc, k, buf, size, &o);
                        cur = v;
                } else {
                        i = 0;
                        EW_JSON_FOREACH_ELEM(doc, cur, n, e)
                        {
                                if (e <= target &&
                                    target < ew_json_skip(doc, e))
                                        break;
                                i++;
                        }
                        if (n == 0)
                                return;
                        o += ew_snprintf(buf + o, size - o, "[%zu]", i);
                        cur = e;
                }
        }
}

/* The reader refused the value only for a repeated member name (doc holds
 * it read without that rule; at is where the reader saw the repeat): names
 * the object and the member, as "clientProperties: member "osName" appears
 * twice". Checks the root's type first, as a valid read would. */
static void report_duplicate(vctx_t *vc, const ew_json_doc_t *doc, size_t at,
                             char *event_id_out, size_t event_id_size,
                             int *id_out)
{
        char     path[PATH_SIZE], q[64];
        uint32_t i, n, k, v, id;

        if (ew_json_type(doc, 0) != EW_JSON_OBJECT) {
                fail(vc, "value must be a JSON object, got %s",
                     type_name(doc, 0));
                return;
        }
        id = ew_json_get(doc, 0, "eventId");
        if (event_id_out && event_id_size && usable_event_id(doc, id)) {
                copy_event_id(doc, id, event_id_out, event_id_size);
                *id_out = 1;
        }
        for (i = 0; i < doc->ntok; i++) {
                if (ew_json_type(doc, i) != EW_JSON_OBJECT)
                        continue;
                EW_JSON_FOREACH_MEMBER(doc, i, n, k, v)
                {
                        if (doc->tok[k].off != at)
                                continue;
                        path_of(doc, i, path, sizeof(path));
                        quote_tok(doc, k, q, sizeof(q));
                        if (path[0])
                                fail(vc, "%s: member %s appears twice", path,
                                     q);
                        else
                                fail(vc, "member %s appears twice", q);
                        return;
                }
        }
        fail(vc, "value names a member twice (at offset %zu)", at);
}

/* The reader's failure (what, at byte offset at) as "value is not JSON:
 * ...". */
static void reader_error(vctx_t *vc, size_t len, const char *what, size_t at)
{
        if (at == EW_JSON_NO_OFFSET)
                fail(vc, "value could not be read: %s", what);
        else if (at >= len)
                fail(vc,
                     "value is not JSON: it ends at offset %zu before the "
                     "JSON value is complete",
                     len);
        else
                fail(vc, "value is not JSON: %s at offset %zu", what, at);
}

/* Sets the message for a value ew_json refused (failed: the document of
 * that parse, which says what and where; cold path, see the top). When
 * only a repeated name is wrong, a usable eventId still goes to
 * event_id_out (*id_out set). */
static void explain(vctx_t *vc, const char *buf, size_t len,
                    const ew_json_doc_t *failed, char *event_id_out,
                    size_t event_id_size, int *id_out)
{
        const char   *nul  = memchr(buf, '\0', len);
        const char   *what = failed->err_what;
        size_t        off  = failed->err_off;
        ew_json_doc_t doc;
        size_t        at;
        int           round;

        if (nul) {
                fail(vc, "value contains a NUL byte at offset %zu",
                     (size_t)(nul - buf));
                return;
        }
        if (!ew_utf8_valid(buf, len)) {
                fail(vc, "value is not valid UTF-8");
                return;
        }
        for (round = 0; round < 2; round++) {
                at = off == EW_JSON_NO_OFFSET ? len : off;
                if (scan_lexical(vc, buf, len, at) == -1)
                        return;
                if (round == 1)
                        break;
                /* Read again with repeated names allowed: success means
                 * a repeated name was the only fault; the same error means
                 * it was none; an error further on means it was followed by
                 * another (which is explained instead). */
                ew_json_doc_init(&doc);
                if (ew_json_parse(&doc, buf, len, vc->lim->max_depth,
                                  0 /*repeats allowed*/, NULL, 0) == 0) {
                        report_duplicate(vc, &doc, at, event_id_out,
                                         event_id_size, id_out);
                        ew_json_doc_release(&doc);
                        return;
                }
                /* Same failure: the repeated name was none. */
                if (doc.err_off == off && strcmp(doc.err_what, what) == 0) {
                        ew_json_doc_release(&doc);
                        break;
                }
                what = doc.err_what;
                off  = doc.err_off;
                ew_json_doc_release(&doc);
        }
        reader_error(vc, len, what, off);
}

void ew_event_default_id(const ew_source_t *src, char *buf, size_t size)
{
        if (!src) {
                ew_snprintf(buf, size, "unknown");
                return;
        }
        ew_snprintf(buf, size, "%s:%" PRId32 ":%" PRId64,
                    src->topic ? src->topic : "", src->partition, src->offset);
}

int ew_event_parse(const char *buf, size_t len, const ew_event_limits_t *lim,
                   const ew_source_t *src, ew_event_t **evp, char *event_id_out,
                   size_t event_id_size, char *errstr, size_t errstr_size)
{
        static const ew_event_limits_t defaults = EW_EVENT_LIMITS_DEFAULT;
        vctx_t vc = {lim ? lim : &defaults, NULL, errstr, errstr_size, 0};
        ew_json_doc_t doc;
        uint32_t      at[F_COUNT] = {0};
        ew_event_t   *ev;
        int           id_out = 0; /* event_id_out holds the event's id */
        int           r      = -1;

        *evp = NULL;
        if (errstr && errstr_size)
                errstr[0] = '\0';
        if (!event_id_out || !event_id_size)
                id_out = 1; /* nothing to write */
        ew_json_doc_init(&doc);
        vc.doc = &doc;

        if (!buf || len == 0) {
                fail(&vc, "value is empty");
                goto done;
        }
        if (len > vc.lim->max_bytes || len > INT_MAX) {
                fail(&vc, "value is %zu bytes, over the limit of %zu", len,
                     vc.lim->max_bytes < INT_MAX ? vc.lim->max_bytes
                                                 : (size_t)INT_MAX);
                goto done;
        }
        if (vc.lim->max_depth < 1 || vc.lim->max_depth > EW_EVENT_DEPTH_CAP) {
                fail(&vc, "max_depth %d is outside 1..%d", vc.lim->max_depth,
                     EW_EVENT_DEPTH_CAP);
                goto done;
        }
        if (ew_json_parse(&doc, buf, len, vc.lim->max_depth,
                          EW_JSON_UNIQUE_KEYS, NULL, 0) == -1) {
                explain(&vc, buf, len, &doc, event_id_out, event_id_size,
                        &id_out);
                goto done;
        }
        if (ew_json_type(&doc, 0) != EW_JSON_OBJECT) {
                fail(&vc, "value must be a JSON object, got %s",
                     type_name(&doc, 0));
                goto done;
        }
        collect(&doc, at);
        /* From here on the dead letter can carry the producer's id. */
        if (!id_out && usable_event_id(&doc, at[F_EVENT_ID])) {
                copy_event_id(&doc, at[F_EVENT_ID], event_id_out,
                              event_id_size);
                id_out = 1;
        }
        if (check_tokens(&vc) == -1 || validate(&vc, at) == -1)
                goto done;
        ev = build(&vc, at, src);
        if (!ev) {
                fail(&vc, "out of memory");
                goto done;
        }
        if (!id_out) {
                /* The default id, as the event carries it. */
                ew_snprintf(event_id_out, event_id_size, "%s", ev->event_id);
                id_out = 1;
        }
        *evp = ev;
        r    = 0;
done:
        if (!id_out)
                ew_event_default_id(src, event_id_out, event_id_size);
        ew_json_doc_release(&doc);
        return r;
}

void ew_event_destroy(ew_event_t *ev)
{
        free(ev); /* one allocation, see ew_event.h */
}

const char *ew_event_derived_key(const ew_event_t *ev)
{
        if (!ev)
                return NULL;
        if (ev->first_sub)
                return ev->first_sub;
        if (ev->consumer_id)
                return ev->consumer_id;
        return ev->visitor_id;
}
