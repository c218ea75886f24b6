/*
 * JSON text to QObject, accepting QEMU 7.2's dialect and reporting its
 * errors with QEMU's texts (they reach users as "Could not parse the JSON
 * options: ..." for json: filenames).
 *
 * Three stages, as in QEMU, because which error is reported depends on
 * it:
 *  - a lexer cuts the input into tokens; a character that cannot continue
 *    or start a token ends the token as an error ("stray '...'", holding
 *    the partial token plus that character);
 *  - a streamer queues tokens until the brackets balance (or a closing
 *    one has no partner) and enforces the size and nesting limits;
 *  - a recursive-descent parser turns one queued value into a QObject.
 * Every value or error the streamer produces is offered to the caller:
 * the first one is the result, and a second one turns a good result into
 * "Expecting at most one JSON value".
 *
 * Dialect: strings may also be single-quoted, and both kinds accept the
 * escapes \" \' \\ \/ \b \f \n \r \t \uXXXX; strings hold modified UTF-8
 * (\u0000 becomes 0xC0 0x80).  Numbers without fraction or exponent become
 * int64, else uint64, else double; numbers with one are doubles.
 */
#include "qemu/osdep.h"
#include "qemu/json.h"
#include "qemu/unicode.h"
#include "qemu/error.h"

/* QEMU's limits on one JSON value. */
#define JSON_MAX_TOKEN_SIZE (64 << 20)
#define JSON_MAX_TOKEN_COUNT (2 << 20)
#define JSON_MAX_NESTING (1 << 10)

typedef enum JSONTokenType {
    JSON_LCURLY,
    JSON_RCURLY,
    JSON_LSQUARE,
    JSON_RSQUARE,
    JSON_COLON,
    JSON_COMMA,
    JSON_INTEGER,
    JSON_FLOAT,
    JSON_KEYWORD,
    JSON_STRING,
    JSON_ERROR,
    JSON_END_OF_INPUT,
} JSONTokenType;

typedef struct JSONToken {
    JSONTokenType type;
    char str[];     /* the token's text, NUL-terminated */
} JSONToken;

/* Lexer states: what the characters seen so far in this token were. */
typedef enum JSONLexState {
    LEX_START,          /* between tokens */
    LEX_DQ_STRING,      /* "... */
    LEX_DQ_ESCAPE,      /* "...\ */
    LEX_SQ_STRING,      /* '... */
    LEX_SQ_ESCAPE,      /* '...\ */
    LEX_ZERO,           /* 0 or -0 */
    LEX_NONZERO,        /* [-]1-9 then digits */
    LEX_MINUS,          /* - */
    LEX_POINT,          /* digits. */
    LEX_FRACTION,       /* digits.digits */
    LEX_EXP,            /* ...e */
    LEX_EXP_SIGN,       /* ...e+ or ...e- */
    LEX_EXP_DIGITS,     /* ...e[+-]digits */
    LEX_KEYWORD,        /* [a-z]+ */
} JSONLexState;

typedef struct JSONReader {
    JSONLexState state;
    GString *text;          /* the token being lexed */

    GPtrArray *tokens;      /* JSONToken *, the value being gathered */
    int brace_count;
    int bracket_count;
    size_t token_bytes;

    QObject *result;
    Error *err;
    bool done;              /* later input cannot change the outcome */
} JSONReader;

typedef struct JSONParser {
    GPtrArray *tokens;
    guint pos;
    Error *err;
} JSONParser;

/* ---- parser ---- */

static void G_GNUC_PRINTF(2, 3) parse_error(JSONParser *ctxt,
                                            const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (ctxt->err) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(&ctxt->err, "JSON parse error, %s", msg);
}

static JSONToken *parser_next(JSONParser *ctxt)
{
    if (ctxt->pos >= ctxt->tokens->len) {
        parse_error(ctxt, "premature EOI");
        return NULL;
    }
    return g_ptr_array_index(ctxt->tokens, ctxt->pos++);
}

static JSONToken *parser_peek(JSONParser *ctxt)
{
    if (ctxt->pos >= ctxt->tokens->len) {
        parse_error(ctxt, "premature EOI");
        return NULL;
    }
    return g_ptr_array_index(ctxt->tokens, ctxt->pos);
}

