// Drives llhttp for the differential fuzz target (see include/lldiff.h).
#include "lldiff.h"
#include "llhttp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *bytes;
    size_t length, capacity;
} text;

static void append(text *t, const char *bytes, size_t length) {
    if (t->length + length + 1 > t->capacity) {
        size_t capacity = t->capacity ? t->capacity : 256;
        while (t->length + length + 1 > capacity) capacity *= 2;
        t->bytes = realloc(t->bytes, capacity);
        if (!t->bytes) abort();
        t->capacity = capacity;
    }
    memcpy(t->bytes + t->length, bytes, length);
    t->length += length;
    t->bytes[t->length] = 0;
}

static void append_string(text *t, const char *s) { append(t, s, strlen(s)); }

typedef struct {
    text transcript, method, target, field, value;
    int in_trailers, messages;
    size_t body_length;
    uint64_t body_hash;
} state;

static state *of(llhttp_t *parser) { return (state *)parser->data; }

static int on_message_begin(llhttp_t *p) {
    state *s = of(p);
    s->method.length = s->target.length = s->field.length = s->value.length = 0;
    s->in_trailers = 0;
    s->body_length = 0;
    s->body_hash = 0xcbf29ce484222325ULL;
    return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t n) { append(&of(p)->method, at, n); return 0; }
static int on_url(llhttp_t *p, const char *at, size_t n) { append(&of(p)->target, at, n); return 0; }
static int on_field(llhttp_t *p, const char *at, size_t n) { append(&of(p)->field, at, n); return 0; }
static int on_value(llhttp_t *p, const char *at, size_t n) { append(&of(p)->value, at, n); return 0; }

static int on_url_complete(llhttp_t *p) {
    state *s = of(p);
    append_string(&s->transcript, "method ");
    append(&s->transcript, s->method.bytes ? s->method.bytes : "", s->method.length);
    append_string(&s->transcript, "\ntarget ");
    append(&s->transcript, s->target.bytes ? s->target.bytes : "", s->target.length);
    append_string(&s->transcript, "\n");
    return 0;
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

static int on_value_complete(llhttp_t *p) {
    state *s = of(p);
    for (size_t i = 0; i < s->field.length; i++)
        if (s->field.bytes[i] >= 'A' && s->field.bytes[i] <= 'Z') s->field.bytes[i] += 'a' - 'A';
    size_t start = 0, end = s->value.length;
    while (start < end && is_ows(s->value.bytes[start])) start++;
    while (end > start && is_ows(s->value.bytes[end - 1])) end--;
    append_string(&s->transcript, s->in_trailers ? "trailer " : "field ");
    append(&s->transcript, s->field.bytes ? s->field.bytes : "", s->field.length);
    append_string(&s->transcript, ": ");
    append(&s->transcript, s->value.bytes ? s->value.bytes + start : "", end - start);
    append_string(&s->transcript, "\n");
    s->field.length = s->value.length = 0;
    return 0;
}

static int on_headers_complete(llhttp_t *p) {
    state *s = of(p);
    char line[64];
    // The version goes before the fields in the transcript; llhttp tells it only here, so
    // it is written as its own line and the Swift side orders its lines the same way.
    snprintf(line, sizeof line, "version %d.%d\n", p->http_major, p->http_minor);
    append_string(&s->transcript, line);
    s->in_trailers = 1;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
    state *s = of(p);
    for (size_t i = 0; i < n; i++) {
        s->body_hash ^= (uint8_t)at[i];
        s->body_hash *= 0x100000001b3ULL;
    }
    s->body_length += n;
    return 0;
}

static int on_message_complete(llhttp_t *p) {
    state *s = of(p);
    char line[80];
    // 0x1E (record separator) ends each request: no byte a request line or field may hold.
    snprintf(line, sizeof line, "body %zu %016llx\nend\n\x1e", s->body_length, (unsigned long long)s->body_hash);
    append_string(&s->transcript, line);
    s->messages++;
    return 0;
}

lldiff_result lldiff_parse_requests(const uint8_t *data, size_t length) {
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_method = on_method;
    settings.on_url = on_url;
    settings.on_url_complete = on_url_complete;
    settings.on_header_field = on_field;
    settings.on_header_value = on_value;
    settings.on_header_value_complete = on_value_complete;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;

    state s;
    memset(&s, 0, sizeof s);
    llhttp_t parser;
    llhttp_init(&parser, HTTP_REQUEST, &settings);
    parser.data = &s;
    llhttp_errno_t error = llhttp_execute(&parser, (const char *)data, length);

    lldiff_result result;
    result.messages = s.messages;
    result.error = (int)error;
    result.reason = error == HPE_OK ? "" : llhttp_get_error_reason(&parser);
    if (!result.reason) result.reason = "";
    append(&s.transcript, "", 0);
    result.transcript = s.transcript.bytes;
    free(s.method.bytes);
    free(s.target.bytes);
    free(s.field.bytes);
    free(s.value.bytes);
    return result;
}

void lldiff_free(lldiff_result *result) {
    free(result->transcript);
    result->transcript = NULL;
}
