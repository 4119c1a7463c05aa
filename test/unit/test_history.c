/*
 * history: the SQLite store on real files in a temp dir: schema creation,
 * reopening, replay windows and `more`, cid lookup, retention per room and
 * store-wide, the version 1 migration, another process's lock, and refusal
 * of files it must not touch (newer schema, corrupt, foreign, unwritable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "history.h"

struct fixture {
	char dir[64];
	char path[128];
	struct history *h;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/chatd-history-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/chat.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	history_close(f->h);
	snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", f->dir, f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* No store-wide bound to speak of. */
#define NO_TOTAL ((uint64_t)1 << 40)

static struct history *
open_total(struct fixture *f, uint64_t max, uint64_t max_total)
{
	char err[256] = "";
	struct history *h = history_open(f->path, max, max_total, err,
					 sizeof(err));

	if (!h)
		fail_msg("history_open(%s): %s", f->path, err);
	return h;
}

static struct history *
open_ok(struct fixture *f, uint64_t max)
{
	return open_total(f, max, NO_TOTAL);
}

static void
append(struct history *h, const char *room, uint64_t id, const char *cid)
{
	char text[32];
	struct chat_record r = {
		.room = room, .id = id, .ts = 1000 + (int64_t)id,
		.nick = "alice", .text = text, .cid = cid,
	};

	r.text_len = (size_t)snprintf(text, sizeof(text), "m%llu",
				      (unsigned long long)id);
	assert_int_equal(history_append(h, &r), 0);
}

struct seen {
	uint64_t ids[2000];
	unsigned n;
	char last_text[32];
	int64_t last_ts;
};

static void
collect(const struct chat_record *r, void *ud)
{
	struct seen *s = ud;

	assert_true(s->n < 2000);
	s->ids[s->n++] = r->id;
	snprintf(s->last_text, sizeof(s->last_text), "%.*s", (int)r->text_len,
		 r->text);
	s->last_ts = r->ts;
}

static void
assert_ids(const struct seen *s, uint64_t first, unsigned n)
{
	assert_int_equal(s->n, n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(s->ids[i], first + i);
}

static void
test_history_new_file_gets_schema_and_version(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	sqlite3_stmt *st;

	f->h = open_ok(f, 100);
	history_close(f->h);
	f->h = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT version FROM schema_version",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), HISTORY_SCHEMA_VERSION);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void
test_history_reopen_keeps_records_and_last_id(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };
	bool more;

	f->h = open_ok(f, 100);
	for (uint64_t id = 1; id <= 5; id++)
		append(f->h, "lobby", id, NULL);
	append(f->h, "other", 1, NULL);
	assert_int_equal(history_commit(f->h), 0);
	history_close(f->h);

	f->h = open_ok(f, 100);
	assert_int_equal(history_last_id(f->h, "lobby"), 5);
	assert_int_equal(history_last_id(f->h, "other"), 1);
	assert_int_equal(history_last_id(f->h, "nowhere"), 0);
	assert_int_equal(history_before(f->h, "lobby", 0, 50, collect, &s,
					&more),
			 0);
	assert_ids(&s, 1, 5);
	assert_false(more);
	assert_string_equal(s.last_text, "m5");
	assert_int_equal(s.last_ts, 1005);
}

static void
list_room(const char *room, void *ud)
{
	char *out = ud;

	strcat(out, room);
	strcat(out, ",");
}

/* Every room with messages, once each, in name order, committed or still
 * pending. */
static void
test_history_foreach_room_lists_each_room_once(void **state)
{
	struct fixture *f = *state;
	char seen[256] = "";

	f->h = open_ok(f, 100);
	history_foreach_room(f->h, list_room, seen);
	assert_string_equal(seen, "");
	for (uint64_t id = 1; id <= 3; id++)
		append(f->h, "lobby", id, NULL);
	append(f->h, "b-room", 1, NULL);
	assert_int_equal(history_commit(f->h), 0);
	append(f->h, "a.room", 1, NULL);
	append(f->h, "zz", 1, NULL);
	history_foreach_room(f->h, list_room, seen);
	assert_string_equal(seen, "a.room,b-room,lobby,zz,");
}

static void
test_history_close_commits_pending_appends(void **state)
{
	struct fixture *f = *state;

	f->h = open_ok(f, 100);
	append(f->h, "lobby", 1, NULL);
	assert_true(history_has_pending(f->h));
	history_close(f->h);
	f->h = open_ok(f, 100);
	assert_int_equal(history_last_id(f->h, "lobby"), 1);
}

static void
test_history_before_pages_newest_first_window(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };
	bool more;

	f->h = open_ok(f, 1000);
	for (uint64_t id = 1; id <= 120; id++)
		append(f->h, "lobby", id, NULL);
	history_commit(f->h);

	history_before(f->h, "lobby", 0, 50, collect, &s, &more);
	assert_ids(&s, 71, 50);
	assert_true(more);

	s.n = 0;
	history_before(f->h, "lobby", 71, 50, collect, &s, &more);
	assert_ids(&s, 21, 50);
	assert_true(more);

	s.n = 0;
	history_before(f->h, "lobby", 21, 50, collect, &s, &more);
	assert_ids(&s, 1, 20);
	assert_false(more);

	s.n = 0;
	history_before(f->h, "lobby", 1, 50, collect, &s, &more);
	assert_int_equal(s.n, 0);
	assert_false(more);
}

