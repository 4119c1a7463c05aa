/*
 * Chat-protocol test vocabulary (see chat_test.h). Every expectation fails
 * at the caller's file:line and prints the frame it saw instead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

static unsigned long roundtrip_seq;

/* ---- fixture --------------------------------------------------------- */

int
chat_fixture_setup(void **state, const char *const *args)
{
	struct chat_fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	if (chatd_start(&fx->d, args) < 0) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

int
chat_fixture_teardown(void **state)
{
	struct chat_fixture *fx = *state;
	int st;

	if (!fx)
		return 0;
	if (fx->started != fx->finished)
		chatd_dump_logs(&fx->d, "a test failed while this server ran");
	st = chatd_stop(&fx->d);
	free(fx);
	*state = NULL;
	if (st != 0) {
		print_error("chatd did not exit 0 within %d ms of SIGTERM "
			    "(status %d)\n", CHATD_STOP_TIMEOUT_MS, st);
		return -1;
	}
	return 0;
}

/* ---- JSON helpers ---------------------------------------------------- */

const char *
json_brief(const json_t *j)
{
	static char buf[1200];
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	snprintf(buf, sizeof(buf), "%s", s ? s : "(null)");
	if (s && strlen(s) >= sizeof(buf))
		memcpy(buf + sizeof(buf) - 4, "...", 4);
	free(s);
	return buf;
}

const char *
jstr_at(const char *file, int line, const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		FAIL_AT(file, line, "\"%s\" is not a string in %s", key,
			json_brief(o));
	return json_string_value(v);
}

json_int_t
jint_at(const char *file, int line, const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		FAIL_AT(file, line, "\"%s\" is not an integer in %s", key,
			json_brief(o));
	return json_integer_value(v);
}

json_t *
jarr_at(const char *file, int line, const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_array(v))
		FAIL_AT(file, line, "\"%s\" is not an array in %s", key,
			json_brief(o));
	return v;
}

const char *
jstr_opt(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

bool
json_array_has_string(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

bool
chat_name_is_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n < 1 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
		      ch == '-'))
			return false;
	}
	return true;
}

long long
chat_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
chat_raise_nofile(long n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || (long)rl.rlim_cur >= n)
		return;
	rl.rlim_cur = (rlim_t)n;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* ---- sessions -------------------------------------------------------- */

static void
expect_str_eq(const char *file, int line, const json_t *o, const char *key,
	      const char *want)
{
	const char *got = jstr_at(file, line, o, key);

	if (strcmp(got, want) != 0)
		FAIL_AT(file, line, "\"%s\" is \"%s\", expected \"%s\" in %s",
			key, got, want, json_brief(o));
}

static void
check_history_frame(const char *file, int line, const json_t *h,
		    const char *room)
{
	json_t *msgs, *m, *more;
	json_int_t prev = 0;
	size_t i;

	expect_str_eq(file, line, h, "room", room);
	msgs = jarr_at(file, line, h, "messages");
	more = json_object_get(h, "more");
	if (!json_is_boolean(more))
		FAIL_AT(file, line, "history without a boolean \"more\": %s",
			json_brief(h));
	json_array_foreach(msgs, i, m) {
		chat_check_msg_at(file, line, m);
		expect_str_eq(file, line, m, "room", room);
		json_int_t id = jint_at(file, line, m, "id");
		if (id <= prev)
			FAIL_AT(file, line, "history ids not increasing "
				"(%lld after %lld) in %s", (long long)id,
				(long long)prev, json_brief(h));
		prev = id;
	}
}

struct ws_client *
chat_connect_at(const char *file, int line, int port, char *nick_out,
		const struct ws_connect_opts *opts)
{
	struct ws_client *c = ws_connect_opts(port, opts);
	json_t *w, *j, *h;
	const char *nick;

	if (!c)
		FAIL_AT(file, line, "could not connect to 127.0.0.1:%d", port);
	w = ws_expect_type_at(file, line, c, "welcome", CHAT_TIMEOUT_MS,
			      WS_STRICT);
	expect_str_eq(file, line, w, "room", "lobby");
	nick = jstr_at(file, line, w, "nick");
	if (!chat_name_is_valid(nick, CHAT_NICK_MAX))
		FAIL_AT(file, line, "welcome nick breaks the nick rule: %s",
			json_brief(w));
	if (nick_out)
		snprintf(nick_out, CHAT_NICK_MAX + 1, "%s", nick);
	j = ws_expect_type_at(file, line, c, "joined", CHAT_TIMEOUT_MS,
			      WS_STRICT);
	expect_str_eq(file, line, j, "room", "lobby");
	if (!json_array_has_string(jarr_at(file, line, j, "members"), nick))
		FAIL_AT(file, line, "joined lobby without own nick %s: %s",
			nick, json_brief(j));
	h = ws_expect_type_at(file, line, c, "history", CHAT_TIMEOUT_MS,
			      WS_STRICT);
	check_history_frame(file, line, h, "lobby");
	json_decref(w);
	json_decref(j);
	json_decref(h);
	return c;
}

