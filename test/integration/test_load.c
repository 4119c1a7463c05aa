/*
 * A few hundred concurrent sessions: 300 clients handshake in batches of
 * 50 in flight, every one gets its welcome/joined/history; then one
 * broadcast, and then one message from each of ten senders, reach all 300
 * exactly once (poll over the sockets, no threads).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NCLIENTS 300
#define BATCH 50
#define NSENDERS 10
#define PHASE_DEADLINE_MS 60000

static int
setup(void **state)
{
	/* Every client comes from 127.0.0.1: lift the per-address cap. */
	static const char *const args[] = {"--max-connections-per-ip", "0",
					   NULL};

	chat_raise_nofile(4 * NCLIENTS + 64);
	return chat_fixture_setup(state, args);
}

static int
teardown(void **state)
{
	return chat_fixture_teardown(state);
}

/*
 * Polls every client until each has received `want` messages whose cid
 * starts with `prefix`; other frames (presence joins of later clients) are
 * skipped. counts[i][k] counts the copies of cid prefix-k at client i.
 */
static void
collect(struct ws_client **cs, const char *prefix, int want,
	int (*counts)[NSENDERS + 1], json_int_t *ids_seen)
{
	struct pollfd *pfd = calloc(NCLIENTS, sizeof(*pfd));
	int *got = calloc(NCLIENTS, sizeof(*got));
	int done = 0;
	long long deadline = monotonic_ms() + PHASE_DEADLINE_MS;
	size_t plen = strlen(prefix);

	assert_non_null(pfd);
	assert_non_null(got);
	while (done < NCLIENTS && monotonic_ms() < deadline) {
		bool buffered = false;

		for (int i = 0; i < NCLIENTS; i++) {
			pfd[i].fd = ws_fd(cs[i]);
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			buffered |= ws_has_buffered(cs[i]);
		}
		poll(pfd, NCLIENTS, buffered ? 0 : 200);
		for (int i = 0; i < NCLIENTS; i++) {
			json_t *j;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !ws_has_buffered(cs[i]))
				continue;
			for (int guard = 0; guard < 10000; guard++) {
				const char *cid;

				j = ws_try_json(cs[i]);
				if (!j)
					break;
				if (strcmp(jstr(j, "type"), "message") != 0) {
					json_decref(j);
					continue;
				}
				chat_check_msg(j);
				cid = jstr_opt(j, "cid");
				if (!cid || strncmp(cid, prefix, plen) != 0)
					fail_msg("client %d: unexpected %s", i,
						 json_brief(j));
				int k = atoi(cid + plen);
				assert_in_range(k, 0, NSENDERS);
				counts[i][k]++;
				if (ids_seen[k] == 0)
					ids_seen[k] = jint(j, "id");
				/* Every copy carries the same id. */
				assert_int_equal(jint(j, "id"), ids_seen[k]);
				if (++got[i] == want)
					done++;
				json_decref(j);
			}
			if (ws_is_closed(cs[i]))
				fail_msg("client %d closed (code %d) with %d of "
					 "%d messages",
					 i, ws_close_code(cs[i]), got[i], want);
		}
	}
	if (done < NCLIENTS) {
		int short_i = 0;

		for (int i = 0; i < NCLIENTS; i++)
			if (got[i] < want)
				short_i = i;
		fail_msg("%d of %d clients got all %d messages within %d ms "
			 "(client %d got %d)",
			 done, NCLIENTS, want, PHASE_DEADLINE_MS, short_i,
			 got[short_i]);
	}
	free(pfd);
	free(got);
}

/* Exactly once: nothing more of `prefix` arrives for a quiet window. */
static void
expect_no_more(struct ws_client **cs)
{
	long long until = monotonic_ms() + CHAT_QUIET_MS;

	while (monotonic_ms() < until) {
		for (int i = 0; i < NCLIENTS; i++) {
			json_t *j;

			while ((j = ws_try_json(cs[i]))) {
				if (!strcmp(jstr(j, "type"), "message"))
					fail_msg("client %d: extra %s", i,
						 json_brief(j));
				json_decref(j);
			}
		}
		struct timespec ts = {.tv_nsec = 20 * 1000000};
		nanosleep(&ts, NULL);
	}
}

