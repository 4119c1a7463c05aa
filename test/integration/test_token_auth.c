/*
 * Token auth (--jwt-secret-file): every WebSocket handshake needs an HS256
 * token in ?token= or the chat_token cookie (the query wins), else 401
 * before the upgrade: missing, malformed, badly signed, expired, not yet
 * valid, alg none, an RS256 header. The token's sub is the nick (nick
 * requests get forbidden), its rooms bound the joins (forbidden), and
 * several connections of one sub are one person: one nick, listed once,
 * presence only for the first in and the last out. Static files and
 * /healthz need no token. Tokens are minted here (test/support/jwt_mint.c).
 * One chatd for the group; the start-up checks run their own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "chat_test.h"
#include "jwt_mint.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "integration-secret-0123456789abcdef-xyz"
#define SECRET_LEN (sizeof(SECRET) - 1)
#define RUN_TIMEOUT_MS 20000

static char secret_dir[64];
static char secret_path[128];

/* Writes the secret (plus a newline, which is not part of it) with mode
 * into path. */
static void
write_secret(const char *path, const char *secret, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t n = strlen(secret);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, secret, n), (ssize_t)n);
	assert_int_equal(write(fd, "\n", 1), 1);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int
group_setup(void **state)
{
	const char *args[] = {"--jwt-secret-file", secret_path, NULL};

	strcpy(secret_dir, "/tmp/chat-token-XXXXXX");
	if (!mkdtemp(secret_dir))
		return -1;
	snprintf(secret_path, sizeof(secret_path), "%s/secret", secret_dir);
	write_secret(secret_path, SECRET, 0600);
	return chat_fixture_setup(state, args);
}

static int
group_teardown(void **state)
{
	static const char *const files[] = {"secret", "jwt.secret", "loose",
					    "empty"};
	int rc = chat_fixture_teardown(state);
	char path[160];

	/* Also what a failed test left behind. */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", secret_dir, files[i]);
		unlink(path);
	}
	rmdir(secret_dir);
	return rc;
}

/* ---- tokens ---- */

/* A valid token for sub, good for an hour, with extra claims (",..."). */
static char *
token(const char *sub, const char *extra)
{
	char payload[1024];

	snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":%lld%s}",
		 sub, mint_now() + 3600, extra ? extra : "");
	return mint_hs256(payload, SECRET, SECRET_LEN);
}

/* ---- handshakes ---- */

struct answer {
	int status;
	char text[8192]; /* head and body */
	const char *body;
};

/*
 * A WebSocket upgrade of path (with query) and extra header lines, read
 * as plain HTTP: a refusal is read to the server's close, a 101 up to the
 * end of its head. Fills a; returns its status.
 */
static int
upgrade(int port, const char *path, const char *headers, struct answer *a)
{
	int fd = tcp_connect_loopback(port, 0, CHAT_TIMEOUT_MS);
	long long deadline = monotonic_ms() + CHAT_TIMEOUT_MS;
	char req[8192];
	size_t got = 0;
	char *end;
	int n;

	memset(a, 0, sizeof(*a));
	a->status = -1;
	assert_true(fd >= 0);
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\n"
		     "Host: 127.0.0.1:%d\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "Sec-WebSocket-Protocol: chat\r\n"
		     "%s\r\n",
		     path, port, headers ? headers : "");
	assert_true(n > 0 && (size_t)n < sizeof(req));
	assert_int_equal(write(fd, req, (size_t)n), n);
	while (got < sizeof(a->text) - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - monotonic_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		r = read(fd, a->text + got, sizeof(a->text) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		a->text[got] = '\0';
		if (!strncmp(a->text, "HTTP/1.1 101", 12) &&
		    strstr(a->text, "\r\n\r\n"))
			break;
	}
	close(fd);
	if (sscanf(a->text, "HTTP/1.1 %d", &a->status) != 1)
		fail_msg("no HTTP answer to GET %s: '%s'", path, a->text);
	end = strstr(a->text, "\r\n\r\n");
	a->body = end ? end + 4 : "";
	return a->status;
}

