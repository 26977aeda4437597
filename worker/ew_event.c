/*
 * ew_event - see ew_event.h.
 *
 * Decisions the header leaves open, taken here:
 *
 * - Parsing is json-c in strict mode, followed by a lexical pass over the
 *   same bytes (check_lexical) for what json-c 0.16 lets through even when
 *   strict: single-quoted keys, NaN and Infinity, raw control characters
 *   inside strings, leading zeros such as 00 or -01, "1." without digits,
 *   lone UTF-16 surrogates (json-c silently turns them into U+FFFD) and
 *   integers outside the signed 64-bit range (json-c silently saturates
 *   them, so the body would not carry what the producer sent). The same
 *   pass enforces max_depth exactly: json-c counts a scalar leaf as a
 *   level but an empty container not, so it is given max_depth + 1 and only
 *   bounds the work.
 * - Duplicate keys: the last one wins (json-c behaviour).
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

#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_util.h"

/* Validation context: the limits and where the message goes. */
typedef struct vctx {
        const ew_event_limits_t *lim;
        char                    *errstr;
        size_t                   errstr_size;
} vctx_t;

/* Largest max_depth accepted: json-c allocates its stack up front. */
#define EW_EVENT_DEPTH_CAP 10000

/* Room for a field path such as "engagementAttributes[99].service.status"
 * or a quoted unknown key. */
#define PATH_SIZE 160