static void
test_history_after_returns_exactly_the_missed_ones(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };
	bool more;

	f->h = open_ok(f, 5000);
	for (uint64_t id = 1; id <= 1500; id++)
		append(f->h, "lobby", id, NULL);
	history_commit(f->h);

	history_after(f->h, "lobby", 1490, 1000, collect, &s, &more);
	assert_ids(&s, 1491, 10);
	assert_false(more);

	s.n = 0;
	history_after(f->h, "lobby", 100, 1000, collect, &s, &more);
	assert_ids(&s, 101, 1000);
	assert_true(more);

	s.n = 0;
	history_after(f->h, "lobby", 1500, 1000, collect, &s, &more);
	assert_int_equal(s.n, 0);
	assert_false(more);
}

static void
test_history_find_cid_matches_room_nick_and_cid(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };

	f->h = open_ok(f, 100);
	append(f->h, "lobby", 1, "c-1");
	append(f->h, "lobby", 2, "c-2");
	/* Visible before the commit: resends in the same turn are caught. */
	assert_int_equal(history_find_cid(f->h, "lobby", "alice", "c-2",
					  collect, &s),
			 1);
	assert_ids(&s, 2, 1);
	history_commit(f->h);

	s.n = 0;
	assert_int_equal(history_find_cid(f->h, "lobby", "bob", "c-1", collect,
					  &s),
			 0);
	assert_int_equal(history_find_cid(f->h, "other", "alice", "c-1",
					  collect, &s),
			 0);
	assert_int_equal(history_find_cid(f->h, "lobby", "alice", "c-3",
					  collect, &s),
			 0);
	assert_int_equal(s.n, 0);
}

static void
test_history_find_cid_ignores_messages_beyond_the_window(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };

	f->h = open_ok(f, 100000);
	append(f->h, "lobby", 1, "old");
	for (uint64_t id = 2; id <= HISTORY_CID_WINDOW + 1; id++)
		append(f->h, "lobby", id, NULL);
	history_commit(f->h);
	/* id 1 is now the 10,001st newest. */
	assert_int_equal(history_find_cid(f->h, "lobby", "alice", "old",
					  collect, &s),
			 0);
}

static void
test_history_retention_keeps_the_newest(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };
	bool more;
	uint64_t id = 1;

	f->h = open_ok(f, 10);
	for (int commit = 0; commit < 5; commit++) {
		for (int i = 0; i < 7; i++)
			append(f->h, "lobby", id++, NULL);
		assert_int_equal(history_commit(f->h), 0);
	}
	history_before(f->h, "lobby", 0, 100, collect, &s, &more);
	assert_ids(&s, 26, 10);
	assert_false(more);
	assert_int_equal(history_last_id(f->h, "lobby"), 35);
}

/* One number from the file, read over a connection of the test's own. */
static long long
db_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* The ids stored for room, oldest first. */
static void
room_ids(struct history *h, const char *room, struct seen *s)
{
	bool more;

	s->n = 0;
	assert_int_equal(history_after(h, room, 0, 1000, collect, s, &more), 0);
	assert_false(more);
}