/* The upgrade with token in the query must get 401 whose body says why. */
static void
expect_401(int port, const char *tok, const char *why)
{
	char path[4096];
	struct answer a;
	char auth[128];

	snprintf(path, sizeof(path), "/chat?token=%s", tok);
	if (upgrade(port, path, NULL, &a) != 401)
		fail_msg("token %.60s...: status %d, expected 401 (%s)", tok,
			 a.status, why);
	if (!strstr(a.body, why))
		fail_msg("401 body '%s' does not say '%s'", a.body, why);
	if (!net_header_value(a.text, "www-authenticate", auth, sizeof(auth)) ||
	    strncmp(auth, "Bearer", 6))
		fail_msg("401 without WWW-Authenticate: Bearer: %s", a.text);
}

/* A chat session from a token in the query (tok) and/or a cookie (ck,
 * a Cookie header value); checks welcome and its first room. */
static struct ws_client *
connect_as(int port, const char *tok, const char *ck, const char *nick,
	   const char *room)
{
	char path[4096] = "/chat", headers[4096] = "";
	struct ws_connect_opts o = {.path = path, .headers = headers};
	struct ws_client *c;
	json_t *w, *j, *h;

	if (tok)
		snprintf(path, sizeof(path), "/chat?token=%s", tok);
	if (ck)
		snprintf(headers, sizeof(headers), "Cookie: %s\r\n", ck);
	c = ws_connect_opts(port, &o);
	if (!c)
		fail_msg("handshake as %s refused", nick);
	w = ws_expect_type(c, "welcome", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(w, "nick"), nick);
	assert_string_equal(jstr(w, "room"), room);
	j = ws_expect_type(c, "joined", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(j, "room"), room);
	h = ws_expect_type(c, "history", CHAT_TIMEOUT_MS, WS_STRICT);
	json_decref(w);
	json_decref(j);
	json_decref(h);
	return c;
}

static struct ws_client *
connect_sub(int port, const char *sub)
{
	char *t = token(sub, NULL);
	struct ws_client *c = connect_as(port, t, NULL, sub, "lobby");

	free(t);
	return c;
}

/* The nick the server puts on c's messages. */
static void
expect_nick(struct ws_client *c, const char *nick)
{
	json_t *m;

	chat_say(c, NULL, "who am I", NULL);
	m = ws_expect_type(c, "message", CHAT_TIMEOUT_MS, WS_STRICT);
	assert_string_equal(jstr(m, "nick"), nick);
	json_decref(m);
}

/* ---- tests ---- */

CHAT_TEST(test_token_query_token_makes_sub_the_nick)
{
	struct ws_client *c = connect_sub(port, "alice");

	expect_nick(c, "alice");
	ws_close(c);
}

CHAT_TEST(test_token_missing_is_401_before_the_upgrade)
{
	struct answer a;

	assert_int_equal(upgrade(port, "/chat", NULL, &a), 401);
	assert_non_null(strstr(a.body, "no token"));
	/* An empty parameter or another one is no token either. */
	assert_int_equal(upgrade(port, "/chat?token=", NULL, &a), 401);
	assert_int_equal(upgrade(port, "/chat?tokens=x&t=1", NULL, &a), 401);
	assert_int_equal(upgrade(port, "/chat", "Cookie: other=1\r\n", &a),
			 401);
	/* The plain client sees the same refusal. */
	assert_null(ws_connect(port));
}

CHAT_TEST(test_token_expired_is_401)
{
	char payload[256], *t;

	snprintf(payload, sizeof(payload),
		 "{\"sub\":\"alice\",\"exp\":%lld,\"iat\":%lld}",
		 mint_now() - 3600, mint_now() - 7200);
	t = mint_hs256(payload, SECRET, SECRET_LEN);
	expect_401(port, t, "token expired");
	free(t);
	/* exp is required. */
	t = mint_hs256("{\"sub\":\"alice\"}", SECRET, SECRET_LEN);
	expect_401(port, t, "claims");
	free(t);
}

