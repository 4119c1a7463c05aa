/*
 * Inbound reassembly and the UTF-8 check, as chat_proto.c's on_receive
 * drives them: fragments appended up to a max, the whole message checked
 * with utf8_is_valid(), then the buffer reset. The fuzz bytes choose the
 * max and where fragments and messages end; a plain copy kept beside the
 * session says what the buffer must hold, and a second validator
 * (fuzz.h) what the UTF-8 verdict must be.
 *
 * Input: 2 bytes of max, then records of one control byte and a fragment.
 * Control: bits 0-5 a length, bit 6 "final fragment", bit 7 "length times
 * 37" (to cross the max).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "session.h"
#include "utf8.h"

#define CTL_LEN 0x3f
#define CTL_FINAL 0x40
#define CTL_LONG 0x80

/* The verdict on an exact-size copy, so ASan sees a read past the end
 * (the session's buffer may have spare capacity behind the message). */
static void
check_message(const struct session *s)
{
	unsigned char *copy = malloc(s->rx_len ? s->rx_len : 1);

	FUZZ_CHECK(copy);
	if (s->rx_len)
		memcpy(copy, s->rx, s->rx_len);
	FUZZ_CHECK(utf8_is_valid(copy, s->rx_len) ==
		   fuzz_utf8_is_valid(copy, s->rx_len));
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session s;
	unsigned char *model;
	size_t max, model_len = 0, i = 2;

	if (size < 2)
		return 0;
	/* Bit 15 set: a max near SIZE_MAX, for the overflow guards. */
	max = (size_t)(data[0] & 0x7f) << 8 | data[1];
	if (data[0] & 0x80)
		max = SIZE_MAX - max;
	else
		max = max % 4096 + 1;
	memset(&s, 0, sizeof(s));
	model = malloc(size); /* no message outgrows the input */
	FUZZ_CHECK(model);

	while (i < size) {
		unsigned char ctl = data[i++];
		size_t n = ctl & CTL_LEN;
		char *rx_before = s.rx;
		size_t cap_before = s.rx_cap;
		unsigned char *frag;
		int rc;

		if (ctl & CTL_LONG)
			n *= 37;
		if (n > size - i)
			n = size - i;
		/* An exact-size fragment, as lws hands one over. */
		frag = malloc(n ? n : 1);
		FUZZ_CHECK(frag);
		memcpy(frag, data + i, n);
		i += n;

		rc = session_rx_append(&s, frag, n, max);
		if (model_len + n > max) {
			/* Refused with no side effects; the caller closes 1009
			 * and the next connection starts empty. */
			FUZZ_CHECK(rc == -EMSGSIZE);
			FUZZ_CHECK(s.rx == rx_before);
			FUZZ_CHECK(s.rx_cap == cap_before);
			FUZZ_CHECK(s.rx_len == model_len);
			session_rx_reset(&s);
			model_len = 0;
			free(frag);
			continue;
		}
		FUZZ_CHECK(rc == 0);
		memcpy(model + model_len, frag, n);
		model_len += n;
		free(frag);
		FUZZ_CHECK(s.rx_len == model_len);
		FUZZ_CHECK(s.rx_cap >= s.rx_len && s.rx_cap <= max);
		FUZZ_CHECK(!model_len || !memcmp(s.rx, model, model_len));

		if (ctl & CTL_FINAL) {
			check_message(&s);
			session_rx_reset(&s);
			FUZZ_CHECK(!s.rx && !s.rx_len && !s.rx_cap);
			model_len = 0;
		}
	}
	session_rx_reset(&s);
	free(model);
	return 0;
}
