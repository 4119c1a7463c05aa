/*
 * SQLite history: schema and migrations, grouped commits, replay queries and
 * retention (per room and store-wide). One connection, prepared statements
 * kept for the process, and a running count of the stored messages.
 */
#include "history.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "log.h"
#include "name.h"

enum stmt_id {
	ST_INSERT,
	ST_LAST_ID,
	ST_BEFORE,
	ST_OLDER_EXISTS,
	ST_AFTER,
	ST_FIND_CID,
	ST_MIN_ID,
	ST_TRIM,
	ST_NEXT_BASE,
	ST_RAISE_FLOOR,
	ST_TRIM_OLDEST,
	ST_NEXT_ROOM,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_INSERT] = "INSERT INTO messages (room, id, ts, nick, text, cid,"
		      " seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_LAST_ID] = "SELECT max(id) FROM messages WHERE room = ?1",
	/* One index seek per room, however many messages each holds. */
	[ST_NEXT_ROOM] = "SELECT room FROM messages WHERE room > ?1 "
			 "ORDER BY room LIMIT 1",
	[ST_BEFORE] = "SELECT id, ts, nick, text, cid FROM ("
		      " SELECT * FROM messages WHERE room = ?1 AND id < ?2"
		      " ORDER BY id DESC LIMIT ?3) ORDER BY id",
	[ST_OLDER_EXISTS] = "SELECT 1 FROM messages WHERE room = ?1 AND id < ?2 "
			    "LIMIT 1",
	[ST_AFTER] = "SELECT id, ts, nick, text, cid FROM messages "
		     "WHERE room = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
	/* The window is the room's newest ?4 ids, found in the same step. */
	[ST_FIND_CID] = "SELECT id, ts, nick, text, cid FROM messages "
			"WHERE room = ?1 AND nick = ?2 AND cid = ?3 AND id > "
			"(SELECT max(id) FROM messages WHERE room = ?1) - ?4 "
			"LIMIT 1",
	[ST_MIN_ID] = "SELECT min(id) FROM messages WHERE room = ?1",
	[ST_TRIM] = "DELETE FROM messages WHERE room = ?1 AND id IN ("
		    " SELECT id FROM messages WHERE room = ?1 AND id <= ?2"
		    " ORDER BY id LIMIT ?3)",
	/* A room with no rows left continues above the floor. */
	[ST_NEXT_BASE] = "SELECT coalesce("
			 "(SELECT max(id) FROM messages WHERE room = ?1),"
			 "(SELECT max_id FROM trim_floor), 0)",
	/* Before ST_TRIM_OLDEST deletes the same ?1 rows: a victim with no
	 * newer row in its room is that room's last, and the room goes. */
	[ST_RAISE_FLOOR] = "UPDATE trim_floor SET max_id = max(max_id,"
			   " coalesce((SELECT max(v.id) FROM ("
			   "  SELECT room, id FROM messages"
			   "  ORDER BY seq LIMIT ?1) AS v"
			   " WHERE NOT EXISTS (SELECT 1 FROM messages AS m"
			   "  WHERE m.room = v.room AND m.id > v.id)), 0))",
	[ST_TRIM_OLDEST] = "DELETE FROM messages WHERE (room, id) IN ("
			   " SELECT room, id FROM messages"
			   " ORDER BY seq LIMIT ?1)",
};

/* Version 1. Each later version adds one step to migrations[]. */
static const char schema_v1[] =
	"CREATE TABLE messages ("
	" room TEXT NOT NULL,"
	" id INTEGER NOT NULL,"
	" ts INTEGER NOT NULL,"
	" nick TEXT NOT NULL,"
	" text TEXT NOT NULL,"
	" cid TEXT,"
	" PRIMARY KEY (room, id)) WITHOUT ROWID;"
	"CREATE INDEX messages_by_cid ON messages (room, nick, cid)"
	" WHERE cid IS NOT NULL;";

