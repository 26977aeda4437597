/*
 * ew_response - see ew_response.h.
 *
 * Decisions the API doc leaves open (docs/contracts.md repeats them):
 *   - Loading account is recognised whatever the configured API version:
 *     500 + internalCode 20 (v1.0, and the code LivePerson's Android SDK
 *     checks) and any 202 (v1.1 sends internalCode 38) both mean LOADING.
 *   - engagementDetails may be an array or, tolerated, a single object
 *     (kept as a one-entry array). Entries whose status is neither
 *     "expose" nor "conversation" (compared without case) are ignored;
 *     if no entry is known the answer is UNAVAILABLE with a message. A
 *     "conversation" entry wins over an "expose" one.
 *   - sessionId, visitorId, pageId and conversationId are taken as strings;
 *     numbers are converted to their JSON text; other types are ignored.
 *   - internalCode may be a number or a numeric string.
 */
#include "ew_response.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ew_util.h"

/* What a body turned out to be. */
typedef struct body {
        json_object *root;     /* the JSON object, or NULL */
        char         why[160]; /* when root is NULL: why the body is unusable */
} body_t;

const char *ew_result_kind_str(ew_result_kind_t kind)
{
        switch (kind) {
        case EW_RESULT_ENGAGEMENT:
                return "engagement";
        case EW_RESULT_CONVERSATION:
                return "conversation";
        case EW_RESULT_UNAVAILABLE:
                return "unavailable";
        case EW_RESULT_LOADING:
                return "loading";
        case EW_RESULT_RETRYABLE:
                return "retryable";
        case EW_RESULT_REJECTED:
                return "rejected";
        }
        return "unknown";
}

/* Longest prefix of s (at most max bytes) that does not split a UTF-8
 * sequence. */
static size_t utf8_prefix(const char *s, size_t len, size_t max)
{
        size_t n = len;

        if (n <= max)
                return n;
        n = max;
        /* Back up over continuation bytes to the start of a sequence. */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
                n--;
        return n;
}

/* Copies at most max bytes of s[0..len) into a new string, cut on a UTF-8
 * boundary. */
static char *dup_bounded(const char *s, size_t len, size_t max)
{
        return strndup(s, utf8_prefix(s, len, max));
}

/* Writes a printable-ASCII excerpt of the body for messages. */
static void body_snippet(const char *body, size_t len, char *out, size_t size)
{
        size_t i, n = len < 48 ? len : 48;
        size_t o = 0;

        for (i = 0; i < n && o + 1 < size; i++) {
                unsigned char c = (unsigned char)body[i];
                out[o++]        = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
        }
        if (len > n && o + 4 < size) {
                memcpy(out + o, "...", 3);
                o += 3;
        }
        out[o] = '\0';
}

static const char *json_type_article(json_object *o)
{
        switch (json_object_get_type(o)) {
        case json_type_array:
                return "a JSON array";
        case json_type_string:
                return "a JSON string";
        case json_type_int:
        case json_type_double:
                return "a JSON number";
        case json_type_boolean:
                return "a JSON boolean";
        case json_type_object:
                return "a JSON object";
        case json_type_null:
                break;
        }
        return "JSON null";
}

/* Returns 1 if s is a number as RFC 8259 writes it. */
static int json_number_text(const char *s)
{
        if (*s == '-')
                s++;
        if (*s == '0')
                s++;
        else if (*s >= '1' && *s <= '9')
                while (*s >= '0' && *s <= '9')
                        s++;
        else
                return 0;
        if (*s == '.') {
                if (*++s < '0' || *s > '9')
                        return 0;
                while (*s >= '0' && *s <= '9')
                        s++;
        }
        if (*s == 'e' || *s == 'E') {
                s++;
                if (*s == '+' || *s == '-')
                        s++;
                if (*s < '0' || *s > '9')
                        return 0;
                while (*s >= '0' && *s <= '9')
                        s++;
        }
        return *s == '\0';
}

/* json-c, even strict, accepts NaN, Infinity and numbers such as "01.5"
 * or "1." and writes them back as they came, which would put invalid JSON
 * into outcomes (engagementDetails is passed through). Returns -1 if o
 * holds a non-finite number; other odd numbers get their text rewritten
 * from their value. The depth is bounded by the parser's limit. */
