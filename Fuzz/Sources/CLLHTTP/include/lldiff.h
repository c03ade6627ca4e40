// The differential target's view of llhttp: one call parses a buffer of requests in
// llhttp's strict mode (no lenient flags) and writes what it read as a transcript.
#ifndef NETLAB_LLDIFF_H
#define NETLAB_LLDIFF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    /// Requests llhttp completed (on_message_complete), in order.
    int messages;
    /// llhttp_errno_t where it stopped: 0 = all bytes read, 22 = paused for an upgrade or
    /// CONNECT (the rest is another protocol), anything else = refused.
    int error;
    /// What llhttp says about the refusal (a static string; empty when none).
    const char *reason;
    /// The transcript (malloc'd; free with lldiff_free): per completed request the lines
    /// `method M`, `target T`, `field name: value` (name lowercased, value without
    /// surrounding spaces and tabs) for each field, `version X.Y`, `trailer name: value` for
    /// each trailer, `body N HASH` (length and FNV-1a 64 in hex), then `end` and a 0x1E byte
    /// (which no request line or field may hold) — the order in which llhttp reports them.
    char *transcript;
} lldiff_result;

lldiff_result lldiff_parse_requests(const uint8_t *data, size_t length);
void lldiff_free(lldiff_result *result);

#endif