/*
 * Version 2: seq orders all rows by insertion, for --history-max-total, and
 * trim_floor keeps the highest id of a room that trimming emptied, so that
 * the room's ids go on rising without a row per room forever. Version 1 rows
 * are numbered by time, each room's in id order (a running max of ts), since
 * the trim relies on a room losing its rows oldest id first.
 */
static const char schema_v2[] =
	"ALTER TABLE messages ADD COLUMN seq INTEGER;"
	"UPDATE messages SET seq = o.n FROM ("
	" SELECT room, id, row_number() OVER (ORDER BY t, room, id) AS n FROM ("
	"  SELECT room, id,"
	"   max(ts) OVER (PARTITION BY room ORDER BY id) AS t"
	"  FROM messages)) AS o"
	" WHERE o.room = messages.room AND o.id = messages.id;"
	"CREATE INDEX messages_by_seq ON messages (seq);"
	"CREATE TABLE trim_floor (max_id INTEGER NOT NULL);"
	"INSERT INTO trim_floor VALUES (0);";

static const char *const migrations[HISTORY_SCHEMA_VERSION] = {
	schema_v1,
	schema_v2,
};

struct history {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	uint64_t max_per_room;
	uint64_t max_total;
	/* Rows stored, the open transaction's included, and as last
	 * committed: counted once at open, then kept up to date, so the
	 * store-wide bound costs no query per message. */
	uint64_t count, committed_count;
	uint64_t appended;  /* rows the open transaction added */
	uint64_t next_seq;
	bool in_tx;
	struct dict touched; /* rooms appended to in the open transaction */
};