CHAT_TEST(test_token_not_yet_valid_is_401)
{
	char *t;
	char extra[64];

	snprintf(extra, sizeof(extra), ",\"nbf\":%lld", mint_now() + 3600);
	t = token("alice", extra);
	expect_401(port, t, "token not yet valid");
	free(t);
	/* A few seconds of clock skew are fine. */
	snprintf(extra, sizeof(extra), ",\"nbf\":%lld", mint_now() + 5);
	t = token("nbf-ok", extra);
	ws_close(connect_as(port, t, NULL, "nbf-ok", "lobby"));
	free(t);
}

CHAT_TEST(test_token_bad_signature_is_401)
{
	char *other = mint_hs256("{\"sub\":\"alice\",\"exp\":9999999999}",
				 "not-the-secret", 14);
	char *good = token("alice", NULL);
	char *admin = token("admin", NULL);
	char forged[2048];

	expect_401(port, other, "bad token signature");
	/* admin's payload under alice's signature. */
	snprintf(forged, sizeof(forged), "%.*s%s",
		 (int)(strrchr(admin, '.') - admin), admin, strrchr(good, '.'));
	expect_401(port, forged, "bad token signature");
	/* A signature cut short. */
	snprintf(forged, sizeof(forged), "%.*s", (int)strlen(good) - 4, good);
	expect_401(port, forged, "bad token signature");
	free(other);
	free(good);
	free(admin);
}

CHAT_TEST(test_token_alg_none_is_401)
{
	char *bare = mint_token("{\"alg\":\"none\",\"typ\":\"JWT\"}",
				"{\"sub\":\"alice\",\"exp\":9999999999}", NULL,
				0);
	char *signed_none = mint_token("{\"alg\":\"none\"}",
				       "{\"sub\":\"alice\",\"exp\":9999999999}",
				       SECRET, SECRET_LEN);

	expect_401(port, bare, "not HS256");
	expect_401(port, signed_none, "not HS256");
	free(bare);
	free(signed_none);
}

CHAT_TEST(test_token_alg_confusion_rs256_header_is_401)
{
	/* An RS256 header over an HMAC keyed with the secret: what a server
	 * that took its key for a public key and the algorithm from the token
	 * would accept. Also HS512 and a lower-case alg. */
	static const char *const headers[] = {
		"{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
		"{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
	};

	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		char *t = mint_token(headers[i],
				     "{\"sub\":\"alice\",\"exp\":9999999999}",
				     SECRET, SECRET_LEN);

		expect_401(port, t, "not HS256");
		free(t);
	}
}

CHAT_TEST(test_token_malformed_or_bad_sub_is_401)
{
	char *t;

	expect_401(port, "garbage", "malformed token");
	expect_401(port, "a.b.c", "malformed token");
	/* sub must be a valid nick. */
	t = token("not a nick", NULL);
	expect_401(port, t, "claims");
	free(t);
	t = token("abcdefghijabcdefghijabcdefghijabc", NULL); /* 33 */
	expect_401(port, t, "claims");
	free(t);
}

CHAT_TEST(test_token_rooms_claim_makes_other_rooms_forbidden)
{
	char *t = token("gina", ",\"rooms\":[\"lobby\",\"ops\"]");
	char *u = token("hank", ",\"rooms\":[\"ops\",\"dev\"]");
	struct ws_client *g = connect_as(port, t, NULL, "gina", "lobby");
	struct ws_client *h;

	json_decref(chat_join(g, "ops"));
	ws_send_pack(g, "{s:s, s:s, s:s}", "type", "join", "room", "secret",
		     "cid", "c1");
	chat_expect_error(g, "forbidden", "c1");
	/* Nothing was joined: a message to it is not_in_room. */
	ws_send_pack(g, "{s:s, s:s, s:s}", "type", "message", "room",
		     "secret", "text", "hi");
	chat_expect_error(g, "not_in_room", NULL);
	/* Without the lobby in its list, a session starts in the first
	 * room listed, and the lobby is forbidden too. */
	h = connect_as(port, u, NULL, "hank", "ops");
	chat_expect_presence(g, "ops", "join", "hank", NULL);
	ws_send_pack(h, "{s:s, s:s}", "type", "join", "room", "lobby");
	chat_expect_error(h, "forbidden", NULL);
	json_decref(chat_join(h, "dev"));
	chat_roundtrip(h, "ops");
	ws_close(g);
	ws_close(h);
	free(t);
	free(u);
}

