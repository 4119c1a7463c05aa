/*
 * RFC 6455 checks on close frames from clients (section 5.5.1 and 7.4).
 */
#include "ws_rules.h"

#include "utf8.h"

#define WS_CLOSE_PROTOCOL_ERROR 1002
#define WS_CLOSE_INVALID_PAYLOAD 1007

bool
ws_rules_close_code_is_valid(unsigned code)
{
	/* 1004-1006 and 1015 are reserved, never sent; 1012-1014 are not in
	 * RFC 6455's list either; 3000-4999 are for libraries and apps. */
	return (code >= 1000 && code <= 1003) ||
	       (code >= 1007 && code <= 1011) ||
	       (code >= 3000 && code <= 4999);
}

uint16_t
ws_rules_check_close(const unsigned char *payload, size_t len)
{
	if (len == 0)
		return 0; /* a close without a status code is allowed */
	if (len == 1 || len > 125)
		return WS_CLOSE_PROTOCOL_ERROR;
	if (!ws_rules_close_code_is_valid((unsigned)payload[0] << 8 |
					  payload[1]))
		return WS_CLOSE_PROTOCOL_ERROR;
	if (!utf8_is_valid(payload + 2, len - 2))
		return WS_CLOSE_INVALID_PAYLOAD;
	return 0;
}