static int
exec(struct history *h, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(h->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_err("history: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* Runs a one-number query; -1 with *why set (a static string) on error. */
static int
query_int(sqlite3 *db, const char *sql, sqlite3_int64 *out, const char **why)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		/* errstr, not errmsg: it must outlive the statement. */
		*why = sqlite3_errstr(sqlite3_extended_errcode(db));
		sqlite3_finalize(st);
		return -1;
	}
	*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* Reads the schema version: 0 for a file with no tables at all, -1 when it
 * cannot be read or the file holds someone else's tables. */
static int
read_version(sqlite3 *db, const char **why)
{
	sqlite3_int64 ours, tables, version;

	if (query_int(db,
		      "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
		      "AND name = 'schema_version'",
		      &ours, why) ||
	    query_int(db, "SELECT count(*) FROM sqlite_master", &tables, why))
		return -1;
	if (!ours) {
		if (tables) {
			*why = "not a chatd database (it has other tables)";
			return -1;
		}
		return 0;
	}
	if (query_int(db, "SELECT max(version) FROM schema_version", &version,
		      why))
		return -1;
	if (version < 0 || version > INT_MAX) {
		*why = "bad schema version";
		return -1;
	}
	return (int)version;
}

static int
migrate(struct history *h, int from, char *err, size_t errlen)
{
	char sql[128];

	/* One write transaction: it also proves the file is writable. */
	if (exec(h, "BEGIN IMMEDIATE"))
		goto fail;
	if (from == 0 &&
	    exec(h, "CREATE TABLE schema_version (version INTEGER NOT NULL)"))
		goto rollback;
	for (int v = from; v < HISTORY_SCHEMA_VERSION; v++)
		if (exec(h, migrations[v]))
			goto rollback;
	snprintf(sql, sizeof(sql),
		 "DELETE FROM schema_version; INSERT INTO schema_version "
		 "VALUES (%d)",
		 HISTORY_SCHEMA_VERSION);
	if (exec(h, sql) || exec(h, "COMMIT"))
		goto rollback;
	return 0;
rollback:
	sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
fail:
	snprintf(err, errlen, "cannot write the database: %s",
		 sqlite3_errmsg(h->db));
	return -1;
}

struct history *
history_open(const char *path, uint64_t max_per_room, uint64_t max_total,
	     char *err, size_t errlen)
{
	struct history *h = calloc(1, sizeof(*h));
	const char *why = NULL;
	sqlite3_int64 rows, seq;
	int rc, version;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->max_per_room = max_per_room;
	h->max_total = max_total;
	dict_init(&h->touched, false);

	rc = sqlite3_open_v2(path, &h->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(h->db, 1);
	/* Another process (the sqlite3 CLI, a backup) may hold the write lock
	 * for a moment: wait that long, never longer, on the service thread. */
	sqlite3_busy_timeout(h->db, HISTORY_BUSY_TIMEOUT_MS);
	/* A corrupt or foreign file fails here, before anything is written. */
	version = read_version(h->db, &why);
	if (version < 0) {
		snprintf(err, errlen, "%s is not a usable chatd database: %s",
			 path, why ? why : "unreadable schema version");
		goto fail;
	}
	if (version > HISTORY_SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "%s has schema version %d; this chatd knows up to %d",
			 path, version, HISTORY_SCHEMA_VERSION);
		goto fail;
	}
	/* WAL: a commit is one append to the log, and readers never block.
	 * synchronous=NORMAL makes a commit durable once written to the OS,
	 * which survives the process being killed (not a power cut). */
	if (exec(h, "PRAGMA journal_mode = WAL") ||
	    exec(h, "PRAGMA synchronous = NORMAL") ||
	    exec(h, "PRAGMA foreign_keys = ON")) {
		snprintf(err, errlen, "cannot set up %s: %s", path,
			 sqlite3_errmsg(h->db));
		goto fail;
	}
	/* Always take a write transaction once, even when up to date: a
	 * read-only file or directory is refused now, not at the first
	 * message. */
	if (migrate(h, version, err, errlen))
		goto fail;
	for (int i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(h->db, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &h->st[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", path,
				 sqlite3_errmsg(h->db));
			goto fail;
		}
	/* The one full count; from here on inserts and deletes keep it. */
	if (query_int(h->db, "SELECT count(*) FROM messages", &rows, &why) ||
	    query_int(h->db, "SELECT coalesce(max(seq), 0) FROM messages", &seq,
		      &why)) {
		snprintf(err, errlen, "cannot read %s: %s", path, why);
		goto fail;
	}
	h->count = h->committed_count = (uint64_t)rows;
	h->next_seq = (uint64_t)seq + 1;
	return h;
fail:
	history_close(h);
	return NULL;
}

void
history_close(struct history *h)
{
	if (!h)
		return;
	if (h->in_tx)
		history_commit(h);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(h->st[i]);
	if (h->db)
		sqlite3_close(h->db);
	dict_fini(&h->touched);
	free(h);
}

/* A reset statement with no bindings. */
static sqlite3_stmt *
plain_stmt(struct history *h, enum stmt_id id)
{
	sqlite3_stmt *st = h->st[id];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* A reset statement with room bound as ?1. */
static sqlite3_stmt *
stmt(struct history *h, enum stmt_id id, const char *room)
{
	sqlite3_stmt *st = plain_stmt(h, id);

	sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
	return st;
}

/* The open transaction is gone (rolled back): so is what it changed. */
static void
forget_tx(struct history *h)
{
	h->in_tx = false;
	h->count = h->committed_count;
	h->appended = 0;
	dict_fini(&h->touched);
}

static void
row_to_record(sqlite3_stmt *st, const char *room, struct chat_record *r)
{
	*r = (struct chat_record){
		.room = room,
		.id = (uint64_t)sqlite3_column_int64(st, 0),
		.ts = sqlite3_column_int64(st, 1),
		.nick = (const char *)sqlite3_column_text(st, 2),
		.text = (const char *)sqlite3_column_text(st, 3),
		.text_len = (size_t)sqlite3_column_bytes(st, 3),
		.cid = (const char *)sqlite3_column_text(st, 4),
	};
	if (!r->text)
		r->text = "";
}

int
history_append(struct history *h, const struct chat_record *r)
{
	sqlite3_stmt *st;
	int rc;

	if (!h->in_tx) {
		/* IMMEDIATE: the write lock is taken (or waited for) here,
		 * before anything is read, so a busy database fails this
		 * append alone and leaves no transaction open. */
		rc = sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			log_warn("history: cannot start a write: %s",
				 sqlite3_errmsg(h->db));
			return (rc & 0xff) == SQLITE_BUSY ? -EBUSY : -EIO;
		}
		h->in_tx = true;
	}
	if (!dict_get(&h->touched, r->room) &&
	    dict_set(&h->touched, r->room, h))
		return -ENOMEM;
	st = stmt(h, ST_INSERT, r->room);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)r->id);
	sqlite3_bind_int64(st, 3, r->ts);
	sqlite3_bind_text(st, 4, r->nick, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->text, (int)r->text_len, SQLITE_STATIC);
	if (r->cid)
		sqlite3_bind_text(st, 6, r->cid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)h->next_seq++);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_err("history: insert into %s failed: %s", r->room,
			sqlite3_errmsg(h->db));
		/* Some errors (SQLITE_FULL, IOERR, NOMEM) roll back the whole
		 * transaction: later appends would then autocommit one by one
		 * and the final COMMIT fail. Start afresh instead. */
		if (sqlite3_get_autocommit(h->db)) {
			forget_tx(h);
			return -ECANCELED;
		}
		return -EIO;
	}
	h->count++;
	h->appended++;
	return 0;
}

