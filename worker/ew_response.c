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
 *     numbers are kept as their JSON text; other types are ignored.
 *   - internalCode may be a number or a numeric string.
 *
 * The body is read with ew_json (RFC 8259, nothing more: NaN, Infinity or
 * numbers such as "01.5" make it unparseable, and so do numbers too large
 * for a double), into a token array on the stack. The strings the result
 * keeps are gathered as spans of the body (or of a small buffer) first and
 * then copied into one allocation, so an answer costs one malloc.
 */
#include "ew_response.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ew_json.h"
#include "ew_util.h"

/* What a body turned out to be. */
typedef struct body {
        ew_json_doc_t doc;
        int           ok;       /* doc holds an object */
        char          why[160]; /* when !ok: why the body is unusable */
        /* The root's members the classifier reads: token indexes, 0 when
         * absent (the last one counts if a name repeats, as in json-c). */
        uint32_t session_id, visitor_id, page_id, details, internal_code,
            message;
} body_t;

/* The strings a result keeps, in the order they are laid out. */
enum {
        S_MESSAGE = 0,
        S_VISITOR,
        S_SESSION,
        S_PAGE,
        S_CONVERSATION,
        S_VID,
        S_DETAILS,
        S_COUNT
};

static const size_t str_field[S_COUNT] = {
    offsetof(ew_result_t, message),
    offsetof(ew_result_t, visitor_id),
    offsetof(ew_result_t, session_id),
    offsetof(ew_result_t, page_id),
    offsetof(ew_result_t, conversation_id),
    offsetof(ew_result_t, loading_vid),
    offsetof(ew_result_t, engagement_details),
};

/* One string to keep, when set: s[0..n) copied as it is, or (tok != 0)
 * the decoded STRING token tok (n its decoded length), or (json != 0) the
 * JSON value tok compacted, wrapped in [ ] when wrap is set. */
typedef struct span {
        const char *s;
        size_t      n;
        uint32_t    tok;
        uint8_t     set;
        uint8_t     json;
        uint8_t     wrap;
} span_t;

/* Everything one classification works with; lives on the stack. */
typedef struct ctx {
        body_t      b;
        span_t      str[S_COUNT];
        const char *msg; /* the message member, decoded (see msg_view) */
        size_t      msg_len;
        int         msg_done;
        char       *heap;      /* a decoded message too large for msgbuf */
        char        text[256]; /* a message written by the classifier */
        char        msgbuf[EW_RESPONSE_MAX_MESSAGE + 1];
} ctx_t;

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

static void span_text(span_t *sp, const char *s, size_t n)
{
        memset(sp, 0, sizeof(*sp));
        sp->s   = s;
        sp->n   = n;
        sp->set = 1;
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

static const char *json_type_article(ew_json_type_t type)
{
        switch (type) {
        case EW_JSON_ARRAY:
                return "a JSON array";
        case EW_JSON_STRING:
                return "a JSON string";
        case EW_JSON_NUMBER:
                return "a JSON number";
        case EW_JSON_FALSE:
        case EW_JSON_TRUE:
                return "a JSON boolean";
        case EW_JSON_OBJECT:
                return "a JSON object";
        case EW_JSON_NULL:
                break;
        }
        return "JSON null";
}

/* Returns 0 if a number of the document overflows a double (1e999): the
 * grammar allows it, but it reads as infinity, which json-c refused to
 * pass on and outcome consumers could not represent. Only numbers with an
 * exponent or hundreds of digits can overflow, so the rest are not
 * converted. */
static int numbers_finite(const ew_json_doc_t *doc)
{
        uint32_t i;

        for (i = 0; i < doc->ntok; i++) {
                const char *s;
                size_t      n, j;
                double      d;

                if (ew_json_type(doc, i) != EW_JSON_NUMBER)
                        continue;
                s = ew_json_raw(doc, i, &n);
                for (j = 0; j < n && (s[j] | 0x20) != 'e'; j++)
                        ;
                if (j == n && n < 300)
                        continue;
                if (ew_json_double(doc, i, &d) != 0 || !isfinite(d))
                        return 0;
        }
        return 1;
}

/* 1 if containers nest deeper than max in s[0..n) (strings skipped). */
static int nested_deeper(const char *s, size_t n, int max)
{
        int    depth = 0, in_str = 0;
        size_t i;

        for (i = 0; i < n; i++) {
                char c = s[i];

                if (in_str) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = 0;
                } else if (c == '"') {
                        in_str = 1;
                } else if (c == '[' || c == '{') {
                        if (++depth > max)
                                return 1;
                } else if (c == ']' || c == '}') {
                        depth--;
                }
        }
        return 0;
}

