/*
 * The history store under pressure (issue 9), against the real chatd and a
 * real SQLite file: --history-max-total bounds the rows of all rooms
 * together and keeps the newest, ids stay unique across a restart, and a
 * database another process holds locked answers `unavailable` (with the cid)
 * instead of stalling the server, then stores again once it is released.
 */
#include "chat_test.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* Sends text to room and returns the id of the echo. */
static json_int_t
say(struct ws_client *c, const char *room, const char *nick, const char *text,
    const char *cid)
{
	json_t *m;
	json_int_t id;

	chat_say(c, room, text, cid);
	m = chat_wait_msg(c, room, nick, text, cid);
	id = jint(m, "id");
	json_decref(m);
	return id;
}

/* One number from the file, over a connection of the test's own. */
static long long
db_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Checks that the history frame h holds exactly ids first..last. */
static void
expect_history_ids(json_t *h, json_int_t first, json_int_t last)
{
	json_t *msgs = jarr(h, "messages"), *m;
	size_t i;

	assert_int_equal(json_array_size(msgs), (size_t)(last - first + 1));
	json_array_foreach(msgs, i, m) {
		chat_check_msg(m);
		assert_int_equal(jint(m, "id"), first + (json_int_t)i);
	}
}

static void
test_total_cap_keeps_the_newest_of_all_rooms_across_restart(void **state)
{
	struct chat_db_dir *d = *state;
	const char *rooms[] = { "early", "north", "south" };
	char nicks[3][CHAT_NICK_MAX + 1], nick[CHAT_NICK_MAX + 1];
	struct ws_client *c[3];
	struct chatd s;
	json_t *h;

	chat_db_dir_start(&s, d, "--history-max-total=20");
	/* A client per room: each session has its own rate allowance. */
	for (int i = 0; i < 3; i++) {
		c[i] = chat_connect(s.port, nicks[i]);
		json_decref(chat_join(c[i], rooms[i]));
	}
	/* 27 messages: early 1-3 first, then north and south in turns. */
	for (json_int_t id = 1; id <= 3; id++)
		assert_int_equal(say(c[0], "early", nicks[0], "old", NULL), id);
	for (json_int_t id = 1; id <= 12; id++) {
		assert_int_equal(say(c[1], "north", nicks[1], "n", NULL), id);
		assert_int_equal(say(c[2], "south", nicks[2], "s", NULL), id);
	}
	chat_close_all(c, 3);
	assert_int_equal(chatd_stop(&s), 0);

	/* The newest 20 of the 27, whatever their room. */
	assert_int_equal(db_int(d->db, "SELECT count(*) FROM messages"), 20);
	assert_int_equal(db_int(d->db, "SELECT count(*) FROM messages "
					"WHERE room = 'early'"),
			 0);
	assert_int_equal(db_int(d->db, "SELECT min(id) FROM messages "
					"WHERE room = 'north'"),
			 3);
	assert_int_equal(db_int(d->db, "SELECT min(id) FROM messages "
					"WHERE room = 'south'"),
			 3);

	chat_db_dir_start(&s, d, "--history-max-total=20");
	c[0] = chat_connect(s.port, nick);
	h = chat_join_ex(c[0], "north", NULL, 0, NULL);
	expect_history_ids(h, 3, 12);
	json_decref(h);
	h = chat_join(c[0], "early");
	expect_history_ids(h, 1, 0);
	json_decref(h);
	/* early was trimmed empty: its ids go on, they do not start over. */
	assert_int_equal(say(c[0], "early", nick, "new", NULL), 4);
	ws_close(c[0]);
	assert_int_equal(chatd_stop(&s), 0);
	/* The new one pushed north's oldest out. */
	assert_int_equal(db_int(d->db, "SELECT count(*) FROM messages"), 20);
	assert_int_equal(db_int(d->db, "SELECT min(id) FROM messages "
					"WHERE room = 'north'"),
			 4);
}