bool
history_has_pending(const struct history *h)
{
	return h->in_tx;
}

static uint64_t
scalar_u64(struct history *h, enum stmt_id id, const char *room)
{
	sqlite3_stmt *st = stmt(h, id, room);
	uint64_t v = 0;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

/* Deletes one batch of a room's rows beyond the retention bound. */
static void
trim_room(const char *room, void *value, void *ud)
{
	struct history *h = ud;
	uint64_t last = scalar_u64(h, ST_LAST_ID, room), oldest;
	sqlite3_stmt *st;

	if (last <= h->max_per_room)
		return;
	oldest = scalar_u64(h, ST_MIN_ID, room);
	if (oldest > last - h->max_per_room)
		return;
	st = stmt(h, ST_TRIM, room);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(last - h->max_per_room));
	sqlite3_bind_int(st, 3, HISTORY_TRIM_BATCH);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_warn("history: trimming %s failed: %s", room,
			 sqlite3_errmsg(h->db));
	else
		h->count -= (uint64_t)sqlite3_changes(h->db);
	sqlite3_reset(st);
}

/*
 * Deletes the oldest rows of any room beyond the store-wide bound: as many
 * as the transaction added, so a full store never grows, plus a batch, so a
 * store over a lowered bound shrinks a batch per commit.
 */
static void
trim_oldest(struct history *h)
{
	uint64_t n;
	sqlite3_stmt *st;
	int rc;

	if (h->count <= h->max_total)
		return;
	n = h->count - h->max_total;
	if (n > h->appended + HISTORY_TRIM_BATCH)
		n = h->appended + HISTORY_TRIM_BATCH;
	st = plain_stmt(h, ST_RAISE_FLOOR);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	/* Without the floor, an emptied room could reuse its ids. */
	if (rc != SQLITE_DONE) {
		log_warn("history: store-wide trim failed: %s",
			 sqlite3_errmsg(h->db));
		return;
	}
	st = plain_stmt(h, ST_TRIM_OLDEST);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_warn("history: store-wide trim failed: %s",
			 sqlite3_errmsg(h->db));
	else
		h->count -= (uint64_t)sqlite3_changes(h->db);
	sqlite3_reset(st);
}

int
history_commit(struct history *h)
{
	int rc;

	if (!h->in_tx)
		return 0;
	/* Retention rides along in the same transaction, a batch per room,
	 * then the store-wide bound on what the rooms' own left. */
	dict_foreach(&h->touched, trim_room, h);
	trim_oldest(h);
	rc = exec(h, "COMMIT");
	if (rc) {
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		log_err("history: commit failed; its messages were dropped");
		forget_tx(h);
		return rc;
	}
	h->committed_count = h->count;
	h->appended = 0;
	h->in_tx = false;
	dict_fini(&h->touched);
	return 0;
}