/* The next text message of a socket.io client must start with prefix. */
static void
sio_expect_prefix(struct ws_client *c, const char *prefix)
{
	struct ws_msg m;

	assert_int_equal(ws_recv_msg(c, &m, CHAT_TIMEOUT_MS), WS_OK);
	if (strncmp(m.data, prefix, strlen(prefix)))
		fail_msg("expected '%s...', got '%s'", prefix, m.data);
	ws_msg_fini(&m);
}

/* A socket.io handshake needs a token too; with one, the client is its
 * sub, in its token's first room. */
CHAT_TEST(test_token_socketio_clients_need_one_too)
{
	char *t = token("ivy", ",\"rooms\":[\"ops\"]");
	char *u = token("jay", ",\"rooms\":[\"ops\"]");
	char path[4096];
	struct ws_connect_opts o = { .path = path, .subprotocol = "" };
	struct ws_client *j = connect_as(port, u, NULL, "jay", "ops");
	struct ws_client *s;
	struct answer a;
	json_t *m;

	assert_int_equal(upgrade(port, "/socket.io/?EIO=4&transport=websocket",
				 NULL, &a),
			 401);
	snprintf(path, sizeof(path),
		 "/socket.io/?EIO=4&transport=websocket&token=%s", t);
	s = ws_connect_opts(port, &o);
	assert_non_null(s);
	sio_expect_prefix(s, "0{");
	assert_int_equal(ws_send_text(s, "40"), 0);
	sio_expect_prefix(s, "40{");
	chat_expect_presence(j, "ops", "join", "ivy", NULL);
	assert_int_equal(ws_send_text(s, "42[\"chat message\",\"hi\"]"), 0);
	sio_expect_prefix(s, "42[\"chat message\",\"hi\"]");
	m = chat_expect_msg(j, "ops", "ivy", "hi", NULL);
	json_decref(m);
	ws_close(s);
	ws_close(j);
	free(t);
	free(u);
}

CHAT_TEST(test_token_nick_requests_are_forbidden)
{
	struct ws_client *c = connect_sub(port, "ivan");

	ws_send_pack(c, "{s:s, s:s}", "type", "nick", "nick", "mallory");
	chat_expect_error(c, "forbidden", NULL);
	/* The same nick, or one in other letters' case: refused all the
	 * same; the token says who this is. */
	ws_send_pack(c, "{s:s, s:s}", "type", "nick", "nick", "IVAN");
	chat_expect_error(c, "forbidden", NULL);
	/* A join that carries a nick fails whole. */
	ws_send_pack(c, "{s:s, s:s, s:s, s:s}", "type", "join", "room", "r2",
		     "nick", "mallory", "cid", "j1");
	chat_expect_error(c, "forbidden", "j1");
	chat_roundtrip(c, NULL);
	expect_nick(c, "ivan");
	ws_close(c);
}

CHAT_TEST(test_token_cookie_works_and_the_query_wins)
{
	char *q = token("query-user", NULL), *k = token("cookie-user", NULL);
	char ck[2048], path[2048];
	struct answer a;

	snprintf(ck, sizeof(ck), "theme=dark; chat_token=%s; x=1", k);
	/* The cookie alone. */
	ws_close(connect_as(port, NULL, ck, "cookie-user", "lobby"));
	/* Both: the query parameter wins. */
	ws_close(connect_as(port, q, ck, "query-user", "lobby"));
	/* Even when the query's token is bad: it is the one looked at. */
	snprintf(path, sizeof(path), "/chat?token=%.*sXX",
		 (int)strlen(q) - 2, q);
	snprintf(ck, sizeof(ck), "Cookie: chat_token=%s\r\n", k);
	assert_int_equal(upgrade(port, path, ck, &a), 401);
	/* An empty parameter ("?token=") is no token: the cookie is used. */
	snprintf(ck, sizeof(ck), "chat_token=%s", k);
	ws_close(connect_as(port, "", ck, "cookie-user", "lobby"));
	/* A cookie of another name holding a good token is not it. */
	snprintf(ck, sizeof(ck), "Cookie: xchat_token=%s\r\n", k);
	assert_int_equal(upgrade(port, "/chat", ck, &a), 401);
	free(q);
	free(k);
}