void
chat_connect_many_at(const char *file, int line, int port, size_t n,
		     struct ws_client **cs, char (*nicks)[CHAT_NICK_MAX + 1])
{
	for (size_t i = 0; i < n; i++) {
		cs[i] = chat_connect_at(file, line, port, nicks[i], NULL);
		for (size_t k = 0; k < i; k++)
			chat_expect_presence_at(file, line, cs[k], "lobby",
						"join", nicks[i], NULL);
	}
}

void
chat_close_all(struct ws_client **cs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ws_close(cs[i]);
		cs[i] = NULL;
	}
}

json_t *
chat_join_at(const char *file, int line, struct ws_client *c, const char *room,
	     const char *nick, long long since, json_t **joined_out)
{
	json_t *req = json_pack("{s:s, s:s}", "type", "join", "room", room);
	json_t *j, *h;

	if (nick)
		json_object_set_new(req, "nick", json_string(nick));
	if (since >= 0)
		json_object_set_new(req, "since", json_integer(since));
	if (ws_send_json(c, req) < 0)
		FAIL_AT(file, line, "sending join %s failed", room);
	json_decref(req);
	j = ws_expect_type_at(file, line, c, "joined", CHAT_TIMEOUT_MS,
			      nick ? WS_SKIP : WS_STRICT);
	expect_str_eq(file, line, j, "room", room);
	jarr_at(file, line, j, "members");
	h = ws_expect_type_at(file, line, c, "history", CHAT_TIMEOUT_MS,
			      WS_STRICT);
	check_history_frame(file, line, h, room);
	if (joined_out)
		*joined_out = j;
	else
		json_decref(j);
	return h;
}

void
chat_leave_at(const char *file, int line, struct ws_client *c,
	      const char *room)
{
	json_t *m;

	if (ws_send_pack(c, "{s:s, s:s}", "type", "leave", "room", room) < 0)
		FAIL_AT(file, line, "sending leave %s failed", room);
	m = ws_expect_type_at(file, line, c, "left", CHAT_TIMEOUT_MS,
			      WS_STRICT);
	expect_str_eq(file, line, m, "room", room);
	json_decref(m);
}

void
chat_send_nick_at(const char *file, int line, struct ws_client *c,
		  const char *nick, const char *cid)
{
	json_t *req = json_pack("{s:s, s:s}", "type", "nick", "nick", nick);

	if (!req)
		FAIL_AT(file, line, "cannot build a nick request");
	if (cid)
		json_object_set_new(req, "cid", json_string(cid));
	if (ws_send_json(c, req) < 0)
		FAIL_AT(file, line, "sending nick %s failed", nick);
	json_decref(req);
}

void
chat_say_at(const char *file, int line, struct ws_client *c, const char *room,
	    const char *text, const char *cid)
{
	json_t *req = json_pack("{s:s, s:s}", "type", "message", "text", text);

	if (!req)
		FAIL_AT(file, line, "text is not valid UTF-8");
	if (room)
		json_object_set_new(req, "room", json_string(room));
	if (cid)
		json_object_set_new(req, "cid", json_string(cid));
	if (ws_send_json(c, req) < 0)
		FAIL_AT(file, line, "sending a message failed");
	json_decref(req);
}

void
chat_check_msg_at(const char *file, int line, const json_t *m)
{
	json_t *cid;

	if (!json_is_object(m))
		FAIL_AT(file, line, "not a message object: %s", json_brief(m));
	expect_str_eq(file, line, m, "type", "message");
	if (!chat_name_is_valid(jstr_at(file, line, m, "room"), CHAT_ROOM_MAX))
		FAIL_AT(file, line, "bad room in %s", json_brief(m));
	if (jint_at(file, line, m, "id") < 1)
		FAIL_AT(file, line, "id < 1 in %s", json_brief(m));
	jstr_at(file, line, m, "nick");
	jstr_at(file, line, m, "text");
	/* ts: epoch ms, so after 2020 and before 2100. */
	json_int_t ts = jint_at(file, line, m, "ts");
	if (ts < 1577836800000LL || ts > 4102444800000LL)
		FAIL_AT(file, line, "ts is not epoch ms: %s", json_brief(m));
	cid = json_object_get(m, "cid");
	if (cid && !json_is_string(cid))
		FAIL_AT(file, line, "cid is not a string: %s", json_brief(m));
}