static void
test_history_total_cap_trims_the_oldest_of_any_room(void **state)
{
	struct fixture *f = *state;
	/* Each room in turn holds the oldest messages, and commits take
	 * several messages at once. */
	const char order[] = "aaaaaaabbbbbcccabcabcbaca";
	char rooms[3][2] = { "a", "b", "c" };
	struct {
		int room;
		uint64_t id;
	} sent[sizeof(order) - 1];
	uint64_t next[3] = { 0 };
	const unsigned total = sizeof(order) - 1, kept = 10;

	f->h = open_total(f, 100, kept);
	for (unsigned i = 0; i < total; i++) {
		int r = order[i] - 'a';

		sent[i].room = r;
		sent[i].id = ++next[r];
		append(f->h, rooms[r], sent[i].id, NULL);
		if (i % 4 == 3)
			assert_int_equal(history_commit(f->h), 0);
	}
	assert_int_equal(history_commit(f->h), 0);
	assert_int_equal(history_count(f->h), kept);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM messages"),
			 kept);
	/* Exactly the newest ten of all, whatever their room. */
	for (int r = 0; r < 3; r++) {
		struct seen s = { 0 };
		unsigned n = 0;

		room_ids(f->h, rooms[r], &s);
		for (unsigned i = total - kept; i < total; i++)
			if (sent[i].room == r) {
				assert_true(n < s.n);
				assert_int_equal(s.ids[n], sent[i].id);
				n++;
			}
		assert_int_equal(s.n, n);
	}
}

static void
test_history_total_cap_never_reuses_ids_of_an_emptied_room(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };

	f->h = open_total(f, 100, 10);
	for (uint64_t id = 1; id <= 3; id++)
		append(f->h, "early", id, NULL);
	assert_int_equal(history_commit(f->h), 0);
	for (uint64_t id = 1; id <= 12; id++)
		append(f->h, "busy", id, NULL);
	assert_int_equal(history_commit(f->h), 0);
	room_ids(f->h, "early", &s);
	assert_int_equal(s.n, 0);
	room_ids(f->h, "busy", &s);
	assert_ids(&s, 3, 10);
	/* "early" has no rows left, yet its ids must not start over; nor may
	 * a room name that only looks new. */
	assert_int_equal(history_last_id(f->h, "early"), 3);
	assert_int_equal(history_last_id(f->h, "fresh"), 3);
	assert_int_equal(history_last_id(f->h, "busy"), 12);

	history_close(f->h);
	f->h = open_total(f, 100, 10);
	assert_int_equal(history_count(f->h), 10);
	assert_int_equal(history_last_id(f->h, "early"), 3);
	assert_int_equal(history_last_id(f->h, "busy"), 12);
	append(f->h, "early", 4, NULL);
	assert_int_equal(history_commit(f->h), 0);
	history_close(f->h);
	f->h = open_total(f, 100, 10);
	assert_int_equal(history_last_id(f->h, "early"), 4);
	assert_int_equal(history_count(f->h), 10);
}

static void
test_history_room_and_total_caps_count_each_row_once(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };

	/* The rooms' own retention leaves exactly the total: nothing more
	 * may go. */
	f->h = open_total(f, 5, 10);
	for (uint64_t id = 1; id <= 8; id++) {
		append(f->h, "a", id, NULL);
		append(f->h, "b", id, NULL);
	}
	assert_int_equal(history_commit(f->h), 0);
	assert_int_equal(history_count(f->h), 10);
	room_ids(f->h, "a", &s);
	assert_ids(&s, 4, 5);
	room_ids(f->h, "b", &s);
	assert_ids(&s, 4, 5);
}