/* Takes the write lock the way the sqlite3 CLI or a backup script would. */
static sqlite3 *
lock_db(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	/* This succeeding also shows that chatd holds no write transaction
	 * open between event-loop turns. */
	if (sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("BEGIN EXCLUSIVE: %s", sqlite3_errmsg(db));
	return db;
}

static void
unlock_db(sqlite3 *db)
{
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
}

static void
test_locked_database_answers_unavailable_then_stores_again(void **state)
{
	struct chat_db_dir *d = *state;
	char nick[CHAT_NICK_MAX + 1], other[CHAT_NICK_MAX + 1];
	struct ws_client *c, *w;
	struct chatd s;
	sqlite3 *db;
	json_t *m;

	chat_db_dir_start(&s, d, NULL);
	c = chat_connect(s.port, nick);
	db = lock_db(d->db);
	/* Held for far longer than chatd's busy timeout. */
	chat_say(c, NULL, "while locked", "locked-1");
	chat_expect_error(c, "unavailable", "locked-1");
	/* Reads still work (WAL), and the server still serves: a new client
	 * gets its greeting and lobby history. */
	w = chat_connect(s.port, other);
	json_decref(ws_expect_type(c, "presence", CHAT_TIMEOUT_MS, WS_STRICT));
	chat_say(c, NULL, "still locked", "locked-2");
	chat_expect_error(c, "unavailable", "locked-2");
	chat_expect_quiet(w, CHAT_QUIET_MS);
	unlock_db(db);
	assert_int_equal(db_int(d->db, "SELECT count(*) FROM messages"), 0);
	/* Released: stored and delivered again. */
	assert_int_equal(say(c, "lobby", nick, "after", "locked-3"), 1);
	m = chat_expect_msg(w, "lobby", nick, "after", "locked-3");
	json_decref(m);
	ws_close(c);
	ws_close(w);
	assert_int_equal(chatd_stop(&s), 0);
}

static void
test_resend_after_unavailable_is_stored_once(void **state)
{
	struct chat_db_dir *d = *state;
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c;
	struct chatd s;
	sqlite3 *db;

	chat_db_dir_start(&s, d, NULL);
	c = chat_connect(s.port, nick);
	db = lock_db(d->db);
	chat_say(c, NULL, "typed during a blip", "blip-1");
	chat_expect_error(c, "unavailable", "blip-1");
	unlock_db(db);
	/* The client resends with the same cid: stored and delivered now,
	 * and once only. */
	assert_int_equal(say(c, "lobby", nick, "typed during a blip", "blip-1"),
			 1);
	assert_int_equal(say(c, "lobby", nick, "typed during a blip", "blip-1"),
			 1);
	chat_expect_quiet(c, CHAT_QUIET_MS);
	ws_close(c);
	assert_int_equal(chatd_stop(&s), 0);
	assert_int_equal(db_int(d->db, "SELECT count(*) FROM messages"), 1);
}

static void
test_short_lock_is_waited_out(void **state)
{
	struct chat_db_dir *d = *state;
	char nick[CHAT_NICK_MAX + 1];
	struct ws_client *c;
	struct chatd s;
	sqlite3 *db;
	json_t *m;

	chat_db_dir_start(&s, d, NULL);
	c = chat_connect(s.port, nick);
	db = lock_db(d->db);
	chat_say(c, NULL, "brief", "brief-1");
	/* Well under chatd's busy timeout: the write waits, then goes on. */
	usleep(60 * 1000);
	unlock_db(db);
	m = chat_expect_msg(c, "lobby", nick, "brief", "brief-1");
	assert_int_equal(jint(m, "id"), 1);
	json_decref(m);
	ws_close(c);
	assert_int_equal(chatd_stop(&s), 0);
	assert_int_equal(db_int(d->db, "SELECT count(*) FROM messages"), 1);
}

/* Each test gets its own history file, kept across restarts. */
#define T(name)                                                               \
	cmocka_unit_test_setup_teardown(name, chat_db_dir_setup,               \
					chat_db_dir_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_total_cap_keeps_the_newest_of_all_rooms_across_restart),
		T(test_locked_database_answers_unavailable_then_stores_again),
		T(test_resend_after_unavailable_is_stored_once),
		T(test_short_lock_is_waited_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