/* Members of a joined frame: n, and how often nick is among them. */
static size_t
count_member(const json_t *joined, const char *nick)
{
	const json_t *members = json_object_get(joined, "members"), *v;
	size_t i, n = 0;

	json_array_foreach(members, i, v)
		if (!strcmp(json_string_value(v), nick))
			n++;
	return n;
}

CHAT_TEST(test_token_tabs_of_one_sub_are_one_person)
{
	struct ws_client *bob = connect_sub(port, "bob");
	struct ws_client *tab1, *tab2, *erin;
	char *t = token("dana", NULL);
	json_t *j, *m;

	tab1 = connect_as(port, t, NULL, "dana", "lobby");
	chat_expect_presence(bob, "lobby", "join", "dana", NULL);
	/* The second tab: same nick, no presence for anyone. */
	{
		char path[2048];
		struct ws_connect_opts o = {.path = path};
		json_t *w;

		snprintf(path, sizeof(path), "/chat?token=%s", t);
		tab2 = ws_connect_opts(port, &o);
		assert_non_null(tab2);
		w = ws_expect_type(tab2, "welcome", CHAT_TIMEOUT_MS, WS_STRICT);
		assert_string_equal(jstr(w, "nick"), "dana");
		json_decref(w);
		j = ws_expect_type(tab2, "joined", CHAT_TIMEOUT_MS, WS_STRICT);
		assert_int_equal(count_member(j, "dana"), 1);
		assert_int_equal(count_member(j, "bob"), 1);
		assert_int_equal(json_array_size(json_object_get(j, "members")),
				 2);
		assert_int_equal(jint(j, "count"), 2);
		json_decref(j);
		json_decref(ws_expect_type(tab2, "history", CHAT_TIMEOUT_MS,
					   WS_STRICT));
	}
	chat_expect_quiet(bob, CHAT_QUIET_MS);
	chat_expect_quiet(tab1, CHAT_QUIET_MS);
	/* Either tab speaks as dana, and both tabs hear it. */
	chat_say(tab2, NULL, "from tab 2", NULL);
	for (int i = 0; i < 3; i++) {
		struct ws_client *c = i == 0 ? tab2 : i == 1 ? tab1 : bob;

		m = chat_expect_msg(c, "lobby", "dana", "from tab 2", NULL);
		json_decref(m);
	}
	/* Both tabs join another room: one presence join there. */
	json_decref(chat_join(bob, "kitchen"));
	json_decref(chat_join(tab1, "kitchen"));
	chat_expect_presence(bob, "kitchen", "join", "dana", NULL);
	json_decref(chat_join_ex(tab2, "kitchen", NULL, -1, &j));
	assert_int_equal(count_member(j, "dana"), 1);
	assert_int_equal(jint(j, "count"), 2);
	json_decref(j);
	chat_expect_quiet(bob, CHAT_QUIET_MS);
	/* A newcomer sees dana once. */
	erin = connect_sub(port, "erin");
	chat_expect_presence(bob, "lobby", "join", "erin", NULL);
	chat_expect_presence(tab1, "lobby", "join", "erin", NULL);
	chat_expect_presence(tab2, "lobby", "join", "erin", NULL);
	json_decref(chat_join_ex(erin, "kitchen", NULL, -1, &j));
	assert_int_equal(count_member(j, "dana"), 1);
	assert_int_equal(jint(j, "count"), 3);
	json_decref(j);
	chat_expect_presence(bob, "kitchen", "join", "erin", NULL);
	chat_expect_presence(tab1, "kitchen", "join", "erin", NULL);
	chat_expect_presence(tab2, "kitchen", "join", "erin", NULL);
	/* One tab leaves a room, then closes: dana is still there. */
	ws_send_pack(tab1, "{s:s, s:s}", "type", "leave", "room", "kitchen");
	json_decref(ws_expect_type(tab1, "left", CHAT_TIMEOUT_MS, WS_STRICT));
	ws_close(tab1);
	chat_expect_quiet(bob, CHAT_QUIET_MS);
	chat_expect_quiet(erin, CHAT_QUIET_MS);
	/* The last tab goes: dana leaves each room. */
	ws_close(tab2);
	chat_expect_presence(bob, "kitchen", "leave", "dana", NULL);
	chat_expect_presence(bob, "lobby", "leave", "dana", NULL);
	/* And the nick is free for its next first tab. */
	ws_close(connect_as(port, t, NULL, "dana", "lobby"));
	ws_close(erin);
	ws_close(bob);
	free(t);
}