static int fail(vctx_t *vc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

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
static const char *type_name(json_object *v)
{
        switch (json_object_get_type(v)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "boolean";
        case json_type_double:
        case json_type_int:
                return "number";
        case json_type_object:
                return "object";
        case json_type_array:
                return "array";
        case json_type_string:
                return "string";
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

/* Quotes a JSON string value for a message. */
static char *quote_str(json_object *v, char *buf, size_t size)
{
        return quote(json_object_get_string(v),
                     (size_t)json_object_get_string_len(v), buf, size);
}

/* A top-level field's value; NULL when absent or JSON null. */
static json_object *field(json_object *obj, const char *key)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(obj, key, &v) ||
            json_object_is_type(v, json_type_null))
                return NULL;
        return v;
}

/* Checks that v is a string of 1..max bytes without NUL characters and
 * stores it in *out (borrowed) when out is non-NULL. */
static int check_string(vctx_t *vc, json_object *v, const char *path,
                        size_t max, const char **out)
{
        const char *s;
        size_t      len;

        if (!json_object_is_type(v, json_type_string))
                return fail(vc, "%s: must be a string, got %s", path,
                            type_name(v));
        s   = json_object_get_string(v);
        len = (size_t)json_object_get_string_len(v);
        if (len == 0)
                return fail(vc, "%s: must not be empty", path);
        if (len > max)
                return fail(vc, "%s: is %zu bytes, over the limit of %zu", path,
                            len, max);
        if (memchr(s, '\0', len))
                return fail(vc, "%s: must not contain NUL characters", path);
        if (out)
                *out = s;
        return 0;
}

/* Returns 1 if v is a string equal to one of list[0..cnt). */
static int string_in(json_object *v, const char *const *list, size_t cnt)
{
        const char *s = json_object_get_string(v);
        size_t      i;

        for (i = 0; i < cnt; i++)
                if (strcmp(s, list[i]) == 0)
                        return 1;
        return 0;
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

/* Checks that v is a non-empty string from list. */
static int check_enum(vctx_t *vc, json_object *v, const char *path,
                      const char *const *list, size_t cnt)
{
        char q[64], all[160];

        if (check_string(vc, v, path, EW_EVENT_MAX_TEXT_BYTES, NULL) == -1)
                return -1;
        if (!string_in(v, list, cnt))
                return fail(vc, "%s: must be one of %s, got %s", path,
                            join(list, cnt, all, sizeof(all)),
                            quote_str(v, q, sizeof(q)));
        return 0;
}

/* Checks that v is an array of at most max entries. */
static int check_array(vctx_t *vc, json_object *v, const char *path, size_t max)
{
        size_t n;

        if (!json_object_is_type(v, json_type_array))
                return fail(vc, "%s: must be an array, got %s", path,
                            type_name(v));
        n = json_object_array_length(v);
        if (n > max)
                return fail(vc, "%s: %zu entries, over the limit of %zu", path,
                            n, max);
        return 0;
}

/*
 * Lexical pass (see the top of the file). buf[0..len) has been accepted by
 * json-c, so the structure is known to be sound; this only looks at tokens.
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
 * closing quote and sets *nulp if the string holds a \u0000 escape. */
static int scan_string(vctx_t *vc, const char *buf, size_t len, size_t *ip,
                       int *nulp)
{
        size_t   i = *ip + 1;
        unsigned cp, lo;

        *nulp = 0;
        while (i < len) {
                unsigned char c = (unsigned char)buf[i];
                if (c == '"') {
                        *ip = i + 1;
                        return 0;
                }
                if (c < 0x20)
                        return fail(vc,
                                    "value is not strict JSON: control "
                                    "character 0x%02x inside a string at "
                                    "offset %zu",
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
                                            "value is not strict JSON: "
                                            "invalid escape at offset %zu",
                                            i);
                        i += 2;
                        continue;
                }
                if (i + 6 > len || hex4(buf + i + 2, &cp) == -1)
                        return fail(vc,
                                    "value is not strict JSON: invalid "
                                    "\\u escape at offset %zu",
                                    i);
                if (cp == 0)
                        *nulp = 1;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                        return fail(vc,
                                    "value is not strict JSON: lone "
                                    "surrogate \\u%04x at offset %zu",
                                    cp, i);
                if (cp >= 0xd800 && cp <= 0xdbff) {
                        if (i + 12 > len || buf[i + 6] != '\\' ||
                            buf[i + 7] != 'u' || hex4(buf + i + 8, &lo) == -1 ||
                            lo < 0xdc00 || lo > 0xdfff)
                                return fail(vc,
                                            "value is not strict JSON: lone "
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

/* Scans an RFC 8259 number starting at buf[*ip]. Integers (no fraction,
 * no exponent) must fit int64: json-c would saturate them silently. */
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
        return fail(vc,
                    "value is not strict JSON: invalid number at offset %zu",
                    start);
}

static int check_lexical(vctx_t *vc, const char *buf, size_t len)
{
        static const char *const words[] = {"true", "false", "null"};
        size_t                   i       = 0, w;
        int                      depth   = 0;

        while (i < len) {
                unsigned char c = (unsigned char)buf[i];

                if (is_ws(c) || c == ',' || c == ':') {
                        i++;
                } else if (c == '{' || c == '[') {
                        if (++depth > vc->lim->max_depth)
                                return fail(vc,
                                            "value nests deeper than %d "
                                            "levels at offset %zu",
                                            vc->lim->max_depth, i);
                        i++;
                } else if (c == '}' || c == ']') {
                        depth--;
                        i++;
                } else if (c == '"') {
                        size_t start = i, j;
                        int    nul;
                        if (scan_string(vc, buf, len, &i, &nul) == -1)
                                return -1;
                        /* json-c cuts a key at \u0000: "consumerId\u0000x"
                         * would silently become "consumerId". */
                        for (j = i;
                             nul && j < len && is_ws((unsigned char)buf[j]);
                             j++)
                                ;
                        if (nul && j < len && buf[j] == ':')
                                return fail(vc,
                                            "value is not strict JSON: a key "
                                            "holds \\u0000 at offset %zu",
                                            start);
                } else if (c == '-' || is_digit(c)) {
                        if (scan_number(vc, buf, len, &i) == -1)
                                return -1;
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
                                                    "value is not strict "
                                                    "JSON: unexpected '%c' "
                                                    "at offset %zu",
                                                    c, i);
                                return fail(vc,
                                            "value is not strict JSON: "
                                            "unexpected byte 0x%02x at "
                                            "offset %zu",
                                            c, i);
                        }
                        i += strlen(words[w]);
                }
        }
        return 0;
}

/*
 * Field checks, in the order of the header comment.
 */

static int check_identities(vctx_t *vc, json_object *arr)
{
        static const char *const acrs[] = {"0", "loa1"};
        char                     path[PATH_SIZE], q[64];
        size_t                   n, i;

        if (check_array(vc, arr, "identities", vc->lim->max_identities) == -1)
                return -1;
        n = json_object_array_length(arr);
        if (n == 0)
                return fail(vc, "identities: must not be empty");
        for (i = 0; i < n; i++) {
                json_object *id = json_object_array_get_idx(arr, i);
                json_object *v;

                if (!json_object_is_type(id, json_type_object))
                        return fail(vc,
                                    "identities[%zu]: must be an object, "
                                    "got %s",
                                    i, type_name(id));
                json_object_object_foreach(id, key, val)
                {
                        (void)val;
                        if (strcmp(key, "iss") != 0 &&
                            strcmp(key, "acr") != 0 && strcmp(key, "sub") != 0)
                                return fail(
                                    vc,
                                    "identities[%zu].%s: unknown "
                                    "field (allowed: iss, acr, sub)",
                                    i, quote(key, strlen(key), q, sizeof(q)));
                }
                ew_snprintf(path, sizeof(path), "identities[%zu].acr", i);
                if (!json_object_object_get_ex(id, "acr", &v))
                        return fail(vc, "%s: required", path);
                if (!json_object_is_type(v, json_type_string))
                        return fail(vc, "%s: must be a string, got %s", path,
                                    type_name(v));
                if (json_object_get_string_len(v) !=
                        (int)strlen(json_object_get_string(v)) ||
                    !string_in(v, acrs, EW_ARRAY_SIZE(acrs)))
                        return fail(vc, "%s: must be \"0\" or \"loa1\", got %s",
                                    path, quote_str(v, q, sizeof(q)));

                ew_snprintf(path, sizeof(path), "identities[%zu].sub", i);
                if (!json_object_object_get_ex(id, "sub", &v))
                        return fail(vc, "%s: required", path);
                if (check_string(vc, v, path, EW_EVENT_MAX_ID_BYTES, NULL) ==
                    -1)
                        return -1;

                if (json_object_object_get_ex(id, "iss", &v)) {
                        ew_snprintf(path, sizeof(path), "identities[%zu].iss",
                                    i);
                        if (check_string(vc, v, path, EW_EVENT_MAX_TEXT_BYTES,
                                         NULL) == -1)
                                return -1;
                }
        }
        return 0;
}

/* Dotted quad, four decimal parts 0-255, no leading zeros. */
static int ipv4_valid(const char *s, size_t len)
{
        struct in_addr addr;
        size_t         i;

        if (len < 7 || len > 15 || memchr(s, '\0', len))
                return 0;
        for (i = 0; i < len; i++) {
                int starts = i == 0 || s[i - 1] == '.';
                if (starts && s[i] == '0' && i + 1 < len && s[i + 1] != '.')
                        return 0;
        }
        return inet_pton(AF_INET, s, &addr) == 1;
}

static int check_client_properties(vctx_t *vc, json_object *cp)
{
        static const char *const families[] = {"DESKTOP", "TABLET", "MOBILE"};
        static const char *const oses[] = {"WINDOWS", "MAC_OSX", "LINUX", "IOS",
                                           "ANDROID"};
        json_object             *os = NULL, *os_name = NULL;
        char                     path[PATH_SIZE], q[64];

        if (!json_object_is_type(cp, json_type_object))
                return fail(vc, "clientProperties: must be an object, got %s",
                            type_name(cp));
        json_object_object_foreach(cp, key, val)
        {
                ew_snprintf(path, sizeof(path), "clientProperties.%s", key);
                if (strcmp(key, "deviceFamily") == 0) {
                        if (check_enum(vc, val, path, families,
                                       EW_ARRAY_SIZE(families)) == -1)
                                return -1;
                } else if (strcmp(key, "os") == 0 ||
                           strcmp(key, "osName") == 0) {
                        if (check_enum(vc, val, path, oses,
                                       EW_ARRAY_SIZE(oses)) == -1)
                                return -1;
                        if (key[2] == '\0')
                                os = val;
                        else
                                os_name = val;
                } else if (strcmp(key, "ipAddress") == 0) {
                        if (check_string(vc, val, path, EW_EVENT_MAX_TEXT_BYTES,
                                         NULL) == -1)
                                return -1;
                        if (!ipv4_valid(
                                json_object_get_string(val),
                                (size_t)json_object_get_string_len(val)))
                                /* The value is not echoed: an address
                                 * is personal data, and this message is
                                 * logged. */
                                return fail(vc,
                                            "%s: must be an IPv4 address "
                                            "(a.b.c.d, parts 0-255 without "
                                            "leading zeros)",
                                            path);
                } else if (strcmp(key, "appVersion") == 0 ||
                           strcmp(key, "osVersion") == 0) {
                        if (check_string(vc, val, path, EW_EVENT_MAX_TEXT_BYTES,
                                         NULL) == -1)
                                return -1;
                } else {
                        /* Open for undocumented scalars, see the top. */
                        json_type t = json_object_get_type(val);
                        if (t != json_type_string && t != json_type_int &&
                            t != json_type_double && t != json_type_boolean)
                                return fail(
                                    vc,
                                    "clientProperties.%s: must be a "
                                    "string, number or boolean, got "
                                    "%s",
                                    quote(key, strlen(key), q, sizeof(q)),
                                    type_name(val));
                }
        }
        if (os && os_name &&
            strcmp(json_object_get_string(os),
                   json_object_get_string(os_name)) != 0)
                return fail(vc, "clientProperties.osName: disagrees with "
                                "clientProperties.os");
        return 0;
}

static int check_entry_points(vctx_t *vc, json_object *arr)
{
        char   path[PATH_SIZE];
        size_t n, i;

        if (check_array(vc, arr, "entryPoints", vc->lim->max_entry_points) ==
            -1)
                return -1;
        n = json_object_array_length(arr);
        for (i = 0; i < n; i++) {
                ew_snprintf(path, sizeof(path), "entryPoints[%zu]", i);
                if (check_string(vc, json_object_array_get_idx(arr, i), path,
                                 EW_EVENT_MAX_TEXT_BYTES, NULL) == -1)
                        return -1;
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

/* If obj has key, it must be an array (of objects when objects is set,
 * else of strings). prefix is the path of obj. */
static int check_member_array(vctx_t *vc, json_object *obj, const char *prefix,
                              const char *key, int objects)
{
        char         path[PATH_SIZE];
        json_object *v;
        size_t       n, i;

        if (!json_object_object_get_ex(obj, key, &v))
                return 0;
        ew_snprintf(path, sizeof(path), "%s.%s", prefix, key);
        if (!json_object_is_type(v, json_type_array))
                return fail(vc, "%s: must be an array, got %s", path,
                            type_name(v));
        n = json_object_array_length(v);
        for (i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);
                json_type want = objects ? json_type_object : json_type_string;
                if (!json_object_is_type(e, want))
                        return fail(vc, "%s[%zu]: must be %s, got %s", path, i,
                                    objects ? "an object" : "a string",
                                    type_name(e));
        }
        return 0;
}

static int check_attribute(vctx_t *vc, json_object *attr, size_t idx)
{
        char                    path[PATH_SIZE], q[64], all[160];
        const struct attr_type *at = NULL;
        const char             *names[EW_ARRAY_SIZE(attr_types)];
        json_object            *type, *main_obj = NULL, *v;
        size_t                  i;

        ew_snprintf(path, sizeof(path), "engagementAttributes[%zu]", idx);
        if (!json_object_is_type(attr, json_type_object))
                return fail(vc, "%s: must be an object, got %s", path,
                            type_name(attr));
        if (!json_object_object_get_ex(attr, "type", &type))
                return fail(vc, "%s.type: required", path);
        if (!json_object_is_type(type, json_type_string))
                return fail(vc, "%s.type: must be a string, got %s", path,
                            type_name(type));
        for (i = 0; i < EW_ARRAY_SIZE(attr_types); i++) {
                names[i] = attr_types[i].type;
                if (strcmp(json_object_get_string(type), names[i]) == 0)
                        at = &attr_types[i];
        }
        if (at && (size_t)json_object_get_string_len(type) != strlen(at->type))
                at = NULL; /* "cart\u0000x" */
        if (!at) {
                if (string_in(type, impression_types,
                              EW_ARRAY_SIZE(impression_types)))
                        return fail(vc,
                                    "%s.type: impression event '%s' belongs "
                                    "to the report method and is not "
                                    "accepted by engagement",
                                    path, json_object_get_string(type));
                return fail(
                    vc, "%s.type: unknown type %s (allowed: %s)", path,
                    quote_str(type, q, sizeof(q)),
                    join(names, EW_ARRAY_SIZE(names), all, sizeof(all)));
        }
        if (at->main) {
                if (!json_object_object_get_ex(attr, at->main, &main_obj))
                        return fail(vc, "%s.%s: required for type \"%s\"", path,
                                    at->main, at->type);
                if (!json_object_is_type(main_obj, json_type_object))
                        return fail(vc, "%s.%s: must be an object, got %s",
                                    path, at->main, type_name(main_obj));
        }

        if (strcmp(at->type, "cart") == 0 || strcmp(at->type, "prodView") == 0)
                return check_member_array(vc, attr, path, "products", 1);
        if (strcmp(at->type, "purchase") == 0 &&
            json_object_object_get_ex(attr, "cart", &v)) {
                char sub[PATH_SIZE];
                ew_snprintf(sub, sizeof(sub), "%s.cart", path);
                if (!json_object_is_type(v, json_type_object))
                        return fail(vc, "%s: must be an object, got %s", sub,
                                    type_name(v));
                return check_member_array(vc, v, sub, "products", 1);
        }
        if (strcmp(at->type, "searchInfo") == 0)
                return check_member_array(vc, attr, path, "keywords", 0);
        if (strcmp(at->type, "personal") == 0) {
                char sub[PATH_SIZE];
                ew_snprintf(sub, sizeof(sub), "%s.personal", path);
                return check_member_array(vc, main_obj, sub, "contacts", 1);
        }
        if (strcmp(at->type, "service") == 0 &&
            json_object_object_get_ex(main_obj, "status", &v)) {
                int64_t st = json_object_get_int64(v);
                if (!json_object_is_type(v, json_type_int) || st < 0 ||
                    st > 13) {
                        char num[32];
                        if (json_object_is_type(v, json_type_int))
                                ew_snprintf(num, sizeof(num), "%" PRId64, st);
                        else
                                ew_snprintf(num, sizeof(num), "%s",
                                            type_name(v));
                        return fail(vc,
                                    "%s.service.status: must be an integer "
                                    "from 0 to 13, got %s",
                                    path, num);
                }
        }
        return 0;
}

static int check_attributes(vctx_t *vc, json_object *arr)
{
        size_t n, i;

        if (check_array(vc, arr, "engagementAttributes",
                        vc->lim->max_attributes) == -1)
                return -1;
        n = json_object_array_length(arr);
        for (i = 0; i < n; i++)
                if (check_attribute(vc, json_object_array_get_idx(arr, i), i) ==
                    -1)
                        return -1;
        return 0;
}

/* Validates ev->root and fills ev's borrowed pointers. */
static int validate(vctx_t *vc, ew_event_t *ev)
{
        static const struct {
                const char *name;
                size_t      off;
        } ids[] = {
            {"eventId", (size_t)-1},
            {"accountId", offsetof(ew_event_t, account_id)},
            {"appInstallationId", offsetof(ew_event_t, app_installation_id)},
            {"visitorId", offsetof(ew_event_t, visitor_id)},
            {"sessionId", offsetof(ew_event_t, session_id)},
            {"consumerId", offsetof(ew_event_t, consumer_id)},
        };
        json_object *root = ev->root, *v;
        size_t       i;

        for (i = 0; i < EW_ARRAY_SIZE(ids); i++) {
                const char *s = NULL;
                if (!(v = field(root, ids[i].name)))
                        continue;
                if (check_string(vc, v, ids[i].name, EW_EVENT_MAX_ID_BYTES,
                                 &s) == -1)
                        return -1;
                if (ids[i].off != (size_t)-1)
                        *(const char **)((char *)ev + ids[i].off) = s;
        }
        if ((v = field(root, "identities"))) {
                if (check_identities(vc, v) == -1)
                        return -1;
                ev->identities = v;
        }
        if ((v = field(root, "clientProperties"))) {
                if (check_client_properties(vc, v) == -1)
                        return -1;
                ev->client_properties = v;
        }
        if ((v = field(root, "entryPoints"))) {
                if (check_entry_points(vc, v) == -1)
                        return -1;
                ev->entry_points = v;
        }
        if ((v = field(root, "engagementAttributes"))) {
                if (check_attributes(vc, v) == -1)
                        return -1;
                ev->engagement_attributes = v;
        }
        if (!ev->identities && !ev->consumer_id && !ev->visitor_id)
                return fail(vc, "event must carry at least one of identities, "
                                "consumerId, visitorId");
        if (ev->session_id && !ev->visitor_id)
                return fail(vc, "sessionId: requires visitorId (a session "
                                "belongs to a visit)");
        return 0;
}

/* The eventId when the object carries a usable one, else NULL. */
static const char *usable_event_id(json_object *root)
{
        json_object *v = field(root, "eventId");
        size_t       len;

        if (!json_object_is_type(v, json_type_string))
                return NULL;
        len = (size_t)json_object_get_string_len(v);
        if (len == 0 || len > EW_EVENT_MAX_ID_BYTES ||
            memchr(json_object_get_string(v), '\0', len))
                return NULL;
        return json_object_get_string(v);
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
        vctx_t        vc   = {lim ? lim : &defaults, errstr, errstr_size};
        json_tokener *tok  = NULL;
        json_object  *root = NULL;
        ew_event_t   *ev   = NULL;
        enum json_tokener_error jerr;
        const char             *id;
        size_t                  end, i;
        int                     r = -1;

        *evp = NULL;
        if (errstr && errstr_size)
                errstr[0] = '\0';
        if (event_id_out && event_id_size)
                ew_event_default_id(src, event_id_out, event_id_size);

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
        if (memchr(buf, '\0', len)) {
                fail(&vc, "value contains a NUL byte at offset %zu",
                     (size_t)((const char *)memchr(buf, '\0', len) - buf));
                goto done;
        }
        if (!ew_utf8_valid(buf, len)) {
                fail(&vc, "value is not valid UTF-8");
                goto done;
        }

        /* json-c counts a scalar leaf as a level (see the top): one more
         * than max_depth lets every value within the limit through, and
         * check_lexical enforces the limit exactly. */
        if (vc.lim->max_depth < 1 || vc.lim->max_depth > EW_EVENT_DEPTH_CAP) {
                fail(&vc, "max_depth %d is outside 1..%d", vc.lim->max_depth,
                     EW_EVENT_DEPTH_CAP);
                goto done;
        }
        tok = json_tokener_new_ex(vc.lim->max_depth + 1);
        if (!tok) {
                fail(&vc, "out of memory");
                goto done;
        }
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                        JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                        JSON_TOKENER_VALIDATE_UTF8);
        root = json_tokener_parse_ex(tok, buf, (int)len);
        jerr = json_tokener_get_error(tok);
        end  = json_tokener_get_parse_end(tok);
        if (jerr == json_tokener_continue) {
                /* End of input: a bare number needs the terminating NUL to
                 * complete; anything else is truncated. */
                root = json_tokener_parse_ex(tok, "", 1);
                jerr = json_tokener_get_error(tok);
                end  = len;
                if (jerr != json_tokener_success) {
                        fail(&vc,
                             "value is not JSON: it ends at offset %zu "
                             "before the JSON value is complete",
                             len);
                        goto done;
                }
        }
        if (jerr == json_tokener_error_depth) {
                fail(&vc, "value nests deeper than %d levels at offset %zu",
                     vc.lim->max_depth, end);
                goto done;
        }
        if (jerr != json_tokener_success) {
                fail(&vc, "value is not JSON: %s at offset %zu",
                     json_tokener_error_desc(jerr), end);
                goto done;
        }
        for (i = end; i < len; i++) {
                if (!is_ws((unsigned char)buf[i])) {
                        fail(&vc,
                             "value has trailing data after the JSON value "
                             "at offset %zu",
                             i);
                        goto done;
                }
        }
        if (!json_object_is_type(root, json_type_object)) {
                fail(&vc, "value must be a JSON object, got %s",
                     type_name(root));
                goto done;
        }
        /* From here on the dead letter can carry the producer's id. */
        if (event_id_out && event_id_size && (id = usable_event_id(root)))
                ew_snprintf(event_id_out, event_id_size, "%s", id);

        if (check_lexical(&vc, buf, end < len ? end : len) == -1)
                goto done;

        ev = calloc(1, sizeof(*ev));
        if (!ev) {
                fail(&vc, "out of memory");
                goto done;
        }
        ev->root = root;
        root     = NULL; /* owned by ev */
        if (validate(&vc, ev) == -1)
                goto done;
        if ((id = usable_event_id(ev->root))) {
                ev->event_id = strdup(id);
        } else {
                char def[EW_EVENT_MAX_ID_BYTES + 64];
                ew_event_default_id(src, def, sizeof(def));
                ev->event_id = strdup(def);
        }
        if (!ev->event_id) {
                fail(&vc, "out of memory");
                goto done;
        }
        *evp = ev;
        ev   = NULL;
        r    = 0;
done:
        ew_event_destroy(ev);
        json_object_put(root);
        if (tok)
                json_tokener_free(tok); /* not NULL-safe in 0.16 */
        return r;
}

void ew_event_destroy(ew_event_t *ev)
{
        if (!ev)
                return;
        json_object_put(ev->root);
        free(ev->event_id);
        free(ev);
}

const char *ew_event_derived_key(const ew_event_t *ev)
{
        json_object *id, *sub;

        if (!ev)
                return NULL;
        if (ev->identities && json_object_array_length(ev->identities) > 0) {
                id = json_object_array_get_idx(ev->identities, 0);
                if (json_object_object_get_ex(id, "sub", &sub) &&
                    json_object_is_type(sub, json_type_string))
                        return json_object_get_string(sub);
        }
        if (ev->consumer_id)
                return ev->consumer_id;
        return ev->visitor_id;
}