static int hex4(const char *p)
{
    int value = 0;
    int i;

    for (i = 0; i < 4; i++) {
        if (!g_ascii_isxdigit(p[i])) {
            return -1;
        }
        value = value * 16 + g_ascii_xdigit_value(p[i]);
    }
    return value;
}

/*
 * Decode the \uXXXX escape (or surrogate pair) at *pp, which points at
 * the backslash, and advance *pp past it.  Returns the code point or -1.
 */
static int parse_unicode_escape(JSONParser *ctxt, const char **pp)
{
    const char *esc = *pp;
    int cp = hex4(esc + 2);
    int low;
    int shown = 6;

    if (cp >= 0xD800 && cp <= 0xDBFF) {
        /* a high surrogate needs a low one in the next escape */
        low = esc[6] == '\\' && esc[7] == 'u' ? hex4(esc + 8) : -1;
        if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            shown = 12;
        } else {
            cp = -1;
        }
    }
    if (cp >= 0) {
        char buf[8];

        if (mod_utf8_encode(buf, sizeof(buf), cp) < 0) {
            cp = -1;
        }
    }
    if (cp < 0) {
        /* the escape text, cut short by the end of the token */
        parse_error(ctxt, "%.*s is not a valid Unicode character", shown,
                    esc);
        return -1;
    }
    *pp = esc + shown;
    return cp;
}

static QObject *parse_string(JSONParser *ctxt, const JSONToken *token)
{
    const char *p = token->str + 1;
    const char *end = token->str + strlen(token->str) - 1;   /* the quote */
    g_autoptr(GString) str = g_string_new(NULL);
    char buf[8];
    char *next;
    int cp;

    while (p < end) {
        if (*p != '\\') {
            cp = mod_utf8_codepoint(p, end - p, &next);
            if (cp < 0) {
                parse_error(ctxt, "invalid UTF-8 sequence in string");
                return NULL;
            }
            g_string_append_len(str, p, next - p);
            p = next;
            continue;
        }
        switch (p[1]) {
        case '"':
        case '\'':
        case '\\':
        case '/':
            g_string_append_c(str, p[1]);
            break;
        case 'b':
            g_string_append_c(str, '\b');
            break;
        case 'f':
            g_string_append_c(str, '\f');
            break;
        case 'n':
            g_string_append_c(str, '\n');
            break;
        case 'r':
            g_string_append_c(str, '\r');
            break;
        case 't':
            g_string_append_c(str, '\t');
            break;
        case 'u':
            cp = parse_unicode_escape(ctxt, &p);
            if (cp < 0) {
                return NULL;
            }
            mod_utf8_encode(buf, sizeof(buf), cp);
            g_string_append(str, buf);
            continue;
        default:
            parse_error(ctxt, "invalid escape sequence in string");
            return NULL;
        }
        p += 2;
    }
    return QOBJECT(qstring_from_gstring(g_steal_pointer(&str)));
}

static QObject *parse_number(const JSONToken *token)
{
    const char *s = token->str;
    char *end;

    if (token->type == JSON_INTEGER) {
        int64_t i64;
        uint64_t u64;

        errno = 0;
        i64 = strtoll(s, &end, 10);
        if (!errno && !*end) {
            return QOBJECT(qnum_from_int(i64));
        }
        if (s[0] != '-') {
            errno = 0;
            u64 = strtoull(s, &end, 10);
            if (!errno && !*end) {
                return QOBJECT(qnum_from_uint(u64));
            }
        }
        /* too large for any integer type: fall back to double */
    }
    return QOBJECT(qnum_from_double(g_ascii_strtod(s, NULL)));
}

static QObject *parse_value(JSONParser *ctxt);

