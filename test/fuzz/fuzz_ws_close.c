/*
 * ws_rules_check_close() on any close-frame payload a client can send
 * (lws hands it over as received). The verdict must be the one RFC 6455
 * 5.5.1 and 7.4 give, as docs/protocol.md tabulates them, with the reason
 * judged by the second UTF-8 validator in fuzz.h.
 */
#include <stdint.h>

#include "fuzz.h"
#include "ws_rules.h"

/* docs/protocol.md, "Close codes": what a client may send. */
static bool
code_may_be_sent(unsigned code)
{
	if (code < 1000 || code >= 5000)
		return false;
	if ((code >= 1004 && code <= 1006) || (code >= 1012 && code < 3000))
		return false;
	return true;
}

static uint16_t
expected(const uint8_t *p, size_t len)
{
	if (len == 0)
		return 0;
	if (len == 1 || len > 125)
		return 1002;
	if (!code_may_be_sent((unsigned)p[0] << 8 | p[1]))
		return 1002;
	if (!fuzz_utf8_is_valid(p + 2, len - 2))
		return 1007;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t got = ws_rules_check_close(data, size);

	FUZZ_CHECK(got == expected(data, size));
	if (size >= 2)
		FUZZ_CHECK(ws_rules_close_code_is_valid(
				   (unsigned)data[0] << 8 | data[1]) ==
			   code_may_be_sent((unsigned)data[0] << 8 | data[1]));
	return 0;
}