/* 1 if a text that failed to parse at byte off simply stops too early:
 * the error is at its end, inside a string left open, or on a literal or
 * number the text cuts short. */
static int truncated(const char *s, size_t len, size_t off)
{
        static const char *const lits[] = {"true", "false", "null"};
        size_t                   i, str_start = 0;
        int                      in_str = 0;

        if (off >= len)
                return 1;
        for (i = 0; i < len; i++) {
                if (in_str) {
                        if (s[i] == '\\')
                                i++;
                        else if (s[i] == '"')
                                in_str = 0;
                } else if (s[i] == '"') {
                        in_str    = 1;
                        str_start = i;
                }
        }
        if (in_str && str_start <= off)
                return 1;
        for (i = 0; i < EW_ARRAY_SIZE(lits); i++)
                if (len - off < strlen(lits[i]) &&
                    !memcmp(s + off, lits[i], len - off))
                        return 1;
        for (i = off; i < len && strchr("0123456789+-.eE", s[i]); i++)
                ;
        return i == len;
}

/* 1 if NaN, Infinity or -Infinity stands at byte off (or the error is
 * just after the sign of -Infinity). */
static int nonfinite_at(const char *s, size_t len, size_t off)
{
        static const char *const lits[] = {"NaN", "Infinity", "-Infinity"};
        size_t                   i, at;

        for (at = off > 0 ? off - 1 : off; at <= off; at++)
                for (i = 0; i < EW_ARRAY_SIZE(lits); i++)
                        if (len - at >= strlen(lits[i]) &&
                            !memcmp(s + at, lits[i], strlen(lits[i])))
                                return 1;
        return 0;
}

/* Says in why what made body[0..len) fail to parse (doc holds ew_json's
 * account of it). The checks come in the order json-c's reading had them. */
static void parse_failure(const char *body, size_t len,
                          const ew_json_doc_t *doc, char *why, size_t size)
{
        size_t off = doc->err_off == EW_JSON_NO_OFFSET ? 0
                     : doc->err_off > len              ? len
                                                       : doc->err_off;
        char   snip[64];

        body_snippet(body, len, snip, sizeof(snip));
        if (doc->err_off == EW_JSON_NO_OFFSET)
                ew_snprintf(why, size, "out of memory");
        else if (memchr(body, '\0', len))
                ew_snprintf(why, size, "body is not JSON (contains NUL bytes)");
        else if (!ew_utf8_valid(body, len))
                ew_snprintf(why, size, "body is not valid UTF-8");
        else if (nested_deeper(body, off < len ? off + 1 : len,
                               EW_RESPONSE_MAX_DEPTH))
                ew_snprintf(why, size, "body is nested deeper than %d levels",
                            EW_RESPONSE_MAX_DEPTH);
        else if (truncated(body, len, off))
                ew_snprintf(why, size, "body is truncated JSON: '%s'", snip);
        else if (nonfinite_at(body, len, off))
                ew_snprintf(why, size, "body is not JSON (NaN or Infinity)");
        else
                ew_snprintf(why, size,
                            "body is not JSON (unexpected character at byte "
                            "%zu): '%s'",
                            off, snip);
}

/* The names of the root members the classifier reads, and where body_t
 * keeps each. */
static const struct {
        const char *name;
        size_t      len;
        size_t      field;
} root_names[] = {
    {"sessionId", 9, offsetof(body_t, session_id)},
    {"visitorId", 9, offsetof(body_t, visitor_id)},
    {"pageId", 6, offsetof(body_t, page_id)},
    {"engagementDetails", 17, offsetof(body_t, details)},
    {"internalCode", 12, offsetof(body_t, internal_code)},
    {"message", 7, offsetof(body_t, message)},
};