static QObject *parse_object(JSONParser *ctxt)
{
    g_autoptr(QDict) dict = qdict_new();
    JSONToken *token;

    token = parser_peek(ctxt);
    if (!token) {
        return NULL;
    }
    if (token->type == JSON_RCURLY) {
        ctxt->pos++;
        return QOBJECT(g_steal_pointer(&dict));
    }

    for (;;) {
        g_autoptr(QObject) key = parse_value(ctxt);
        QObject *value;
        const char *name;

        if (!key) {
            return NULL;
        }
        name = qobject_get_try_str(key);
        if (!name) {
            parse_error(ctxt, "key is not a string in object");
            return NULL;
        }
        token = parser_next(ctxt);
        if (!token) {
            return NULL;
        }
        if (token->type != JSON_COLON) {
            parse_error(ctxt, "missing : in object pair");
            return NULL;
        }
        value = parse_value(ctxt);
        if (!value) {
            return NULL;
        }
        if (qdict_haskey(dict, name)) {
            qobject_unref(value);
            parse_error(ctxt, "duplicate key");
            return NULL;
        }
        qdict_put_obj(dict, name, value);

        token = parser_next(ctxt);
        if (!token) {
            return NULL;
        }
        if (token->type == JSON_RCURLY) {
            return QOBJECT(g_steal_pointer(&dict));
        }
        if (token->type != JSON_COMMA) {
            parse_error(ctxt, "expected separator in dict");
            return NULL;
        }
    }
}

static QObject *parse_array(JSONParser *ctxt)
{
    g_autoptr(QList) list = qlist_new();
    JSONToken *token;

    token = parser_peek(ctxt);
    if (!token) {
        return NULL;
    }
    if (token->type == JSON_RSQUARE) {
        ctxt->pos++;
        return QOBJECT(g_steal_pointer(&list));
    }

    for (;;) {
        QObject *value = parse_value(ctxt);

        if (!value) {
            return NULL;
        }
        qlist_append_obj(list, value);

        token = parser_next(ctxt);
        if (!token) {
            return NULL;
        }
        if (token->type == JSON_RSQUARE) {
            return QOBJECT(g_steal_pointer(&list));
        }
        if (token->type != JSON_COMMA) {
            parse_error(ctxt, "expected separator in list");
            return NULL;
        }
    }
}

static QObject *parse_value(JSONParser *ctxt)
{
    JSONToken *token = parser_next(ctxt);

    if (!token) {
        return NULL;
    }
    switch (token->type) {
    case JSON_LCURLY:
        return parse_object(ctxt);
    case JSON_LSQUARE:
        return parse_array(ctxt);
    case JSON_STRING:
        return parse_string(ctxt, token);
    case JSON_INTEGER:
    case JSON_FLOAT:
        return parse_number(token);
    case JSON_KEYWORD:
        if (!strcmp(token->str, "true")) {
            return QOBJECT(qbool_from_bool(true));
        }
        if (!strcmp(token->str, "false")) {
            return QOBJECT(qbool_from_bool(false));
        }
        if (!strcmp(token->str, "null")) {
            return QOBJECT(qnull());
        }
        parse_error(ctxt, "invalid keyword '%s'", token->str);
        return NULL;
    default:
        parse_error(ctxt, "expecting value");
        return NULL;
    }
}

/* ---- streamer ---- */

/* Offer one value or error to the caller (takes ownership of both). */
static void reader_emit(JSONReader *r, QObject *value, Error *err)
{
    if (r->done) {
        /* the outcome is already decided */
        qobject_unref(value);
        error_free(err);
        return;
    }
    if (!r->result) {
        r->result = value;
        r->err = err;
        r->done = err != NULL;
        return;
    }
    /* a second value (or error) after a good one */
    qobject_unref(value);
    error_free(err);
    g_clear_pointer(&r->result, qobject_unref_impl);
    error_setg(&r->err, "Expecting at most one JSON value");
    r->done = true;
}

static void reader_reset_tokens(JSONReader *r)
{
    g_ptr_array_set_size(r->tokens, 0);
    r->brace_count = 0;
    r->bracket_count = 0;
    r->token_bytes = 0;
}

static void reader_parse_tokens(JSONReader *r)
{
    JSONParser ctxt = { .tokens = r->tokens };
    QObject *value = parse_value(&ctxt);

    reader_reset_tokens(r);
    reader_emit(r, value, ctxt.err);
}

static void G_GNUC_PRINTF(2, 3) reader_error(JSONReader *r,
                                             const char *fmt, ...)
{
    Error *err = NULL;
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(&err, "%s", msg);
    reader_reset_tokens(r);
    reader_emit(r, NULL, err);
}