CHAT_TEST(test_token_sub_in_other_case_is_409)
{
	struct ws_client *f = connect_sub(port, "Frank");
	char *t = token("frank", NULL), path[2048];
	struct answer a;

	snprintf(path, sizeof(path), "/chat?token=%s", t);
	assert_int_equal(upgrade(port, path, NULL, &a), 409);
	ws_close(f);
	free(t);
}

CHAT_TEST(test_token_static_files_and_healthz_need_none)
{
	struct http_response r;

	assert_int_equal(http_get(port, "/", CHAT_TIMEOUT_MS, &r), 0);
	assert_int_equal(r.status, 200);
	http_response_fini(&r);
	assert_int_equal(http_get(port, "/js/protocol.js", CHAT_TIMEOUT_MS, &r),
			 0);
	assert_int_equal(r.status, 200);
	http_response_fini(&r);
	assert_int_equal(http_get(port, "/healthz", CHAT_TIMEOUT_MS, &r), 0);
	assert_int_equal(r.status, 200);
	http_response_fini(&r);
}

/* The README's minting line (the one running "openssl dgst"), malloc'd. */
static char *
readme_mint_line(void)
{
	const char *www = getenv("CHAT_WWW");
	char path[512], *text, *at, *start, *end, *line;

	assert_non_null(www);
	snprintf(path, sizeof(path), "%s/../README.md", www);
	text = read_file_all(path, NULL);
	if (!text)
		fail_msg("cannot read %s", path);
	at = strstr(text, "openssl dgst -sha256 -hmac");
	if (!at)
		fail_msg("README.md has no openssl minting line");
	for (start = at; start > text && start[-1] != '\n'; start--)
		;
	while (*start == ' ' || *start == '\t')
		start++;
	end = strchr(at, '\n');
	line = strndup(start, end ? (size_t)(end - start) : strlen(start));
	free(text);
	return line;
}

CHAT_TEST(test_token_readme_openssl_line_works)
{
	char secret[160], cmd[4096], tok[1024] = "";
	char *line = readme_mint_line();
	FILE *f;
	int fd;

	/* What `openssl rand -hex 32 > jwt.secret` leaves: text and a
	 * newline; the server's file holds the same. */
	snprintf(secret, sizeof(secret), "%s/jwt.secret", secret_dir);
	fd = open(secret, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, SECRET "\n", SECRET_LEN + 1),
			 (ssize_t)SECRET_LEN + 1);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s", secret_dir, line);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (!fgets(tok, sizeof(tok), f))
		tok[0] = '\0';
	if (pclose(f) != 0 || !*tok)
		fail_msg("the README line failed (is openssl installed? "
			 "scripts/install-deps.sh): %s",
			 line);
	tok[strcspn(tok, "\n")] = '\0';
	ws_close(connect_as(port, tok, NULL, "alice", "lobby"));
	unlink(secret);
	free(line);
}

/* ---- start-up ---- */

/* chatd with these extra flags and environment must exit 2 with one line
 * naming --jwt-secret-file and saying `why`. */