/* Index in root_names of the unescaped key k[0..n), or -1. The names
 * differ in length but for sessionId/visitorId, which differ in their
 * first letter. */
static int root_name(const char *k, size_t n)
{
        int i;

        switch (n) {
        case 9:
                i = k[0] == 's' ? 0 : 1;
                break;
        case 6:
                i = 2;
                break;
        case 17:
                i = 3;
                break;
        case 12:
                i = 4;
                break;
        case 7:
                i = 5;
                break;
        default:
                return -1;
        }
        return memcmp(k, root_names[i].name, n) == 0 ? i : -1;
}

/* The root members the classifier reads, found in one pass. */
static void root_members(body_t *b)
{
        const ew_json_doc_t *doc = &b->doc;
        uint32_t             k, v, n;

        EW_JSON_FOREACH_MEMBER(doc, 0, n, k, v)
        {
                size_t      klen;
                const char *key = ew_json_raw(doc, k, &klen);
                int         i   = -1;

                if (!(doc->tok[k].flags & EW_JSON_F_ESCAPED)) {
                        i = root_name(key + 1, klen - 2);
                } else {
                        for (i = (int)EW_ARRAY_SIZE(root_names) - 1; i >= 0;
                             i--)
                                if (ew_json_str_eq(doc, k, root_names[i].name,
                                                   root_names[i].len))
                                        break;
                }
                if (i >= 0)
                        *(uint32_t *)((char *)b + root_names[i].field) = v;
        }
}

/* Parses the body into b: b->ok when it is a JSON object, else b->why
 * says what was wrong. Nothing in the body is trusted. */
static void body_parse(const char *body, size_t len, body_t *b)
{
        size_t i;

        ew_json_doc_init(&b->doc);
        b->ok         = 0;
        b->why[0]     = '\0';
        b->session_id = b->visitor_id = b->page_id = b->details = 0;
        b->internal_code = b->message = 0;

        if (!body || len == 0) {
                ew_snprintf(b->why, sizeof(b->why), "empty body");
                return;
        }
        if (len > EW_RESPONSE_MAX_BODY) {
                ew_snprintf(b->why, sizeof(b->why),
                            "body too large (%zu bytes, limit %d)", len,
                            EW_RESPONSE_MAX_BODY);
                return;
        }
        for (i = 0; i < len; i++)
                if (!strchr(" \t\r\n", body[i]) || body[i] == '\0')
                        break;
        if (i == len) {
                ew_snprintf(b->why, sizeof(b->why), "blank body");
                return;
        }
        if (ew_json_parse(&b->doc, body, len, EW_RESPONSE_MAX_DEPTH,
                          0 /* a repeated name: the last counts */, NULL,
                          0) != 0) {
                parse_failure(body, len, &b->doc, b->why, sizeof(b->why));
                return;
        }
        if (ew_json_type(&b->doc, 0) != EW_JSON_OBJECT) {
                ew_snprintf(b->why, sizeof(b->why), "body is %s, not an object",
                            json_type_article(ew_json_type(&b->doc, 0)));
                return;
        }
        if (!numbers_finite(&b->doc)) {
                ew_snprintf(b->why, sizeof(b->why),
                            "body is not JSON (NaN or Infinity)");
                return;
        }
        root_members(b);
        b->ok = 1;
}

/* 1 if the raw text of an escaped string holds \u0000. */
static int escaped_nul(const char *s, size_t n)
{
        size_t i;

        for (i = 0; i + 1 < n; i++) {
                if (s[i] != '\\')
                        continue;
                if (s[i + 1] == 'u' && i + 6 <= n &&
                    !memcmp(s + i + 2, "0000", 4))
                        return 1;
                i++; /* the escaped character */
        }
        return 0;
}

/* A member taken as text: a string (unless it holds a NUL character) or
 * a number's JSON text. Leaves sp unset for other types or when v is 0. */
