/*
 * replay: a history frame never over its byte budget (but never empty when
 * there is a message), a replay keeping its oldest and a page its newest,
 * `more` whenever something was left out, ids in order with no gap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "json.h"
#include "replay.h"

#define N 100
#define TEXT_LEN 1000

struct fx {
	struct history *h;
	struct replay rp;
	struct jbuf out;
};

static int
setup(void **state)
{
	static char text[TEXT_LEN + 1];
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[256];

	assert_non_null(fx);
	memset(text, 'x', TEXT_LEN);
	fx->h = history_open(":memory:", 100000, 1000000, err, sizeof(err));
	assert_non_null(fx->h);
	for (uint64_t id = 1; id <= N; id++) {
		struct chat_record rec = { .room = "r", .id = id, .ts = 1,
					   .nick = "n", .text = text,
					   .text_len = TEXT_LEN };

		assert_int_equal(history_append(fx->h, &rec), 0);
	}
	assert_int_equal(history_commit(fx->h), 0);
	replay_init(&fx->rp);
	jbuf_init(&fx->out);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	jbuf_fini(&fx->out);
	replay_fini(&fx->rp);
	history_close(fx->h);
	free(fx);
	return 0;
}

/* Parses the frame, checks ids are consecutive; returns the first and last
 * ids and the more flag. */
static size_t
check_frame(const struct jbuf *out, json_int_t *first, json_int_t *last,
	    bool *more)
{
	json_error_t e;
	json_t *f = json_loadb(out->data, out->len, 0, &e);
	json_t *msgs;
	size_t n;

	if (!f)
		fail_msg("not JSON: %s", e.text);
	msgs = json_object_get(f, "messages");
	n = json_array_size(msgs);
	for (size_t i = 0; i < n; i++) {
		json_int_t id = json_integer_value(
			json_object_get(json_array_get(msgs, i), "id"));

		if (i == 0)
			*first = id;
		else if (id != *last + 1)
			fail_msg("id %lld after %lld", (long long)id,
				 (long long)*last);
		*last = id;
	}
	*more = json_is_true(json_object_get(f, "more"));
	json_decref(f);
	return n;
}

static void
test_replay_keeps_the_oldest_within_the_budget(void **state)
{
	struct fx *fx = *state;
	json_int_t first = 0, last = 0;
	bool more;
	size_t n;

	replay_build(&fx->rp, &fx->out, fx->h, "r", true, 10, 1000, 20000);
	assert_true(fx->out.len <= 20000);
	n = check_frame(&fx->out, &first, &last, &more);
	assert_true(n >= 15 && n < 20);
	assert_int_equal(first, 11);
	assert_true(more);
	/* With room for all, all of them and no more. */
	replay_build(&fx->rp, &fx->out, fx->h, "r", true, 0, 1000, 1 << 20);
	assert_int_equal(check_frame(&fx->out, &first, &last, &more), N);
	assert_false(more);
}

static void
test_replay_page_keeps_the_newest_within_the_budget(void **state)
{
	struct fx *fx = *state;
	json_int_t first = 0, last = 0;
	bool more;

	replay_build(&fx->rp, &fx->out, fx->h, "r", false, 0, 50, 10000);
	assert_true(fx->out.len <= 10000);
	check_frame(&fx->out, &first, &last, &more);
	assert_int_equal(last, N);
	assert_true(more);
	replay_build(&fx->rp, &fx->out, fx->h, "r", false, first, 50, 10000);
	check_frame(&fx->out, &first, &last, &more);
	assert_true(last < N && more);
}

static void
test_replay_one_message_even_over_the_budget(void **state)
{
	struct fx *fx = *state;
	json_int_t first = 0, last = 0;
	bool more;

	replay_build(&fx->rp, &fx->out, fx->h, "r", true, 0, 1000, 100);
	assert_int_equal(check_frame(&fx->out, &first, &last, &more), 1);
	assert_int_equal(first, 1);
	assert_true(more);
	replay_build(&fx->rp, &fx->out, fx->h, "r", false, 0, 50, 100);
	assert_int_equal(check_frame(&fx->out, &first, &last, &more), 1);
	assert_int_equal(last, N);
	/* An empty room: an empty list, nothing more. */
	replay_build(&fx->rp, &fx->out, fx->h, "empty", true, 0, 1000, 100);
	assert_int_equal(check_frame(&fx->out, &first, &last, &more), 0);
	assert_false(more);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_replay_keeps_the_oldest_within_the_budget, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_replay_page_keeps_the_newest_within_the_budget,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_replay_one_message_even_over_the_budget, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