static void
expect_startup_error(const char *const *args, const char *const *env,
		     const char *why)
{
	struct chatd_opts o = {.args = args, .env = env};
	char *err = NULL;
	int st = chatd_run(&o, RUN_TIMEOUT_MS, NULL, &err);
	size_t len = err ? strlen(err) : 0;

	if (st != 2 || !err || !strstr(err, "--jwt-secret-file") ||
	    !strstr(err, why))
		fail_msg("exit %d, stderr '%s': expected 2 and a line naming "
			 "--jwt-secret-file (%s)",
			 st, err ? err : "", why);
	while (len && err[len - 1] == '\n')
		len--;
	if (memchr(err, '\n', len))
		fail_msg("not one line: '%s'", err);
	free(err);
}

CHAT_TEST(test_token_bad_secret_file_exits_2)
{
	char missing[160], empty[160], env[200];
	int fd;

	snprintf(missing, sizeof(missing), "%s/nope", secret_dir);
	expect_startup_error(
		(const char *const[]){"--jwt-secret-file", missing, NULL}, NULL,
		"No such file");
	/* The variable names the file just as the flag does. */
	snprintf(env, sizeof(env), "CHAT_JWT_SECRET=%s", missing);
	expect_startup_error(NULL, (const char *const[]){env, NULL},
			     "No such file");
	snprintf(empty, sizeof(empty), "%s/empty", secret_dir);
	fd = open(empty, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\n", 1), 1);
	close(fd);
	expect_startup_error(
		(const char *const[]){"--jwt-secret-file", empty, NULL}, NULL,
		"empty");
	unlink(empty);
}

CHAT_TEST(test_token_secret_readable_by_others_is_a_warning)
{
	char loose[160], env[200];
	struct chatd d;
	struct chatd_opts o = {0};
	char *err = NULL;
	long long deadline;
	char *t;

	snprintf(loose, sizeof(loose), "%s/loose", secret_dir);
	write_secret(loose, SECRET, 0644);
	/* Set through the variable this time. */
	snprintf(env, sizeof(env), "CHAT_JWT_SECRET=%s", loose);
	o.env = (const char *const[]){env, NULL};
	assert_int_equal(chatd_spawn(&d, &o), 0);
	/* It serves: the warning is logged, not fatal. */
	t = token("loose", NULL);
	ws_close(connect_as(d.port, t, NULL, "loose", "lobby"));
	assert_null(ws_connect(d.port));
	deadline = monotonic_ms() + CHAT_TIMEOUT_MS;
	do {
		free(err);
		err = chatd_stderr(&d);
	} while ((!err || !strstr(err, "group or others")) &&
		 monotonic_ms() < deadline && usleep(20000) == 0);
	if (!err || !strstr(err, "warn") || !strstr(err, loose) ||
	    !strstr(err, "group or others"))
		fail_msg("no warning naming %s: %s", loose, err ? err : "");
	/* The secret itself is never logged. */
	assert_null(strstr(err, SECRET));
	free(err);
	free(t);
	assert_int_equal(chatd_stop(&d), 0);
	unlink(loose);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_query_token_makes_sub_the_nick),
		cmocka_unit_test(test_token_missing_is_401_before_the_upgrade),
		cmocka_unit_test(test_token_expired_is_401),
		cmocka_unit_test(test_token_not_yet_valid_is_401),
		cmocka_unit_test(test_token_bad_signature_is_401),
		cmocka_unit_test(test_token_alg_none_is_401),
		cmocka_unit_test(test_token_alg_confusion_rs256_header_is_401),
		cmocka_unit_test(test_token_malformed_or_bad_sub_is_401),
		cmocka_unit_test(
			test_token_rooms_claim_makes_other_rooms_forbidden),
		cmocka_unit_test(test_token_socketio_clients_need_one_too),
		cmocka_unit_test(test_token_nick_requests_are_forbidden),
		cmocka_unit_test(test_token_cookie_works_and_the_query_wins),
		cmocka_unit_test(test_token_tabs_of_one_sub_are_one_person),
		cmocka_unit_test(test_token_sub_in_other_case_is_409),
		cmocka_unit_test(test_token_static_files_and_healthz_need_none),
		cmocka_unit_test(test_token_readme_openssl_line_works),
		cmocka_unit_test(test_token_bad_secret_file_exits_2),
		cmocka_unit_test(
			test_token_secret_readable_by_others_is_a_warning),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