static void text_span(const ew_json_doc_t *doc, uint32_t v, span_t *sp)
{
        const char *s;
        size_t      n;

        memset(sp, 0, sizeof(*sp));
        if (!v)
                return;
        s = ew_json_raw(doc, v, &n);
        switch (ew_json_type(doc, v)) {
        case EW_JSON_STRING:
                if (!(doc->tok[v].flags & EW_JSON_F_ESCAPED)) {
                        span_text(sp, s + 1, n - 2);
                } else if (!escaped_nul(s, n)) {
                        sp->tok = v;
                        sp->n   = ew_json_count(doc, v);
                        sp->set = 1;
                }
                break;
        case EW_JSON_NUMBER:
                span_text(sp, s, n);
                break;
        default:
                break;
        }
}

/* Decoded string i, up to its first NUL character (as a C string would
 * read it): the text itself when it holds no escapes, else decoded into
 * buf (size bytes) or, when larger, into *heap (the caller frees it).
 * NULL if that allocation fails. */
static const char *str_view(const ew_json_doc_t *doc, uint32_t i, char *buf,
                            size_t size, char **heap, size_t *lenp)
{
        size_t      n;
        const char *s = ew_json_raw(doc, i, &n);
        char       *dst;

        if (!(doc->tok[i].flags & EW_JSON_F_ESCAPED)) {
                *lenp = n - 2;
                return s + 1;
        }
        n = ew_json_count(doc, i);
        if (n < size) {
                dst = buf;
        } else {
                dst = *heap = malloc(n + 1);
                if (!dst)
                        return NULL;
        }
        ew_json_str_copy(doc, i, dst);
        *lenp = strlen(dst);
        return dst;
}

/* 1 if STRING i decodes to lit, compared without case. */
static int str_caseeq(const ew_json_doc_t *doc, uint32_t i, const char *lit)
{
        size_t      litlen = strlen(lit), n;
        const char *s;
        char        buf[32];

        if (ew_json_count(doc, i) != litlen || litlen >= sizeof(buf))
                return 0;
        s = ew_json_raw(doc, i, &n);
        if (doc->tok[i].flags & EW_JSON_F_ESCAPED) {
                ew_json_str_copy(doc, i, buf);
                s = buf;
        } else {
                s++;
        }
        return strncasecmp(s, lit, litlen) == 0;
}

/* internalCode as a non-negative int, or -1. Accepts a JSON integer, an
 * integral number, or a string of at most 9 decimal digits with blanks
 * around them. */
static int member_internal_code(const ew_json_doc_t *doc, uint32_t v)
{
        int64_t     i64 = -1;
        double      d;
        const char *s;
        char        buf[64], *heap = NULL;
        size_t      n = 0, i, digits;

        if (!v)
                return -1;
        switch (ew_json_type(doc, v)) {
        case EW_JSON_NUMBER:
                if (ew_json_int64(doc, v, &i64) != 0) {
                        i64 = -1;
                        if (ew_json_double(doc, v, &d) == 0 && d >= 0 &&
                            d <= 2147483647.0 && d == (double)(int64_t)d)
                                i64 = (int64_t)d;
                }
                break;
        case EW_JSON_STRING:
                s = str_view(doc, v, buf, sizeof(buf), &heap, &n);
                if (!s)
                        break;
                for (i = 0; i < n && s[i] == ' '; i++)
                        ;
                /* More than 9 digits are refused below: stop adding up
                 * there, before the value could overflow. */
                for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9';
                     i++, digits++)
                        if (digits < 9)
                                i64 = (i64 < 0 ? 0 : i64 * 10) + (s[i] - '0');
                while (i < n && s[i] == ' ')
                        i++;
                if (digits == 0 || digits > 9 || i != n)
                        i64 = -1;
                break;
        default:
                break;
        }
        free(heap);
        if (i64 < 0 || i64 > 2147483647)
                return -1;
        return (int)i64;
}

/* The message member of the body, decoded (NULL when it is not a
 * string). */