json_t *
chat_expect_msg_at(const char *file, int line, struct ws_client *c,
		   const char *room, const char *nick, const char *text,
		   const char *cid, int flags)
{
	json_t *m = ws_expect_type_at(file, line, c, "message",
				      CHAT_TIMEOUT_MS, flags);

	chat_check_msg_at(file, line, m);
	if (room)
		expect_str_eq(file, line, m, "room", room);
	if (nick)
		expect_str_eq(file, line, m, "nick", nick);
	if (text) {
		json_t *t = json_object_get(m, "text");

		if (json_string_length(t) != strlen(text) ||
		    memcmp(json_string_value(t), text, strlen(text)) != 0)
			FAIL_AT(file, line, "text differs: expected %s in %s",
				text, json_brief(m));
	}
	if (cid)
		expect_str_eq(file, line, m, "cid", cid);
	else if (json_object_get(m, "cid"))
		FAIL_AT(file, line, "unexpected cid in %s", json_brief(m));
	return m;
}

void
chat_expect_error_at(const char *file, int line, struct ws_client *c,
		     const char *code, const char *cid)
{
	json_t *e = ws_expect_type_at(file, line, c, "error", CHAT_TIMEOUT_MS,
				      WS_STRICT);

	expect_str_eq(file, line, e, "code", code);
	if (!*jstr_at(file, line, e, "message"))
		FAIL_AT(file, line, "error with an empty message: %s",
			json_brief(e));
	if (cid)
		expect_str_eq(file, line, e, "cid", cid);
	else if (json_object_get(e, "cid"))
		FAIL_AT(file, line, "unexpected cid in %s", json_brief(e));
	json_decref(e);
}

void
chat_expect_error_any_at(const char *file, int line, struct ws_client *c,
			 const char *codes)
{
	json_t *e = ws_expect_type_at(file, line, c, "error", CHAT_TIMEOUT_MS,
				      WS_STRICT);
	const char *code = jstr_at(file, line, e, "code");
	size_t n = strlen(code);
	const char *p = codes;
	bool found = false;

	while (*p && !found) {
		size_t len = strcspn(p, "|");

		found = len == n && !strncmp(p, code, n);
		p += len;
		if (*p == '|')
			p++;
	}
	if (!found) {
		char buf[1200];

		snprintf(buf, sizeof(buf), "%s", json_brief(e));
		json_decref(e);
		FAIL_AT(file, line, "error code not in {%s}: %s", codes, buf);
	}
	if (!*jstr_at(file, line, e, "message"))
		FAIL_AT(file, line, "error with an empty message: %s",
			json_brief(e));
	json_decref(e);
}

void
chat_expect_presence_at(const char *file, int line, struct ws_client *c,
			const char *room, const char *event, const char *nick,
			const char *old)
{
	json_t *p = ws_expect_type_at(file, line, c, "presence",
				      CHAT_TIMEOUT_MS, WS_STRICT);

	expect_str_eq(file, line, p, "room", room);
	expect_str_eq(file, line, p, "event", event);
	expect_str_eq(file, line, p, "nick", nick);
	if (old)
		expect_str_eq(file, line, p, "old", old);
	else if (json_object_get(p, "old"))
		FAIL_AT(file, line, "unexpected \"old\" in %s", json_brief(p));
	json_decref(p);
}

void
chat_expect_quiet_at(const char *file, int line, struct ws_client *c, int ms)
{
	json_t *j = ws_recv_json(c, ms);

	if (j) {
		char buf[1200];

		snprintf(buf, sizeof(buf), "%s", json_brief(j));
		json_decref(j);
		FAIL_AT(file, line, "expected no frame for %d ms, got %s", ms,
			buf);
	}
	if (ws_is_closed(c))
		FAIL_AT(file, line, "connection closed (code %d) while it "
			"should stay open", ws_close_code(c));
}

json_int_t
chat_roundtrip_at(const char *file, int line, struct ws_client *c,
		  const char *room)
{
	char text[64];
	json_t *m;
	json_int_t id;

	snprintf(text, sizeof(text), "barrier-%lu-%lld", ++roundtrip_seq,
		 chat_now_ms());
	chat_say_at(file, line, c, room, text, NULL);
	m = chat_expect_msg_at(file, line, c, room, NULL, text, NULL,
			       WS_STRICT);
	id = jint_at(file, line, m, "id");
	json_decref(m);
	return id;
}

int
chat_db_dir_setup(void **state)
{
	struct chat_db_dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	strcpy(d->dir, "/tmp/chatd-db-XXXXXX");
	if (!mkdtemp(d->dir)) {
		free(d);
		return -1;
	}
	snprintf(d->db, sizeof(d->db), "%s/chat.db", d->dir);
	snprintf(d->arg, sizeof(d->arg), "--db=%s", d->db);
	*state = d;
	return 0;
}

int
chat_db_dir_teardown(void **state)
{
	struct chat_db_dir *d = *state;
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	if (system(cmd) != 0)
		return -1;
	free(d);
	return 0;
}

void
chat_db_dir_start(struct chatd *s, const struct chat_db_dir *d,
		  const char *extra)
{
	const char *args[] = { d->arg, extra, NULL };

	if (chatd_start(s, args))
		fail_msg("chatd did not start with %s", d->arg);
}
