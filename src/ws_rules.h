/*
 * ws_rules: the RFC 6455 rules chatd enforces itself because lws 4.1.6
 * does not (see docs/protocol.md, "What lws checks and what chatd adds").
 * Pure functions, no lws.
 */
#ifndef CHAT_WS_RULES_H
#define CHAT_WS_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 6455 7.4: a status code a peer may put in a close frame. */
bool ws_rules_close_code_is_valid(unsigned code);

/*
 * Checks the payload of a close frame from the peer. Returns 0 when it may
 * be answered with an echo, else the code to fail the connection with:
 * 1002 for a 1-byte payload or a code the peer may not send, 1007 for a
 * reason that is not UTF-8.
 */
uint16_t ws_rules_check_close(const unsigned char *payload, size_t len);

#endif