static int numbers_sanitize(json_object *o)
{
        size_t i, n;
        double d;

        switch (json_object_get_type(o)) {
        case json_type_double:
                d = json_object_get_double(o);
                if (!isfinite(d))
                        return -1;
                if (!json_number_text(json_object_get_string(o)))
                        json_object_set_double(o, d); /* drops the text */
                return 0;
        case json_type_array:
                n = json_object_array_length(o);
                for (i = 0; i < n; i++)
                        if (numbers_sanitize(json_object_array_get_idx(o, i)))
                                return -1;
                return 0;
        case json_type_object: {
                json_object_object_foreach(o, key, val)
                {
                        (void)key;
                        if (numbers_sanitize(val))
                                return -1;
                }
                return 0;
        }
        default:
                return 0;
        }
}

/* Parses the body into b: b->root is the object, or NULL with b->why
 * saying what was wrong. Nothing in the body is trusted. */
static void body_parse(const char *body, size_t len, body_t *b)
{
        struct json_tokener    *tok = NULL;
        enum json_tokener_error jerr;
        char                   *copy = NULL;
        char                    snip[64];
        json_object            *o;
        size_t                  i;

        b->root   = NULL;
        b->why[0] = '\0';

        if (!body || len == 0) {
                ew_snprintf(b->why, sizeof(b->why), "empty body");
                goto done;
        }
        if (len > EW_RESPONSE_MAX_BODY) {
                ew_snprintf(b->why, sizeof(b->why),
                            "body too large (%zu bytes, limit %d)", len,
                            EW_RESPONSE_MAX_BODY);
                goto done;
        }
        for (i = 0; i < len; i++)
                if (!strchr(" \t\r\n", body[i]) || body[i] == '\0')
                        break;
        if (i == len) {
                ew_snprintf(b->why, sizeof(b->why), "blank body");
                goto done;
        }
        /* Raw NUL bytes cannot appear in JSON text, and json-c would stop
         * at them. */
        if (memchr(body, '\0', len)) {
                ew_snprintf(b->why, sizeof(b->why),
                            "body is not JSON (contains NUL bytes)");
                goto done;
        }
        if (!ew_utf8_valid(body, len)) {
                ew_snprintf(b->why, sizeof(b->why), "body is not valid UTF-8");
                goto done;
        }

        /* json-c wants the terminating NUL counted to know the input ends
         * (see json_tokener_parse_ex), so parse a terminated copy. */
        copy = malloc(len + 1);
        tok  = json_tokener_new_ex(EW_RESPONSE_MAX_DEPTH);
        if (!copy || !tok) {
                ew_snprintf(b->why, sizeof(b->why), "out of memory");
                goto done;
        }
        memcpy(copy, body, len);
        copy[len] = '\0';
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o    = json_tokener_parse_ex(tok, copy, (int)len + 1);
        jerr = json_tokener_get_error(tok);
        if (jerr != json_tokener_success) {
                body_snippet(body, len, snip, sizeof(snip));
                if (jerr == json_tokener_error_depth)
                        ew_snprintf(b->why, sizeof(b->why),
                                    "body is nested deeper than %d levels",
                                    EW_RESPONSE_MAX_DEPTH);
                else if (jerr == json_tokener_error_parse_eof)
                        ew_snprintf(b->why, sizeof(b->why),
                                    "body is truncated JSON: '%s'", snip);
                else
                        ew_snprintf(b->why, sizeof(b->why),
                                    "body is not JSON (%s at byte %zu): '%s'",
                                    json_tokener_error_desc(jerr),
                                    json_tokener_get_parse_end(tok), snip);
                json_object_put(o);
                goto done;
        }
        if (!json_object_is_type(o, json_type_object)) {
                ew_snprintf(b->why, sizeof(b->why), "body is %s, not an object",
                            json_type_article(o));
                json_object_put(o);
                goto done;
        }
        if (numbers_sanitize(o) != 0) {
                ew_snprintf(b->why, sizeof(b->why),
                            "body is not JSON (NaN or Infinity)");
                json_object_put(o);
                goto done;
        }
        b->root = o;

done:
        if (tok) /* json_tokener_free() is not NULL-safe */
                json_tokener_free(tok);
        free(copy);
}

