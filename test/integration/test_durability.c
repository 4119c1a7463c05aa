/*
 * Durable history (issue 4) against the real chatd and a real SQLite file:
 * restarts keep messages and ids, a message a client has received survives
 * SIGKILL, `since` replays exactly what was missed across a restart, resends
 * by cid are delivered once, retention, and the refusal (exit 2) of database
 * files chatd must not touch.
 */
#include "chat_test.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static void
stop_ok(struct chatd *s)
{
	assert_int_equal(chatd_stop(s), 0);
}

/* Sends text with cid and returns the id of the echo. */
static json_int_t
say(struct ws_client *c, const char *nick, const char *text, const char *cid)
{
	json_t *m;
	json_int_t id;

	chat_say(c, NULL, text, cid);
	m = chat_wait_msg(c, "lobby", nick, text, cid);
	id = jint(m, "id");
	json_decref(m);
	return id;
}

/* Connects and returns the lobby history frame of the greeting in *h. */
static struct ws_client *
connect_for_history(int port, json_t **h)
{
	struct ws_client *c = ws_connect(port);

	assert_non_null(c);
	json_decref(ws_expect_type(c, "welcome", CHAT_TIMEOUT_MS, WS_STRICT));
	json_decref(ws_expect_type(c, "joined", CHAT_TIMEOUT_MS, WS_STRICT));
	*h = ws_expect_type(c, "history", CHAT_TIMEOUT_MS, WS_STRICT);
	return c;
}

/* The ids and texts of a history frame's messages. */
static size_t
history_ids(json_t *h, json_int_t *ids, size_t max)
{
	json_t *msgs = jarr(h, "messages"), *m;
	size_t i, n = json_array_size(msgs);

	assert_true(n <= max);
	json_array_foreach(msgs, i, m) {
		chat_check_msg(m);
		ids[i] = jint(m, "id");
	}
	return n;
}

static void
test_restart_keeps_history_and_ids(void **state)
{
	struct chat_db_dir *d = *state;
	char nick[CHAT_NICK_MAX + 1];
	struct chatd s;
	struct ws_client *c;
	json_int_t ids[64];
	json_t *h;
	size_t n;

	chat_db_dir_start(&s, d, NULL);
	c = chat_connect(s.port, nick);
	for (int i = 1; i <= 3; i++) {
		char text[16];

		snprintf(text, sizeof(text), "before %d", i);
		assert_int_equal(say(c, nick, text, NULL), i);
	}
	ws_free(c);
	stop_ok(&s);

	chat_db_dir_start(&s, d, NULL);
	c = connect_for_history(s.port, &h);
	n = history_ids(h, ids, 64);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ids[i], (json_int_t)i + 1);
	assert_string_equal(jstr(json_array_get(jarr(h, "messages"), 2), "text"),
			    "before 3");
	json_decref(h);
	/* The next id continues; it is never reused. */
	assert_int_equal(chat_roundtrip(c, NULL), 4);
	ws_free(c);
	stop_ok(&s);
}

static void
test_sigkill_keeps_a_received_message(void **state)
{
	struct chat_db_dir *d = *state;
	char nick[CHAT_NICK_MAX + 1];
	struct chatd s;
	struct ws_client *c;
	json_int_t id, ids[64];
	json_t *h;
	size_t n;

	chat_db_dir_start(&s, d, NULL);
	c = chat_connect(s.port, nick);
	for (int i = 0; i < 20; i++)
		say(c, nick, "warm-up", NULL);
	/* Received by its own sender: from now on it must survive. */
	id = say(c, nick, "last words", "kill-cid");
	chatd_kill(&s);
	ws_free(c);

	chat_db_dir_start(&s, d, NULL);
	c = connect_for_history(s.port, &h);
	n = history_ids(h, ids, 64);
	assert_true(n >= 1);
	assert_int_equal(ids[n - 1], id);
	assert_string_equal(
		jstr(json_array_get(jarr(h, "messages"), n - 1), "text"),
		"last words");
	json_decref(h);
	assert_int_equal(chat_roundtrip(c, NULL), id + 1);
	ws_free(c);
	stop_ok(&s);
}