CHAT_TEST(test_load_300_clients_connect_and_each_broadcast_reaches_all_once)
{
	struct ws_client **cs = calloc(NCLIENTS, sizeof(*cs));
	int(*counts)[NSENDERS + 1] = calloc(NCLIENTS, sizeof(*counts));
	json_int_t ids[NSENDERS + 1];
	char(*nicks)[CHAT_NICK_MAX + 1] = calloc(NCLIENTS, sizeof(*nicks));
	long long t0 = monotonic_ms();

	assert_non_null(cs);
	assert_non_null(counts);
	assert_non_null(nicks);

	/* Handshakes: BATCH requests in flight, then their answers. */
	for (int b = 0; b < NCLIENTS; b += BATCH) {
		for (int i = b; i < b + BATCH; i++) {
			cs[i] = ws_start(port, NULL);
			if (!cs[i])
				fail_msg("client %d could not connect", i);
		}
		for (int i = b; i < b + BATCH; i++) {
			json_t *w;

			if (ws_finish(cs[i]) < 0)
				fail_msg("client %d handshake: %s", i,
					 ws_error(cs[i]));
			w = ws_expect_type(cs[i], "welcome", CHAT_TIMEOUT_MS * 2,
					   WS_STRICT);
			snprintf(nicks[i], sizeof(nicks[i]), "%s",
				 jstr(w, "nick"));
			json_decref(w);
			w = ws_expect_type(cs[i], "joined", CHAT_TIMEOUT_MS * 2,
					   WS_STRICT);
			if (!json_array_has_string(jarr(w, "members"), nicks[i]))
				fail_msg("client %d: joined without itself", i);
			json_decref(w);
			json_decref(ws_expect_type(cs[i], "history",
						   CHAT_TIMEOUT_MS * 2,
						   WS_STRICT));
		}
	}
	print_message("%d clients connected in %lld ms\n", NCLIENTS,
		      monotonic_ms() - t0);
	for (int i = 1; i < NCLIENTS; i++)
		for (int k = 0; k < i; k++)
			if (!strcasecmp(nicks[i], nicks[k]))
				fail_msg("clients %d and %d share nick %s", k,
					 i, nicks[i]);

	/* One broadcast reaches all exactly once. */
	memset(ids, 0, sizeof(ids));
	chat_say(cs[NCLIENTS / 2], "lobby", "to all of you", "one-0");
	collect(cs, "one-", 1, counts, ids);
	expect_no_more(cs);
	for (int i = 0; i < NCLIENTS; i++)
		assert_int_equal(counts[i][0], 1);

	/* Ten senders at once. */
	memset(counts, 0, NCLIENTS * sizeof(*counts));
	memset(ids, 0, sizeof(ids));
	for (int k = 0; k < NSENDERS; k++) {
		char cid[16];

		snprintf(cid, sizeof(cid), "ten-%d", k);
		chat_say(cs[k * (NCLIENTS / NSENDERS)], NULL, "one of ten", cid);
	}
	collect(cs, "ten-", NSENDERS, counts, ids);
	expect_no_more(cs);
	for (int i = 0; i < NCLIENTS; i++)
		for (int k = 0; k < NSENDERS; k++)
			assert_int_equal(counts[i][k], 1);
	/* Ten distinct ids. */
	for (int a = 0; a < NSENDERS; a++)
		for (int b = a + 1; b < NSENDERS; b++)
			assert_int_not_equal(ids[a], ids[b]);
	print_message("done in %lld ms\n", monotonic_ms() - t0);

	for (int i = 0; i < NCLIENTS; i++)
		ws_free(cs[i]);
	free(cs);
	free(counts);
	free(nicks);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_load_300_clients_connect_and_each_broadcast_reaches_all_once,
			setup, teardown),
	};

	return cmocka_run_group_tests_name("load", tests, NULL, NULL);
}