/* A string member as a new string; numbers as their JSON text. NULL when
 * absent, null, of another type, or holding a NUL character. */
static char *member_text(json_object *obj, const char *name)
{
        json_object *v;
        const char  *s;

        if (!json_object_object_get_ex(obj, name, &v) || !v)
                return NULL;
        switch (json_object_get_type(v)) {
        case json_type_string:
                s = json_object_get_string(v);
                if (strlen(s) != (size_t)json_object_get_string_len(v))
                        return NULL;
                return strdup(s);
        case json_type_int:
        case json_type_double:
                return strdup(json_object_get_string(v));
        default:
                return NULL;
        }
}

/* internalCode as a non-negative int, or -1. Accepts a JSON integer, an
 * integral double, or a string of decimal digits. */
static int member_internal_code(json_object *obj)
{
        json_object *v;
        const char  *s;
        int64_t      i64 = -1;
        double       d;
        size_t       n;

        if (!json_object_object_get_ex(obj, "internalCode", &v) || !v)
                return -1;
        switch (json_object_get_type(v)) {
        case json_type_int:
                i64 = json_object_get_int64(v);
                break;
        case json_type_double:
                d = json_object_get_double(v);
                if (d >= 0 && d <= 2147483647.0 && d == (double)(int64_t)d)
                        i64 = (int64_t)d;
                break;
        case json_type_string:
                s = json_object_get_string(v);
                while (*s == ' ')
                        s++;
                n = strspn(s, "0123456789");
                if (n == 0 || n > 9 || strspn(s + n, " ") != strlen(s + n))
                        break;
                i64 = strtoll(s, NULL, 10);
                break;
        default:
                break;
        }
        if (i64 < 0 || i64 > 2147483647)
                return -1;
        return (int)i64;
}

/* The message of an error body (bounded), else "HTTP N: <why>". */
static char *error_message(int status, const body_t *b)
{
        char         buf[256];
        json_object *v;

        if (b->root && json_object_object_get_ex(b->root, "message", &v) &&
            json_object_is_type(v, json_type_string) &&
            json_object_get_string_len(v) > 0)
                return dup_bounded(json_object_get_string(v),
                                   strlen(json_object_get_string(v)),
                                   EW_RESPONSE_MAX_MESSAGE);
        ew_snprintf(buf, sizeof(buf), "HTTP %d: %s", status,
                    b->root ? "no message in body" : b->why);
        return strdup(buf);
}

/* The vid announced in a loading-account message ("..., vid: XYZ"): the
 * text after "vid:" and blanks, up to whitespace, ',' or ';'. NULL if
 * there is none or it is longer than EW_RESPONSE_MAX_VID. */
static char *loading_vid(const char *msg)
{
        const char *p = msg;
        size_t      n = 0;

        for (;;) {
                p = strstr(p, "vid:");
                if (!p)
                        return NULL;
                /* A word of its own: not the end of e.g. "xvid:". */
                if (p == msg || !((p[-1] >= 'a' && p[-1] <= 'z') ||
                                  (p[-1] >= 'A' && p[-1] <= 'Z') ||
                                  (p[-1] >= '0' && p[-1] <= '9')))
                        break;
                p += 4;
        }
        p += 4;
        while (*p == ' ' || *p == '\t')
                p++;
        while (p[n] && (unsigned char)p[n] > 0x20 && p[n] != 0x7f &&
               p[n] != ',' && p[n] != ';')
                n++;
        if (n == 0 || n > EW_RESPONSE_MAX_VID)
                return NULL;
        return strndup(p, n);
}

/* ENGAGEMENT / CONVERSATION / UNAVAILABLE from a 200/201, or RETRYABLE if
 * the body is not a JSON object. */
