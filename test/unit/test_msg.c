/*
 * msg: refcounting, the payload copy and its NUL terminator, the LWS_PRE
 * headroom ending in the RFC 6455 frame header, and msg_live_count()
 * returning to zero (checked by teardown).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "msg.h"

static int
setup(void **state)
{
	struct msg *m = msg_new("hello", 5);

	if (!m)
		return -1;
	*state = m;
	return 0;
}

/* The fixture's msg may already be gone; the test then sets *state NULL. */
static int
teardown(void **state)
{
	msg_unref(*state);
	*state = NULL;
	assert_int_equal(msg_live_count(), 0);
	return 0;
}

static void
test_msg_new_copies_payload_and_counts_one_ref(void **state)
{
	struct msg *m = *state;

	assert_int_equal(m->refs, 1);
	assert_int_equal(m->len, 5);
	assert_memory_equal(msg_payload(m), "hello", 5);
	assert_int_equal(msg_live_count(), 1);
}

static void
test_msg_payload_is_nul_terminated(void **state)
{
	struct msg *m = *state;

	assert_int_equal(msg_payload(m)[m->len], '\0');
	assert_string_equal((const char *)msg_payload(m), "hello");
}

static void
test_msg_payload_follows_lws_pre_headroom(void **state)
{
	struct msg *m = *state;

	assert_true(LWS_PRE >= 10);
	assert_ptr_equal(msg_payload(m), m->buf + LWS_PRE);
	/* The bytes before the frame header are still headroom: writing them
	 * stays inside the allocation (ASan) and leaves the frame alone. */
	memset(m->buf, 0xa5, LWS_PRE - m->hdr_len);
	assert_int_equal(msg_frame(m)[0], 0x81);
	assert_int_equal(msg_frame(m)[1], 5);
	assert_memory_equal(msg_payload(m), "hello", 5);
	assert_int_equal(msg_payload(m)[5], '\0');
}

/* The RFC 6455 header a server sends for a final text frame of len bytes. */
static size_t
want_header(unsigned char *h, size_t len)
{
	h[0] = 0x81;
	if (len < 126) {
		h[1] = (unsigned char)len;
		return 2;
	}
	if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		return 4;
	}
	h[1] = 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

static void
test_msg_frame_is_header_then_payload_at_each_length_boundary(void **state)
{
	static const size_t lens[] = { 0,     1,     125,   126,	  127,
				       1000,  65535, 65536, 65537, 1 << 20 };
	unsigned char *src = malloc((1 << 20) + 1);

	assert_non_null(src);
	for (size_t i = 0; i < (1 << 20) + 1; i++)
		src[i] = (unsigned char)(i * 7 + 3);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		size_t len = lens[k];
		unsigned char h[10];
		size_t hl = want_header(h, len);
		struct msg *m = msg_new(src, len);

		assert_non_null(m);
		if (m->hdr_len != hl)
			fail_msg("len %zu: header of %u bytes, want %zu", len,
				 m->hdr_len, hl);
		assert_true(m->hdr_len <= LWS_PRE);
		assert_ptr_equal(msg_frame(m), msg_payload(m) - hl);
		assert_int_equal(msg_frame_len(m), hl + len);
		assert_memory_equal(msg_frame(m), h, hl);
		assert_memory_equal(msg_frame(m) + hl, src, len);
		assert_int_equal(msg_payload(m)[len], '\0');
		msg_unref(m);
	}
	free(src);
}

static void
test_msg_new_copies_rather_than_borrows(void **state)
{
	char src[] = "mutable";
	struct msg *m = msg_new(src, strlen(src));

	assert_non_null(m);
	memset(src, 'X', strlen(src));
	assert_string_equal((const char *)msg_payload(m), "mutable");
	msg_unref(m);
}

static void
test_msg_new_keeps_embedded_nul_bytes(void **state)
{
	static const char bin[] = { 'a', '\0', 'b', '\0', 'c' };
	struct msg *m = msg_new(bin, sizeof(bin));

	assert_non_null(m);
	assert_int_equal(m->len, sizeof(bin));
	assert_memory_equal(msg_payload(m), bin, sizeof(bin));
	assert_int_equal(msg_payload(m)[sizeof(bin)], '\0');
	msg_unref(m);
}

static void
test_msg_new_empty_payload_has_len_zero_and_nul(void **state)
{
	struct msg *m = msg_new("", 0);

	assert_non_null(m);
	assert_int_equal(m->len, 0);
	assert_int_equal(msg_payload(m)[0], '\0');
	assert_int_equal(msg_live_count(), 2);
	msg_unref(m);
	assert_int_equal(msg_live_count(), 1);
}