static void
test_since_replays_exactly_the_missed_ones_across_restart(void **state)
{
	struct chat_db_dir *d = *state;
	char nick[CHAT_NICK_MAX + 1], other[CHAT_NICK_MAX + 1];
	struct chatd s;
	struct ws_client *a, *b;
	json_int_t seen, ids[64];
	json_t *h;
	size_t n;

	chat_db_dir_start(&s, d, NULL);
	a = chat_connect(s.port, nick);
	seen = say(a, nick, "seen by a", NULL);
	ws_free(a); /* a goes away, b keeps talking */
	b = chat_connect(s.port, other);
	for (int i = 0; i < 5; i++)
		say(b, other, "missed", NULL);
	ws_free(b);
	stop_ok(&s);

	chat_db_dir_start(&s, d, NULL);
	a = chat_connect(s.port, NULL);
	h = chat_join_ex(a, "lobby", NULL, (long long)seen, NULL);
	n = history_ids(h, ids, 64);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ids[i], seen + 1 + (json_int_t)i);
	assert_false(json_is_true(json_object_get(h, "more")));
	json_decref(h);
	ws_free(a);
	stop_ok(&s);
}

static void
test_resend_by_cid_after_restart_is_delivered_once(void **state)
{
	struct chat_db_dir *d = *state;
	char nick[CHAT_NICK_MAX + 1], watcher_nick[CHAT_NICK_MAX + 1];
	char guest[CHAT_NICK_MAX + 1];
	struct chatd s;
	struct ws_client *c, *w;
	json_int_t first;
	json_t *m, *h;
	long long ts;

	chat_db_dir_start(&s, d, NULL);
	c = chat_connect(s.port, nick);
	chat_say(c, NULL, "exactly once", "cid-42");
	m = chat_wait_msg(c, "lobby", nick, "exactly once", "cid-42");
	first = jint(m, "id");
	ts = jint(m, "ts");
	json_decref(m);
	ws_free(c);
	stop_ok(&s);

	/* After a restart the client reclaims its nick and resends. */
	chat_db_dir_start(&s, d, NULL);
	w = chat_connect(s.port, watcher_nick);
	c = chat_connect(s.port, guest);
	chat_expect_presence(w, "lobby", "join", guest, NULL);
	h = chat_join_ex(c, "lobby", nick, first, NULL);
	json_decref(h);
	chat_say(c, NULL, "exactly once", "cid-42");
	m = chat_wait_msg(c, "lobby", nick, "exactly once", "cid-42");
	assert_int_equal(jint(m, "id"), first);
	assert_int_equal(jint(m, "ts"), ts);
	json_decref(m);
	/* The watcher saw the nick change, and no second copy. */
	chat_expect_presence(w, "lobby", "nick", nick, guest);
	chat_expect_quiet(w, CHAT_QUIET_MS);
	/* Another nick with the same cid is a new message. */
	chat_say(w, NULL, "exactly once", "cid-42");
	m = chat_wait_msg(w, "lobby", watcher_nick, "exactly once", "cid-42");
	assert_int_equal(jint(m, "id"), first + 1);
	json_decref(m);
	ws_free(c);
	ws_free(w);
	stop_ok(&s);
}