static void
test_history_lowered_total_cap_drains_a_batch_per_commit(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };
	uint64_t id;

	f->h = open_ok(f, 100000);
	for (id = 1; id <= 1200; id++)
		append(f->h, "lobby", id, NULL);
	assert_int_equal(history_commit(f->h), 0);
	history_close(f->h);

	f->h = open_total(f, 100000, 100);
	/* Counted at open; nothing is deleted before a commit. */
	assert_int_equal(history_count(f->h), 1200);
	/* Each commit deletes what it added plus one batch. */
	append(f->h, "lobby", id++, NULL);
	assert_int_equal(history_commit(f->h), 0);
	assert_int_equal(history_count(f->h), 1200 - HISTORY_TRIM_BATCH);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM messages"),
			 1200 - HISTORY_TRIM_BATCH);
	append(f->h, "lobby", id++, NULL);
	assert_int_equal(history_commit(f->h), 0);
	assert_int_equal(history_count(f->h), 1200 - 2 * HISTORY_TRIM_BATCH);
	append(f->h, "lobby", id++, NULL);
	assert_int_equal(history_commit(f->h), 0);
	assert_int_equal(history_count(f->h), 100);
	assert_int_equal(db_int(f->path, "SELECT count(*) FROM messages"), 100);
	room_ids(f->h, "lobby", &s);
	assert_ids(&s, 1104, 100);
}

static void
test_history_migrates_version_1_oldest_first_by_time(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };
	sqlite3 *db;

	/* A file as chatd with schema version 1 left it. Room d's clock went
	 * back: its id 2 is newer than its id 1 whatever ts says. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db,
			     "CREATE TABLE schema_version (version INTEGER "
			     "NOT NULL);"
			     "CREATE TABLE messages (room TEXT NOT NULL,"
			     " id INTEGER NOT NULL, ts INTEGER NOT NULL,"
			     " nick TEXT NOT NULL, text TEXT NOT NULL,"
			     " cid TEXT, PRIMARY KEY (room, id)) WITHOUT ROWID;"
			     "CREATE INDEX messages_by_cid ON messages (room,"
			     " nick, cid) WHERE cid IS NOT NULL;"
			     "INSERT INTO schema_version VALUES (1);"
			     "INSERT INTO messages VALUES"
			     " ('a', 1, 100, 'n', 'a1', NULL),"
			     " ('b', 1, 200, 'n', 'b1', NULL),"
			     " ('a', 2, 300, 'n', 'a2', NULL),"
			     " ('b', 2, 400, 'n', 'b2', 'x'),"
			     " ('d', 1, 500, 'n', 'd1', NULL),"
			     " ('d', 2, 50, 'n', 'd2', NULL);",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);

	f->h = open_total(f, 100, 4);
	assert_int_equal(db_int(f->path, "SELECT version FROM schema_version"),
			 HISTORY_SCHEMA_VERSION);
	assert_int_equal(history_count(f->h), 6);
	append(f->h, "c", 1, NULL);
	assert_int_equal(history_commit(f->h), 0);
	/* a1, b1, a2 went, in the order they were written. */
	room_ids(f->h, "a", &s);
	assert_int_equal(s.n, 0);
	room_ids(f->h, "b", &s);
	assert_ids(&s, 2, 1);
	room_ids(f->h, "d", &s);
	assert_ids(&s, 1, 2);
	room_ids(f->h, "c", &s);
	assert_ids(&s, 1, 1);
	assert_int_equal(history_last_id(f->h, "a"), 2);
	assert_int_equal(history_find_cid(f->h, "b", "n", "x", collect, &s), 1);
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_history_append_waits_for_a_lock_then_fails_alone(void **state)
{
	struct fixture *f = *state;
	struct chat_record r = {
		.room = "lobby", .id = 1, .ts = 1, .nick = "alice",
		.text = "hi", .text_len = 2,
	};
	sqlite3 *db;
	long long t0, waited;

	f->h = open_ok(f, 100);
	/* Another process's write lock, as the sqlite3 CLI would take. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
			 SQLITE_OK);
	t0 = mono_ms();
	assert_int_equal(history_append(f->h, &r), -EBUSY);
	waited = mono_ms() - t0;
	if (waited < HISTORY_BUSY_TIMEOUT_MS * 3 / 4 || waited > 5000)
		fail_msg("waited %lld ms for the lock, not about %d", waited,
			 HISTORY_BUSY_TIMEOUT_MS);
	/* Nothing is left open to fail later appends or the commit. */
	assert_false(history_has_pending(f->h));
	assert_int_equal(history_count(f->h), 0);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(history_append(f->h, &r), 0);
	assert_int_equal(history_commit(f->h), 0);
	assert_int_equal(history_last_id(f->h, "lobby"), 1);
	assert_int_equal(history_count(f->h), 1);
	sqlite3_close(db);
}