static void reader_token(JSONReader *r, JSONTokenType type, const char *text,
                         size_t len)
{
    JSONToken *token;

    switch (type) {
    case JSON_ERROR:
        reader_error(r, "JSON parse error, stray '%s'", text);
        return;
    case JSON_END_OF_INPUT:
        if (r->tokens->len) {
            reader_parse_tokens(r);
        }
        return;
    case JSON_LCURLY:
        r->brace_count++;
        break;
    case JSON_RCURLY:
        r->brace_count--;
        break;
    case JSON_LSQUARE:
        r->bracket_count++;
        break;
    case JSON_RSQUARE:
        r->bracket_count--;
        break;
    default:
        break;
    }

    token = g_malloc(sizeof(*token) + len + 1);
    token->type = type;
    memcpy(token->str, text, len + 1);
    g_ptr_array_add(r->tokens, token);
    r->token_bytes += len;

    if ((r->brace_count > 0 || r->bracket_count > 0) &&
        r->brace_count >= 0 && r->bracket_count >= 0) {
        /*
         * The value is still open.  The exact thresholds were measured
         * against QEMU 7.2 (a token that completes the value is exempt).
         */
        if (r->token_bytes + 2 > JSON_MAX_TOKEN_SIZE) {
            reader_error(r, "JSON token size limit exceeded");
        } else if (r->tokens->len > JSON_MAX_TOKEN_COUNT + 1) {
            reader_error(r, "JSON token count limit exceeded");
        } else if (r->brace_count + r->bracket_count > JSON_MAX_NESTING) {
            reader_error(r, "JSON nesting depth limit exceeded");
        }
        return;
    }
    /* balanced, or a closing bracket without partner: parse what we have */
    reader_parse_tokens(r);
}

/* ---- lexer ---- */

static void lex_emit(JSONReader *r, JSONTokenType type)
{
    reader_token(r, type, r->text->str, r->text->len);
    g_string_truncate(r->text, 0);
    r->state = LEX_START;
}

/* c cannot continue the current token: report the token so far plus c. */
static void lex_error(JSONReader *r, unsigned char c)
{
    g_string_append_c(r->text, c);
    lex_emit(r, JSON_ERROR);
}

static bool lex_string_char(unsigned char c)
{
    /* raw control characters and the bytes 0xFE/0xFF are never allowed */
    return c >= 0x20 && c <= 0xFD;
}