static void
test_retention_keeps_history_max_per_room(void **state)
{
	struct chat_db_dir *d = *state;
	char nick[CHAT_NICK_MAX + 1];
	struct chatd s;
	struct ws_client *c;
	sqlite3 *db;
	sqlite3_stmt *st;

	chat_db_dir_start(&s, d, "--history-max=10");
	c = chat_connect(s.port, nick);
	for (int i = 0; i < 30; i++)
		say(c, nick, "kept or not", NULL);
	ws_free(c);
	stop_ok(&s);

	assert_int_equal(sqlite3_open(d->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT count(*), min(id), max(id) "
					    "FROM messages WHERE room='lobby'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 10);
	assert_int_equal(sqlite3_column_int(st, 1), 21);
	assert_int_equal(sqlite3_column_int(st, 2), 30);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* chatd must refuse the file with exit 2 and a line naming --db. */
static void
expect_refused(const struct chat_db_dir *d, const char *needle)
{
	const char *args[] = { d->arg, NULL };
	struct chatd_opts o = { .args = args };
	char *err = NULL;
	int status = chatd_run(&o, 10000, NULL, &err);

	if (status != 2 || !err || !strstr(err, "--db") ||
	    !strstr(err, needle))
		fail_msg("exit %d, stderr: %s", status, err ? err : "(none)");
	free(err);
}

static void
test_corrupt_file_is_refused_untouched(void **state)
{
	struct chat_db_dir *d = *state;
	char junk[4096], back[4096];
	FILE *fp;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 13 + 1);
	fp = fopen(d->db, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
	fclose(fp);
	expect_refused(d, "not a usable chatd database");
	fp = fopen(d->db, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(back, 1, sizeof(back), fp), sizeof(back));
	fclose(fp);
	assert_memory_equal(junk, back, sizeof(junk));
}

static void
test_newer_schema_is_refused(void **state)
{
	struct chat_db_dir *d = *state;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(d->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE schema_version (version "
				      "INTEGER NOT NULL); INSERT INTO "
				      "schema_version VALUES (7);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	expect_refused(d, "schema version 7");
}

static void
test_unwritable_location_is_refused(void **state)
{
	struct chat_db_dir *d = *state;

	/* Root ignores permission bits; /proc refuses new files to anyone. */
	snprintf(d->arg, sizeof(d->arg), "--db=/proc/chatd-test.db");
	expect_refused(d, "cannot");
}

static void
test_empty_file_is_migrated(void **state)
{
	struct chat_db_dir *d = *state;
	struct chatd s;
	struct ws_client *c;
	FILE *fp = fopen(d->db, "wb");

	assert_non_null(fp);
	fclose(fp);
	chat_db_dir_start(&s, d, NULL);
	c = chat_connect(s.port, NULL);
	assert_int_equal(chat_roundtrip(c, NULL), 1);
	ws_free(c);
	stop_ok(&s);
}

static void
test_big_replay_is_split_not_culled(void **state)
{
	struct chat_db_dir *d = *state;
	char nick[CHAT_NICK_MAX + 1], text[3001];
	struct chatd s;
	struct ws_client *c, *late;
	json_int_t since = 0, ids[1000];
	int frames = 0;
	bool more = true;

	/* 100 messages of 3000 bytes: 300 KB of history, a 64 KiB queue. */
	chat_db_dir_start(&s, d, "--send-queue-bytes=65536");
	c = chat_connect(s.port, nick);
	memset(text, 'r', 3000);
	text[3000] = '\0';
	for (int i = 0; i < 100; i++)
		say(c, nick, text, NULL);

	late = chat_connect(s.port, NULL);
	while (more && frames < 100) {
		json_t *h = chat_join_ex(late, "lobby", NULL, (long long)since,
					 NULL);
		size_t n = history_ids(h, ids, 1000);

		assert_true(n >= 1);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(ids[i], since + 1 + (json_int_t)i);
		since = ids[n - 1];
		more = json_is_true(json_object_get(h, "more"));
		json_decref(h);
		frames++;
	}
	assert_int_equal(since, 100);
	assert_true(frames > 1); /* it did not fit in one frame */
	/* Still connected and served. */
	chat_roundtrip(late, NULL);
	ws_free(late);
	ws_free(c);
	stop_ok(&s);
}

static void
test_resend_trimmed_away_is_stored_again(void **state)
{
	struct chat_db_dir *d = *state;
	char nick[CHAT_NICK_MAX + 1];
	struct chatd s;
	struct ws_client *c;
	json_t *m;

	/* Keep one message per room: the original of a resend can be
	 * trimmed by the very commit that precedes the resend's check. */
	chat_db_dir_start(&s, d, "--history-max=1");
	c = chat_connect(s.port, nick);
	chat_say(c, NULL, "a", "x");
	chat_say(c, NULL, "b", "y");
	chat_say(c, NULL, "a", "x");
	m = chat_wait_msg(c, "lobby", nick, "a", "x");
	assert_int_equal(jint(m, "id"), 1);
	json_decref(m);
	m = chat_wait_msg(c, "lobby", nick, "b", "y");
	assert_int_equal(jint(m, "id"), 2);
	json_decref(m);
	/* Not swallowed: either the original echoed or stored anew. */
	m = chat_wait_msg(c, "lobby", nick, "a", "x");
	assert_true(jint(m, "id") == 1 || jint(m, "id") == 3);
	json_decref(m);
	ws_free(c);
	stop_ok(&s);
}

/* Each test gets its own history file, kept across restarts. */
#define T(name)                                                               \
	cmocka_unit_test_setup_teardown(name, chat_db_dir_setup,               \
					chat_db_dir_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_restart_keeps_history_and_ids),
		T(test_sigkill_keeps_a_received_message),
		T(test_since_replays_exactly_the_missed_ones_across_restart),
		T(test_resend_by_cid_after_restart_is_delivered_once),
		T(test_retention_keeps_history_max_per_room),
		T(test_corrupt_file_is_refused_untouched),
		T(test_newer_schema_is_refused),
		T(test_unwritable_location_is_refused),
		T(test_empty_file_is_migrated),
		T(test_big_replay_is_split_not_culled),
		T(test_resend_trimmed_away_is_stored_again),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