static const char *msg_view(ctx_t *c, size_t *lenp)
{
        const ew_json_doc_t *doc = &c->b.doc;
        uint32_t             v   = c->b.message;

        if (!c->msg_done) {
                c->msg_done = 1;
                if (c->b.ok && v && ew_json_type(doc, v) == EW_JSON_STRING)
                        c->msg = str_view(doc, v, c->msgbuf, sizeof(c->msgbuf),
                                          &c->heap, &c->msg_len);
        }
        *lenp = c->msg_len;
        return c->msg;
}

/* The message of an error body (bounded), else "HTTP N: <why>". */
static void error_message(ctx_t *c, int status)
{
        const char *m;
        size_t      n;

        m = msg_view(c, &n);
        if (m && ew_json_count(&c->b.doc, c->b.message) > 0) {
                span_text(&c->str[S_MESSAGE], m,
                          utf8_prefix(m, n, EW_RESPONSE_MAX_MESSAGE));
                return;
        }
        span_text(&c->str[S_MESSAGE], c->text,
                  ew_snprintf(c->text, sizeof(c->text), "HTTP %d: %s", status,
                              c->b.ok ? "no message in body" : c->b.why));
}

static int is_word_char(char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
               (ch >= '0' && ch <= '9');
}

/* The vid announced in a loading-account message ("..., vid: XYZ"): the
 * text after "vid:" and blanks, up to whitespace, ',' or ';'. Unset if
 * there is none or it is longer than EW_RESPONSE_MAX_VID. */
static void loading_vid(const char *msg, size_t len, span_t *sp)
{
        const char *p = msg, *end = msg + len;
        size_t      n = 0;

        for (;; p++) {
                p = memchr(p, 'v', (size_t)(end - p));
                if (!p || end - p < 4)
                        return;
                if (memcmp(p, "vid:", 4) != 0)
                        continue;
                /* A word of its own: not the end of e.g. "xvid:". */
                if (p == msg || !is_word_char(p[-1]))
                        break;
        }
        p += 4;
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        while (p + n < end && (unsigned char)p[n] > 0x20 && p[n] != 0x7f &&
               p[n] != ',' && p[n] != ';')
                n++;
        if (n == 0 || n > EW_RESPONSE_MAX_VID)
                return;
        span_text(sp, p, n);
}

/* ENGAGEMENT / CONVERSATION / UNAVAILABLE from a 200/201, or RETRYABLE if
 * the body is not a JSON object. */