static void
test_msg_large_payload_is_copied_whole(void **state)
{
	size_t len = 1 << 20;
	char *src = malloc(len);
	struct msg *m;

	assert_non_null(src);
	for (size_t i = 0; i < len; i++)
		src[i] = (char)(i * 31 + 7);
	m = msg_new(src, len);
	assert_non_null(m);
	assert_int_equal(m->len, len);
	assert_memory_equal(msg_payload(m), src, len);
	assert_int_equal(msg_payload(m)[len], '\0');
	free(src);
	msg_unref(m);
}

static void
test_msg_ref_returns_same_msg_and_counts(void **state)
{
	struct msg *m = *state;

	assert_ptr_equal(msg_ref(m), m);
	assert_ptr_equal(msg_ref(m), m);
	assert_int_equal(m->refs, 3);
	msg_unref(m);
	msg_unref(m);
	assert_int_equal(m->refs, 1);
	assert_int_equal(msg_live_count(), 1);
}

static void
test_msg_last_unref_frees_and_live_count_drops(void **state)
{
	struct msg *m = *state;
	long before = msg_live_count();

	msg_ref(m);
	msg_unref(m);
	assert_int_equal(msg_live_count(), before);
	msg_unref(m); /* the last one */
	*state = NULL;
	assert_int_equal(msg_live_count(), before - 1);
}

static void
test_msg_live_count_tracks_many_msgs(void **state)
{
	struct msg *ms[100];

	for (int i = 0; i < 100; i++) {
		ms[i] = msg_new(&i, sizeof(i));
		assert_non_null(ms[i]);
	}
	assert_int_equal(msg_live_count(), 101);
	for (int i = 0; i < 100; i++) {
		int v;

		memcpy(&v, msg_payload(ms[i]), sizeof(v));
		assert_int_equal(v, i);
		msg_unref(ms[i]);
	}
	assert_int_equal(msg_live_count(), 1);
}

static void
test_msg_unref_null_is_a_no_op(void **state)
{
	msg_unref(NULL);
	assert_int_equal(msg_live_count(), 1);
}

/* An unref of a msg whose count is already zero aborts instead of freeing
 * twice. Run in a child so the abort does not end the test program. */
static void
test_msg_unref_underflow_aborts(void **state)
{
	struct msg *m = *state;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGABRT, SIG_DFL);
		m->refs = 0; /* the child's copy: as after a final unref */
		msg_unref(m);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_int_equal(m->refs, 1);
}

/* The parts end to end, in order, under one header; empty parts and a
 * NULL one of length 0 add nothing. */
static void
test_msg_new_parts_joins_parts_under_one_header(void **state)
{
	static const char big[300] = { [0] = 'x', [299] = 'y' };
	const struct msg_part parts[] = {
		{ "42[", 3 }, { NULL, 0 }, { big, sizeof(big) }, { "]", 1 },
	};
	struct msg *m = msg_new_parts(parts, 4);

	(void)state;
	assert_non_null(m);
	assert_int_equal(m->refs, 1);
	assert_int_equal(m->len, 304);
	assert_int_equal(m->hdr_len, 4); /* 126 and a 16-bit length */
	assert_int_equal(msg_frame(m)[0], 0x81);
	assert_int_equal(msg_frame(m)[2] << 8 | msg_frame(m)[3], 304);
	assert_memory_equal(msg_payload(m), "42[x", 4);
	assert_memory_equal(msg_payload(m) + 3, big, sizeof(big));
	assert_memory_equal(msg_payload(m) + 302, "y]", 2);
	assert_int_equal(msg_payload(m)[304], '\0');
	msg_unref(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_msg_new_copies_payload_and_counts_one_ref),
		T(test_msg_payload_is_nul_terminated),
		T(test_msg_payload_follows_lws_pre_headroom),
		T(test_msg_frame_is_header_then_payload_at_each_length_boundary),
		T(test_msg_new_copies_rather_than_borrows),
		T(test_msg_new_keeps_embedded_nul_bytes),
		T(test_msg_new_empty_payload_has_len_zero_and_nul),
		T(test_msg_large_payload_is_copied_whole),
		T(test_msg_ref_returns_same_msg_and_counts),
		T(test_msg_last_unref_frees_and_live_count_drops),
		T(test_msg_live_count_tracks_many_msgs),
		T(test_msg_unref_null_is_a_no_op),
		T(test_msg_unref_underflow_aborts),
		T(test_msg_new_parts_joins_parts_under_one_header),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