/* Feed one byte (never NUL). */
static void lex_char(JSONReader *r, unsigned char c)
{
    bool digit = c >= '0' && c <= '9';

again:
    if (r->done) {
        return;
    }
    switch (r->state) {
    case LEX_START:
        switch (c) {
        case ' ': case '\t': case '\n': case '\r':
            return;
        case '{':
            g_string_append_c(r->text, c);
            lex_emit(r, JSON_LCURLY);
            return;
        case '}':
            g_string_append_c(r->text, c);
            lex_emit(r, JSON_RCURLY);
            return;
        case '[':
            g_string_append_c(r->text, c);
            lex_emit(r, JSON_LSQUARE);
            return;
        case ']':
            g_string_append_c(r->text, c);
            lex_emit(r, JSON_RSQUARE);
            return;
        case ':':
            g_string_append_c(r->text, c);
            lex_emit(r, JSON_COLON);
            return;
        case ',':
            g_string_append_c(r->text, c);
            lex_emit(r, JSON_COMMA);
            return;
        case '"':
            r->state = LEX_DQ_STRING;
            break;
        case '\'':
            r->state = LEX_SQ_STRING;
            break;
        case '0':
            r->state = LEX_ZERO;
            break;
        case '-':
            r->state = LEX_MINUS;
            break;
        default:
            if (digit) {
                r->state = LEX_NONZERO;
            } else if (c >= 'a' && c <= 'z') {
                r->state = LEX_KEYWORD;
            } else {
                lex_error(r, c);
                return;
            }
        }
        g_string_append_c(r->text, c);
        return;

    case LEX_DQ_STRING:
    case LEX_SQ_STRING:
        if (!lex_string_char(c)) {
            lex_error(r, c);
            return;
        }
        g_string_append_c(r->text, c);
        if (c == '\\') {
            r->state = r->state == LEX_DQ_STRING ? LEX_DQ_ESCAPE
                                                 : LEX_SQ_ESCAPE;
        } else if (c == (r->state == LEX_DQ_STRING ? '"' : '\'')) {
            lex_emit(r, JSON_STRING);
        }
        return;

    case LEX_DQ_ESCAPE:
    case LEX_SQ_ESCAPE:
        /* the parser checks the escape; here it only must not end */
        if (!lex_string_char(c)) {
            lex_error(r, c);
            return;
        }
        g_string_append_c(r->text, c);
        r->state = r->state == LEX_DQ_ESCAPE ? LEX_DQ_STRING : LEX_SQ_STRING;
        return;

    case LEX_MINUS:
        if (!digit) {
            lex_error(r, c);
            return;
        }
        g_string_append_c(r->text, c);
        r->state = c == '0' ? LEX_ZERO : LEX_NONZERO;
        return;

    case LEX_ZERO:
    case LEX_NONZERO:
        if (digit && r->state == LEX_ZERO) {
            lex_error(r, c);                /* no leading zeros */
            return;
        }
        if (digit) {
            g_string_append_c(r->text, c);
        } else if (c == '.') {
            g_string_append_c(r->text, c);
            r->state = LEX_POINT;
        } else if ((c == 'e' || c == 'E') && r->state == LEX_NONZERO) {
            /* QEMU has no exponent directly after 0: "0e5" is 0 then e5 */
            g_string_append_c(r->text, c);
            r->state = LEX_EXP;
        } else {
            lex_emit(r, JSON_INTEGER);
            goto again;
        }
        return;

    case LEX_POINT:
    case LEX_EXP_SIGN:
        if (!digit) {
            lex_error(r, c);
            return;
        }
        g_string_append_c(r->text, c);
        r->state = r->state == LEX_POINT ? LEX_FRACTION : LEX_EXP_DIGITS;
        return;

    case LEX_FRACTION:
        if (digit) {
            g_string_append_c(r->text, c);
        } else if (c == 'e' || c == 'E') {
            g_string_append_c(r->text, c);
            r->state = LEX_EXP;
        } else {
            lex_emit(r, JSON_FLOAT);
            goto again;
        }
        return;

    case LEX_EXP:
        if (c == '+' || c == '-') {
            g_string_append_c(r->text, c);
            r->state = LEX_EXP_SIGN;
        } else if (digit) {
            g_string_append_c(r->text, c);
            r->state = LEX_EXP_DIGITS;
        } else {
            lex_error(r, c);
        }
        return;

    case LEX_EXP_DIGITS:
        if (digit) {
            g_string_append_c(r->text, c);
        } else {
            lex_emit(r, JSON_FLOAT);
            goto again;
        }
        return;

    case LEX_KEYWORD:
        if (c >= 'a' && c <= 'z') {
            g_string_append_c(r->text, c);
        } else {
            lex_emit(r, JSON_KEYWORD);
            goto again;
        }
        return;
    }
    g_assert_not_reached();
}

/* End of input: finish or reject the last token, then the last value. */
static void lex_end(JSONReader *r)
{
    switch (r->state) {
    case LEX_START:
        break;
    case LEX_ZERO:
    case LEX_NONZERO:
        lex_emit(r, JSON_INTEGER);
        break;
    case LEX_FRACTION:
    case LEX_EXP_DIGITS:
        lex_emit(r, JSON_FLOAT);
        break;
    case LEX_KEYWORD:
        lex_emit(r, JSON_KEYWORD);
        break;
    default:
        lex_emit(r, JSON_ERROR);
        break;
    }
    if (!r->done) {
        reader_token(r, JSON_END_OF_INPUT, "", 0);
    }
}

QObject *qobject_from_json(const char *string, Error **errp)
{
    JSONReader r = {
        .state = LEX_START,
        .text = g_string_new(NULL),
        .tokens = g_ptr_array_new_with_free_func(g_free),
    };
    const char *p;

    for (p = string; *p && !r.done; p++) {
        lex_char(&r, *p);
    }
    if (!r.done) {
        lex_end(&r);
    }
    g_string_free(r.text, true);
    g_ptr_array_free(r.tokens, true);

    if (!r.result && !r.err) {
        error_setg(&r.err, "Expecting a JSON value");
    }
    if (r.err) {
        error_propagate(errp, r.err);
        return NULL;
    }
    return r.result;
}