static void classify_success(ctx_t *c, int status, ew_result_t *res)
{
        static const char no_conv_id[] =
            "conversation entry without conversationId";
        const ew_json_doc_t *doc = &c->b.doc;
        uint32_t             ed  = c->b.details;
        uint32_t             e, conv = 0, expose = 0, unknown = 0;
        size_t               i, cnt;
        span_t              *details = &c->str[S_DETAILS];

        if (!c->b.ok) {
                res->kind = EW_RESULT_RETRYABLE;
                span_text(&c->str[S_MESSAGE], c->text,
                          ew_snprintf(c->text, sizeof(c->text),
                                      "unparseable %d body: %s", status,
                                      c->b.why));
                return;
        }
        text_span(doc, c->b.session_id, &c->str[S_SESSION]);
        text_span(doc, c->b.visitor_id, &c->str[S_VISITOR]);
        text_span(doc, c->b.page_id, &c->str[S_PAGE]);
        res->kind = EW_RESULT_UNAVAILABLE;

        if (!ed || ew_json_type(doc, ed) == EW_JSON_NULL)
                return;
        if (ew_json_type(doc, ed) == EW_JSON_ARRAY) {
                cnt = ew_json_count(doc, ed);
                e   = ed + 1;
        } else if (ew_json_type(doc, ed) == EW_JSON_OBJECT) {
                cnt           = 1; /* a one-entry list */
                e             = ed;
                details->wrap = 1;
        } else {
                span_text(
                    &c->str[S_MESSAGE], c->text,
                    ew_snprintf(c->text, sizeof(c->text),
                                "engagementDetails is %s, not an array",
                                json_type_article(ew_json_type(doc, ed))));
                return;
        }
        if (cnt == 0)
                return;

        for (i = 0; i < cnt; i++, e = ew_json_skip(doc, e)) {
                uint32_t st = ew_json_type(doc, e) == EW_JSON_OBJECT
                                  ? ew_json_get(doc, e, "status")
                                  : 0;

                if (!st || ew_json_type(doc, st) != EW_JSON_STRING) {
                        continue; /* counts as status "(none)" */
                }
                if (str_caseeq(doc, st, "conversation")) {
                        if (!conv)
                                conv = e;
                } else if (str_caseeq(doc, st, "expose")) {
                        if (!expose)
                                expose = e;
                } else if (!unknown) {
                        unknown = st;
                }
        }
        details->tok  = ed;
        details->json = 1;
        details->set  = 1;

        if (conv) {
                res->kind = EW_RESULT_CONVERSATION;
                text_span(doc, ew_json_get(doc, conv, "conversationId"),
                          &c->str[S_CONVERSATION]);
                if (!c->str[S_CONVERSATION].set)
                        span_text(&c->str[S_MESSAGE], no_conv_id,
                                  sizeof(no_conv_id) - 1);
        } else if (expose) {
                res->kind = EW_RESULT_ENGAGEMENT;
        } else {
                /* The first unknown status named, else "(none)". */
                const char *s = "(none)";
                size_t      n = 6;
                char        buf[128], *heap = NULL;

                if (unknown)
                        s = str_view(doc, unknown, buf, sizeof(buf), &heap, &n);
                if (!s) {
                        s = "";
                        n = 0;
                }
                span_text(&c->str[S_MESSAGE], c->text,
                          ew_snprintf(c->text, sizeof(c->text),
                                      "engagementDetails: no entry with "
                                      "status \"expose\" or \"conversation\" "
                                      "(%zu entries, status \"%.*s\")",
                                      cnt, (int)utf8_prefix(s, n, 64), s));
                free(heap);
        }
}

/* 1 if JSON value i is written without white space between its tokens:
 * then its length is exactly that of its scalars plus the punctuation. */
static int json_compact(const ew_json_doc_t *doc, uint32_t i)
{
        uint32_t t, end = ew_json_skip(doc, i);
        size_t   want = 0;

        for (t = i; t < end; t++) {
                uint32_t cnt = ew_json_count(doc, t);

                switch (ew_json_type(doc, t)) {
                case EW_JSON_ARRAY: /* brackets and commas */
                        want += 2 + (cnt ? cnt - 1 : 0);
                        break;
                case EW_JSON_OBJECT: /* braces, colons and commas */
                        want += 2 + cnt + (cnt ? cnt - 1 : 0);
                        break;
                default:
                        want += doc->tok[t].len;
                        break;
                }
        }
        return want == doc->tok[i].len;
}

/* Copies checked JSON text s[0..n) without the white space between its
 * tokens. Returns the bytes written. */
static size_t json_copy_compact(char *dst, const char *s, size_t n)
{
        size_t i, o = 0;
        int    in_str = 0;

        for (i = 0; i < n; i++) {
                char ch = s[i];

                if (in_str) {
                        if (ch == '\\') {
                                dst[o++] = ch;
                                ch       = s[++i];
                        } else if (ch == '"') {
                                in_str = 0;
                        }
                } else if (ch == '"') {
                        in_str = 1;
                } else if (ch == ' ' || ch == '\t' || ch == '\n' ||
                           ch == '\r') {
                        continue;
                }
                dst[o++] = ch;
        }
        return o;
}

/* Copies the spans into one new allocation and points res's strings into
 * it. doc is the document token spans refer to (NULL if none does).
 * Returns 0, or -1 if the allocation failed (res's strings stay NULL). */