static void classify_success(int status, const body_t *b, ew_result_t *res)
{
        json_object *ed = NULL, *arr = NULL;
        json_object *conv = NULL, *expose = NULL;
        const char  *unknown = NULL;
        char         buf[256];
        size_t       i, cnt;

        if (!b->root) {
                res->kind = EW_RESULT_RETRYABLE;
                ew_snprintf(buf, sizeof(buf), "unparseable %d body: %s", status,
                            b->why);
                res->message = strdup(buf);
                return;
        }
        res->session_id = member_text(b->root, "sessionId");
        res->visitor_id = member_text(b->root, "visitorId");
        res->page_id    = member_text(b->root, "pageId");
        res->kind       = EW_RESULT_UNAVAILABLE;

        if (!json_object_object_get_ex(b->root, "engagementDetails", &ed) ||
            !ed)
                return;
        if (json_object_is_type(ed, json_type_array)) {
                arr = json_object_get(ed);
        } else if (json_object_is_type(ed, json_type_object)) {
                arr = json_object_new_array();
                if (!arr || json_object_array_add(arr, json_object_get(ed))) {
                        json_object_put(ed); /* the reference just taken */
                        json_object_put(arr);
                        res->message = strdup("out of memory");
                        return;
                }
        } else {
                ew_snprintf(buf, sizeof(buf),
                            "engagementDetails is %s, not an array",
                            json_type_article(ed));
                res->message = strdup(buf);
                return;
        }

        cnt = json_object_array_length(arr);
        if (cnt == 0) {
                json_object_put(arr);
                return;
        }
        for (i = 0; i < cnt; i++) {
                json_object *entry = json_object_array_get_idx(arr, i);
                json_object *st;
                const char  *s;

                if (!json_object_is_type(entry, json_type_object) ||
                    !json_object_object_get_ex(entry, "status", &st) ||
                    !json_object_is_type(st, json_type_string)) {
                        if (!unknown)
                                unknown = "(none)";
                        continue;
                }
                s = json_object_get_string(st);
                if (!strcasecmp(s, "conversation")) {
                        if (!conv)
                                conv = entry;
                } else if (!strcasecmp(s, "expose")) {
                        if (!expose)
                                expose = entry;
                } else if (!unknown || !strcmp(unknown, "(none)")) {
                        unknown = s;
                }
        }
        res->engagement_details = arr;

        if (conv) {
                res->kind            = EW_RESULT_CONVERSATION;
                res->conversation_id = member_text(conv, "conversationId");
                if (!res->conversation_id)
                        res->message = strdup("conversation entry without "
                                              "conversationId");
        } else if (expose) {
                res->kind = EW_RESULT_ENGAGEMENT;
        } else {
                ew_snprintf(buf, sizeof(buf),
                            "engagementDetails: no entry with status "
                            "\"expose\" or \"conversation\" (%zu entries, "
                            "status \"%.*s\")",
                            cnt, (int)utf8_prefix(unknown, strlen(unknown), 64),
                            unknown);
                res->message = strdup(buf);
        }
}

ew_result_kind_t ew_response_classify(ew_api_version_t version, int http_status,
                                      const char *body, size_t len,
                                      ew_result_t *res)
{
        body_t b;
        char   buf[64];

        /* Both versions' loading answers are accepted under either
         * version (see the top of this file), so the version does not
         * change the classification. */
        (void)version;

        memset(res, 0, sizeof(*res));
        res->http_status   = http_status;
        res->internal_code = -1;

        body_parse(body, len, &b);
        if (b.root)
                res->internal_code = member_internal_code(b.root);

        if (http_status == 200 || http_status == 201) {
                classify_success(http_status, &b, res);
        } else if (http_status == 202 ||
                   (http_status == 500 && res->internal_code == 20)) {
                json_object *m;

                res->kind    = EW_RESULT_LOADING;
                res->message = error_message(http_status, &b);
                if (b.root &&
                    json_object_object_get_ex(b.root, "message", &m) &&
                    json_object_is_type(m, json_type_string))
                        res->loading_vid =
                            loading_vid(json_object_get_string(m));
        } else if ((http_status >= 500 && http_status <= 599) ||
                   http_status == 429 || http_status == 408) {
                res->kind    = EW_RESULT_RETRYABLE;
                res->message = error_message(http_status, &b);
        } else if (http_status >= 400 && http_status <= 499) {
                res->kind    = EW_RESULT_REJECTED;
                res->message = error_message(http_status, &b);
        } else {
                res->kind = EW_RESULT_REJECTED;
                ew_snprintf(buf, sizeof(buf), "unexpected HTTP status %d",
                            http_status);
                res->message = strdup(buf);
        }

        json_object_put(b.root);
        return res->kind;
}