static void
expect_refused(struct fixture *f, const char *needle)
{
	char err[256] = "";
	struct history *h = history_open(f->path, 100, NO_TOTAL, err,
					 sizeof(err));

	assert_null(h);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

static void
test_history_refuses_newer_schema_untouched(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	struct stat before, after;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE schema_version (version "
				      "INTEGER NOT NULL); INSERT INTO "
				      "schema_version VALUES (99);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(stat(f->path, &before), 0);
	expect_refused(f, "schema version 99");
	assert_int_equal(stat(f->path, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	assert_int_equal(before.st_mtime, after.st_mtime);
}

static void
test_history_refuses_corrupt_file(void **state)
{
	struct fixture *f = *state;
	char junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	write_file(f->path, junk, sizeof(junk));
	expect_refused(f, "not a usable chatd database");
}

static void
test_history_refuses_corrupt_pages_behind_a_valid_header(void **state)
{
	struct fixture *f = *state;
	char page[4096];
	int fd;

	f->h = open_ok(f, 100);
	append(f->h, "lobby", 1, NULL);
	history_close(f->h);
	f->h = NULL;
	/* Keep the 100-byte header, scribble over the schema page. */
	memset(page, 0x5a, sizeof(page));
	fd = open(f->path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, page, 1000, 100), 1000);
	close(fd);
	expect_refused(f, "not a usable chatd database");
}

static void
test_history_refuses_foreign_database(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE accounts (x)", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	expect_refused(f, "not a chatd database");
}

static void
test_history_accepts_empty_file(void **state)
{
	struct fixture *f = *state;

	write_file(f->path, "", 0);
	f->h = open_ok(f, 100);
	append(f->h, "lobby", 1, NULL);
	assert_int_equal(history_commit(f->h), 0);
}

static void
test_history_refuses_unwritable_directory(void **state)
{
	struct fixture *f = *state;
	pid_t pid;
	int status;

	/* root ignores permission bits, so the check runs as "nobody". */
	assert_int_equal(chmod(f->dir, 0555), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256] = "";
		struct history *h;

		if (getuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(3);
		h = history_open(f->path, 100, NO_TOTAL, err, sizeof(err));
		_exit(h ? 1 : strstr(err, "cannot") ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_history_memory_store_works(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };
	char err[256];
	bool more;

	f->h = history_open(":memory:", 100, NO_TOTAL, err, sizeof(err));
	assert_non_null(f->h);
	append(f->h, "lobby", 1, NULL);
	history_commit(f->h);
	history_after(f->h, "lobby", 0, 10, collect, &s, &more);
	assert_ids(&s, 1, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_history_new_file_gets_schema_and_version),
		T(test_history_reopen_keeps_records_and_last_id),
		T(test_history_foreach_room_lists_each_room_once),
		T(test_history_close_commits_pending_appends),
		T(test_history_before_pages_newest_first_window),
		T(test_history_after_returns_exactly_the_missed_ones),
		T(test_history_find_cid_matches_room_nick_and_cid),
		T(test_history_find_cid_ignores_messages_beyond_the_window),
		T(test_history_retention_keeps_the_newest),
		T(test_history_total_cap_trims_the_oldest_of_any_room),
		T(test_history_total_cap_never_reuses_ids_of_an_emptied_room),
		T(test_history_room_and_total_caps_count_each_row_once),
		T(test_history_lowered_total_cap_drains_a_batch_per_commit),
		T(test_history_migrates_version_1_oldest_first_by_time),
		T(test_history_append_waits_for_a_lock_then_fails_alone),
		T(test_history_refuses_newer_schema_untouched),
		T(test_history_refuses_corrupt_file),
		T(test_history_refuses_corrupt_pages_behind_a_valid_header),
		T(test_history_refuses_foreign_database),
		T(test_history_accepts_empty_file),
		T(test_history_refuses_unwritable_directory),
		T(test_history_memory_store_works),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