static int strings_commit(const ew_json_doc_t *doc, const span_t *str,
                          ew_result_t *res)
{
        size_t i, total = 0;
        char  *p;

        for (i = 0; i < S_COUNT; i++)
                if (str[i].set)
                        total += (str[i].json ? doc->tok[str[i].tok].len
                                              : str[i].n) +
                                 2 * str[i].wrap + 1;
        if (total == 0)
                return 0;
        p = res->mem = malloc(total);
        if (!p)
                return -1;
        for (i = 0; i < S_COUNT; i++) {
                const span_t *sp    = &str[i];
                char         *start = p;

                if (!sp->set)
                        continue;
                if (sp->json) {
                        size_t      n;
                        const char *s = ew_json_raw(doc, sp->tok, &n);

                        if (sp->wrap)
                                *p++ = '[';
                        if (json_compact(doc, sp->tok)) {
                                memcpy(p, s, n);
                                p += n;
                        } else {
                                p += json_copy_compact(p, s, n);
                        }
                        if (sp->wrap)
                                *p++ = ']';
                        res->engagement_details_len = (size_t)(p - start);
                } else if (sp->tok) {
                        p += ew_json_str_copy(doc, sp->tok, p);
                } else {
                        memcpy(p, sp->s, sp->n);
                        p += sp->n;
                }
                *p++                                   = '\0';
                *(char **)((char *)res + str_field[i]) = start;
        }
        return 0;
}

ew_result_kind_t ew_response_classify(ew_api_version_t version, int http_status,
                                      const char *body, size_t len,
                                      ew_result_t *res)
{
        ctx_t       c;
        const char *m;
        size_t      n;

        /* Both versions' loading answers are accepted under either
         * version (see the top of this file), so the version does not
         * change the classification. */
        (void)version;

        memset(res, 0, sizeof(*res));
        res->http_status   = http_status;
        res->internal_code = -1;
        memset(c.str, 0, sizeof(c.str));
        c.msg      = NULL;
        c.msg_len  = 0;
        c.msg_done = 0;
        c.heap     = NULL;

        body_parse(body, len, &c.b);
        if (c.b.ok)
                res->internal_code =
                    member_internal_code(&c.b.doc, c.b.internal_code);

        if (http_status == 200 || http_status == 201) {
                classify_success(&c, http_status, res);
        } else if (http_status == 202 ||
                   (http_status == 500 && res->internal_code == 20)) {
                res->kind = EW_RESULT_LOADING;
                error_message(&c, http_status);
                m = msg_view(&c, &n);
                if (m)
                        loading_vid(m, n, &c.str[S_VID]);
        } else if ((http_status >= 500 && http_status <= 599) ||
                   http_status == 429 || http_status == 408) {
                res->kind = EW_RESULT_RETRYABLE;
                error_message(&c, http_status);
        } else if (http_status >= 400 && http_status <= 499) {
                res->kind = EW_RESULT_REJECTED;
                error_message(&c, http_status);
        } else {
                res->kind = EW_RESULT_REJECTED;
                span_text(&c.str[S_MESSAGE], c.text,
                          ew_snprintf(c.text, sizeof(c.text),
                                      "unexpected HTTP status %d",
                                      http_status));
        }

        if (strings_commit(&c.b.doc, c.str, res) != 0 &&
            (res->kind == EW_RESULT_ENGAGEMENT ||
             res->kind == EW_RESULT_CONVERSATION ||
             res->kind == EW_RESULT_UNAVAILABLE))
                res->kind = EW_RESULT_RETRYABLE; /* the answer is lost */
        free(c.heap);
        ew_json_doc_release(&c.b.doc);
        return res->kind;
}

ew_result_kind_t ew_response_transport_error(const char  *message,
                                             ew_result_t *res)
{
        span_t str[S_COUNT];

        memset(res, 0, sizeof(*res));
        memset(str, 0, sizeof(str));
        res->kind          = EW_RESULT_RETRYABLE;
        res->http_status   = 0;
        res->internal_code = -1;
        if (!message)
                message = "transport error";
        span_text(
            &str[S_MESSAGE], message,
            utf8_prefix(message, strlen(message), EW_RESPONSE_MAX_MESSAGE));
        strings_commit(NULL, str, res);
        return res->kind;
}

void ew_result_clear(ew_result_t *res)
{
        if (!res)
                return;
        free(res->mem);
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