ew_result_kind_t ew_response_transport_error(const char  *message,
                                             ew_result_t *res)
{
        memset(res, 0, sizeof(*res));
        res->kind          = EW_RESULT_RETRYABLE;
        res->http_status   = 0;
        res->internal_code = -1;
        res->message       = message ? dup_bounded(message, strlen(message),
                                                   EW_RESPONSE_MAX_MESSAGE)
                                     : strdup("transport error");
        return res->kind;
}

void ew_result_clear(ew_result_t *res)
{
        if (!res)
                return;
        free(res->message);
        free(res->visitor_id);
        free(res->session_id);
        free(res->page_id);
        free(res->conversation_id);
        free(res->loading_vid);
        json_object_put(res->engagement_details);
        memset(res, 0, sizeof(*res));
}


/*
 * Retry-After (RFC 9110 section 10.2.3): delta-seconds or an HTTP-date in
 * one of its three forms (section 5.6.7):
 *   IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
 *   rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT
 *   asctime      Sun Nov  6 08:49:37 1994
 * Names are matched without case; the weekday is checked to be a weekday
 * name but not against the date.
 */

static const char *const day_short[] = {"Mon", "Tue", "Wed", "Thu",
                                        "Fri", "Sat", "Sun"};
static const char *const day_long[]  = {"Monday",   "Tuesday", "Wednesday",
                                        "Thursday", "Friday",  "Saturday",
                                        "Sunday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

typedef struct scan {
        const char *p;
        const char *end;
} scan_t;

/* Consumes lit exactly (case-insensitively). Returns 0 or -1. */
static int scan_lit(scan_t *s, const char *lit)
{
        size_t n = strlen(lit);

        if ((size_t)(s->end - s->p) < n || strncasecmp(s->p, lit, n) != 0)
                return -1;
        s->p += n;
        return 0;
}

/* Consumes exactly n digits into *out. */
static int scan_digits(scan_t *s, int n, int *out)
{
        int i, v = 0;

        if (s->end - s->p < n)
                return -1;
        for (i = 0; i < n; i++) {
                if (s->p[i] < '0' || s->p[i] > '9')
                        return -1;
                v = v * 10 + (s->p[i] - '0');
        }
        s->p += n;
        *out = v;
        return 0;
}

/* Consumes one of names (whole word); returns its index or -1. */
static int scan_name(scan_t *s, const char *const *names, int cnt)
{
        size_t n = 0;
        int    i;

        while (s->p + n < s->end && ((s->p[n] >= 'a' && s->p[n] <= 'z') ||
                                     (s->p[n] >= 'A' && s->p[n] <= 'Z')))
                n++;
        for (i = 0; i < cnt; i++) {
                if (strlen(names[i]) == n &&
                    strncasecmp(s->p, names[i], n) == 0) {
                        s->p += n;
                        return i;
                }
        }
        return -1;
}

/* "HH:MM:SS" */
static int scan_time(scan_t *s, struct tm *tm)
{
        if (scan_digits(s, 2, &tm->tm_hour) || scan_lit(s, ":") ||
            scan_digits(s, 2, &tm->tm_min) || scan_lit(s, ":") ||
            scan_digits(s, 2, &tm->tm_sec))
                return -1;
        return 0;
}

static int days_in_month(int year, int mon /* 0-11 */)
{
        static const int days[] = {31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
        int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

        return days[mon] + (mon == 1 && leap);
}

/* Parses an HTTP-date into epoch seconds. now_epoch_ms resolves the
 * two-digit years of rfc850-date (RFC 9110: a year more than 50 years in
 * the future is taken as the most recent past year with those digits). */
static int parse_http_date(const char *p, const char *end, int64_t now_epoch_ms,
                           int64_t *secsp)
{
        scan_t    s = {p, end};
        struct tm tm;
        int       year = 0, yy;
        time_t    t;

        memset(&tm, 0, sizeof(tm));
        if (scan_name(&s, day_short, 7) >= 0) {
                if (scan_lit(&s, ", ") == 0) {
                        /* IMF-fixdate */
                        if (scan_digits(&s, 2, &tm.tm_mday) ||
                            scan_lit(&s, " ") ||
                            (tm.tm_mon = scan_name(&s, months, 12)) < 0 ||
                            scan_lit(&s, " ") || scan_digits(&s, 4, &year) ||
                            scan_lit(&s, " ") || scan_time(&s, &tm) ||
                            scan_lit(&s, " GMT"))
                                return -1;
                } else {
                        /* asctime: day is 2DIGIT or SP 1DIGIT */
                        if (scan_lit(&s, " ") ||
                            (tm.tm_mon = scan_name(&s, months, 12)) < 0 ||
                            scan_lit(&s, " "))
                                return -1;
                        if (scan_lit(&s, " ") == 0) {
                                if (scan_digits(&s, 1, &tm.tm_mday))
                                        return -1;
                        } else if (scan_digits(&s, 2, &tm.tm_mday)) {
                                return -1;
                        }
                        if (scan_lit(&s, " ") || scan_time(&s, &tm) ||
                            scan_lit(&s, " ") || scan_digits(&s, 4, &year))
                                return -1;
                }
        } else if (scan_name(&s, day_long, 7) >= 0) {
                /* rfc850-date */
                struct tm now;
                time_t    now_s = (time_t)(now_epoch_ms / 1000);
                int       now_year;

                if (scan_lit(&s, ", ") || scan_digits(&s, 2, &tm.tm_mday) ||
                    scan_lit(&s, "-") ||
                    (tm.tm_mon = scan_name(&s, months, 12)) < 0 ||
                    scan_lit(&s, "-") || scan_digits(&s, 2, &yy) ||
                    scan_lit(&s, " ") || scan_time(&s, &tm) ||
                    scan_lit(&s, " GMT"))
                        return -1;
                if (!gmtime_r(&now_s, &now))
                        return -1;
                now_year = now.tm_year + 1900;
                year     = now_year - now_year % 100 + yy;
                if (year > now_year + 50)
                        year -= 100;
        } else {
                return -1;
        }
        if (s.p != s.end)
                return -1;
        if (tm.tm_mday < 1 || tm.tm_mday > days_in_month(year, tm.tm_mon) ||
            tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
                return -1;
        tm.tm_year = year - 1900;
        t          = timegm(&tm);
        if (t == (time_t)-1 && year != 1969)
                return -1;
        *secsp = (int64_t)t;
        return 0;
}

int64_t ew_response_retry_after_ms(const char *value, int64_t now_epoch_ms)
{
        const char *p, *end;
        int64_t     ms, secs;

        if (!value)
                return -1;
        p   = value;
        end = value + strlen(value);
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        if (p == end)
                return -1;

        if (*p >= '0' && *p <= '9') {
                /* delta-seconds = 1*DIGIT; anything huge is capped. */
                secs = 0;
                for (; p < end; p++) {
                        if (*p < '0' || *p > '9')
                                return -1;
                        if (secs <= EW_RETRY_AFTER_MAX_MS / 1000)
                                secs = secs * 10 + (*p - '0');
                }
                if (secs > EW_RETRY_AFTER_MAX_MS / 1000)
                        return EW_RETRY_AFTER_MAX_MS;
                return secs * 1000;
        }

        if (parse_http_date(p, end, now_epoch_ms, &secs) != 0)
                return -1;
        if (secs > (INT64_MAX - 1000) / 1000)
                return EW_RETRY_AFTER_MAX_MS;
        ms = secs * 1000 - now_epoch_ms;
        if (ms < 0)
                return 0;
        if (ms > EW_RETRY_AFTER_MAX_MS)
                return EW_RETRY_AFTER_MAX_MS;
        return ms;
}