uint64_t
history_last_id(struct history *h, const char *room)
{
	return scalar_u64(h, ST_NEXT_BASE, room);
}

void
history_foreach_room(struct history *h,
		     void (*fn)(const char *room, void *ud), void *ud)
{
	char room[NAME_ROOM_MAX + 1] = "";

	for (;;) {
		sqlite3_stmt *st = stmt(h, ST_NEXT_ROOM, room);
		const unsigned char *next;

		if (sqlite3_step(st) != SQLITE_ROW ||
		    !(next = sqlite3_column_text(st, 0)) ||
		    strlen((const char *)next) > NAME_ROOM_MAX) {
			sqlite3_reset(st);
			return;
		}
		snprintf(room, sizeof(room), "%s", (const char *)next);
		sqlite3_reset(st);
		fn(room, ud);
	}
}

uint64_t
history_count(const struct history *h)
{
	return h->count;
}

/* Steps st, visiting each row; returns the number of rows seen. */
static unsigned
visit_rows(struct history *h, sqlite3_stmt *st, const char *room,
	   unsigned max_visits, history_visit_fn fn, void *ud, int *err)
{
	struct chat_record r;
	unsigned n = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ < max_visits) {
			row_to_record(st, room, &r);
			fn(&r, ud);
		}
	}
	if (rc != SQLITE_DONE) {
		log_err("history: query on %s failed: %s", room,
			sqlite3_errmsg(h->db));
		*err = -EIO;
	}
	sqlite3_reset(st);
	return n;
}

/* Passes rows on while noting the first (oldest) id visited. */
struct oldest_probe {
	history_visit_fn fn;
	void *ud;
	uint64_t oldest;
	bool seen;
};

static void
probe_visit(const struct chat_record *r, void *ud)
{
	struct oldest_probe *p = ud;

	if (!p->seen) {
		p->oldest = r->id;
		p->seen = true;
	}
	p->fn(r, p->ud);
}

int
history_before(struct history *h, const char *room, uint64_t before,
	       unsigned limit, history_visit_fn fn, void *ud, bool *more)
{
	sqlite3_stmt *st = stmt(h, ST_BEFORE, room);
	struct oldest_probe probe = { .fn = fn, .ud = ud };
	int err = 0;

	sqlite3_bind_int64(st, 2,
			   before ? (sqlite3_int64)before : INT64_MAX);
	sqlite3_bind_int(st, 3, (int)limit);
	visit_rows(h, st, room, limit, probe_visit, &probe, &err);
	*more = false;
	/* Older ones exist below the oldest visited, or below the bound
	 * itself when nothing was asked for (limit 0). */
	if (!err && (probe.seen || !limit)) {
		st = stmt(h, ST_OLDER_EXISTS, room);
		sqlite3_bind_int64(st, 2,
				   probe.seen ? (sqlite3_int64)probe.oldest
				   : before   ? (sqlite3_int64)before
					      : INT64_MAX);
		*more = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
	}
	return err;
}

int
history_after(struct history *h, const char *room, uint64_t since,
	      unsigned limit, history_visit_fn fn, void *ud, bool *more)
{
	sqlite3_stmt *st = stmt(h, ST_AFTER, room);
	int err = 0;
	unsigned n;

	sqlite3_bind_int64(st, 2, (sqlite3_int64)since);
	/* One row beyond the limit tells whether the replay is truncated. */
	sqlite3_bind_int64(st, 3, (sqlite3_int64)limit + 1);
	n = visit_rows(h, st, room, limit, fn, ud, &err);
	*more = n > limit;
	return err;
}

int
history_find_cid(struct history *h, const char *room, const char *nick,
		 const char *cid, history_visit_fn fn, void *ud)
{
	sqlite3_stmt *st = stmt(h, ST_FIND_CID, room);
	int err = 0;
	unsigned n;

	sqlite3_bind_text(st, 2, nick, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, cid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, HISTORY_CID_WINDOW);
	n = visit_rows(h, st, room, 1, fn, ud, &err);
	return err ? err : n > 0;
}
