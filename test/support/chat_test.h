/*
 * The chat-protocol vocabulary of the integration tests: a per-test (or
 * per-group) chatd fixture for cmocka, and expectations on v1 frames
 * (welcome, joined, history, message, presence, error) that fail the test
 * at the caller's line with the frame that was seen instead.
 */
#ifndef CHAT_TEST_CHAT_TEST_H
#define CHAT_TEST_CHAT_TEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "chatd_fixture.h"
#include "http_client.h"
#include "ws_client.h"

#define CHAT_TIMEOUT_MS 5000 /* any expected frame; generous for ASan */
#define CHAT_QUIET_MS 300    /* "nothing more arrives" window */
#define CHAT_NICK_MAX 32
#define CHAT_ROOM_MAX 64

#define CHAT_UNUSED __attribute__((unused))

/* Fails the test at file:line (a helper's caller) with a printf message. */
#define FAIL_AT(file, line, ...)                                              \
	do {                                                                  \
		print_error("%s:%d: ", (file), (line));                       \
		print_error(__VA_ARGS__);                                     \
		print_error("\n");                                            \
		_fail((file), (line));                                        \
	} while (0)

struct chat_fixture {
	struct chatd d;
	int started, finished; /* test bodies entered and completed */
};

/*
 * cmocka setup/teardown: start chatd with the default flags plus args
 * (NULL-terminated, may be NULL) into *state; stop it with SIGTERM and fail
 * unless it exits 0 within 5 s. When a test body did not complete (it
 * failed), teardown prints the server's logs.
 */
int chat_fixture_setup(void **state, const char *const *args);
int chat_fixture_teardown(void **state);

/*
 * Defines a cmocka test whose body sees `fx` (struct chat_fixture *) and
 * `port`, and records completion for chat_fixture_teardown.
 */
#define CHAT_TEST(name)                                                       \
	static void name##_body(struct chat_fixture *fx CHAT_UNUSED,          \
				int port CHAT_UNUSED);                        \
	static void name(void **state)                                        \
	{                                                                     \
		struct chat_fixture *fx_ = *state;                            \
		fx_->started++;                                               \
		name##_body(fx_, fx_->d.port);                                \
		fx_->finished++;                                              \
	}                                                                     \
	static void name##_body(struct chat_fixture *fx CHAT_UNUSED,          \
				int port CHAT_UNUSED)

/* ---- JSON field access (fail the test when missing or mistyped) -------- */

#define jstr(o, key) jstr_at(__FILE__, __LINE__, (o), (key))
#define jint(o, key) jint_at(__FILE__, __LINE__, (o), (key))
#define jarr(o, key) jarr_at(__FILE__, __LINE__, (o), (key))
const char *jstr_at(const char *file, int line, const json_t *o,
		    const char *key);
json_int_t jint_at(const char *file, int line, const json_t *o,
		   const char *key);
json_t *jarr_at(const char *file, int line, const json_t *o, const char *key);
/* The string value of key, or NULL when absent or not a string. */
const char *jstr_opt(const json_t *o, const char *key);
/* True when the array holds the string s (exact match). */
bool json_array_has_string(const json_t *arr, const char *s);
/* Compact text of a value for messages (static buffer, truncated). */
const char *json_brief(const json_t *j);

/* ---- sessions -------------------------------------------------------- */

/*
 * Connects and checks the greeting, in order: welcome (room "lobby", a valid
 * nick), joined lobby (members include that nick), history lobby. The nick
 * goes to nick_out (CHAT_NICK_MAX + 1 bytes) when given.
 */
#define chat_connect(port, nick_out)                                          \
	chat_connect_at(__FILE__, __LINE__, (port), (nick_out), NULL)
#define chat_connect_opts(port, nick_out, opts)                               \
	chat_connect_at(__FILE__, __LINE__, (port), (nick_out), (opts))
struct ws_client *chat_connect_at(const char *file, int line, int port,
				  char *nick_out,
				  const struct ws_connect_opts *opts);

/*
 * Connects n sessions one after the other; each earlier one must then see
 * exactly the presence joins (lobby) of the later ones, in order.
 * nicks is n * (CHAT_NICK_MAX + 1) bytes.
 */
#define chat_connect_many(port, n, cs, nicks)                                 \
	chat_connect_many_at(__FILE__, __LINE__, (port), (n), (cs), (nicks))
void chat_connect_many_at(const char *file, int line, int port, size_t n,
			  struct ws_client **cs,
			  char (*nicks)[CHAT_NICK_MAX + 1]);
void chat_close_all(struct ws_client **cs, size_t n);

/*
 * Sends a join (nick and since optional: NULL / < 0) and checks that the
 * next frames are joined then history for room. Returns the history frame
 * (caller decrefs); *joined_out receives the joined frame when given.
 */
#define chat_join(c, room) chat_join_at(__FILE__, __LINE__, (c), (room), NULL, -1, NULL)
#define chat_join_ex(c, room, nick, since, joined_out)                        \
	chat_join_at(__FILE__, __LINE__, (c), (room), (nick), (since),        \
		     (joined_out))
json_t *chat_join_at(const char *file, int line, struct ws_client *c,
		     const char *room, const char *nick, long long since,
		     json_t **joined_out);

/* Sends a leave of room and checks that the next frame is its "left". */
#define chat_leave(c, room) chat_leave_at(__FILE__, __LINE__, (c), (room))
void chat_leave_at(const char *file, int line, struct ws_client *c,
		   const char *room);

/* Sends {"type":"nick","nick":nick,"cid":cid?}; the answer is the
 * caller's to read. */
#define chat_send_nick(c, nick, cid)                                          \
	chat_send_nick_at(__FILE__, __LINE__, (c), (nick), (cid))
void chat_send_nick_at(const char *file, int line, struct ws_client *c,
		       const char *nick, const char *cid);

/* Sends {"type":"message","text":text,"room":room?,"cid":cid?}. */
#define chat_say(c, room, text, cid)                                          \
	chat_say_at(__FILE__, __LINE__, (c), (room), (text), (cid))
void chat_say_at(const char *file, int line, struct ws_client *c,
		 const char *room, const char *text, const char *cid);

/*
 * The next frame must be a message; each non-NULL argument must match, and
 * id, ts must be positive integers. cid NULL means "must be absent".
 * Returns the frame (caller decrefs).
 */
#define chat_expect_msg(c, room, nick, text, cid)                             \
	chat_expect_msg_at(__FILE__, __LINE__, (c), (room), (nick), (text),   \
			   (cid), WS_STRICT)
/* Same, but frames of other types (presence, typing...) are skipped. */
#define chat_wait_msg(c, room, nick, text, cid)                               \
	chat_expect_msg_at(__FILE__, __LINE__, (c), (room), (nick), (text),   \
			   (cid), WS_SKIP)
json_t *chat_expect_msg_at(const char *file, int line, struct ws_client *c,
			   const char *room, const char *nick,
			   const char *text, const char *cid, int flags);
/* Checks that m is a well-formed message object (fields and types). */
#define chat_check_msg(m) chat_check_msg_at(__FILE__, __LINE__, (m))
void chat_check_msg_at(const char *file, int line, const json_t *m);

/* The next frame must be an error with code (and cid, NULL: absent). */
#define chat_expect_error(c, code, cid)                                       \
	chat_expect_error_at(__FILE__, __LINE__, (c), (code), (cid))
void chat_expect_error_at(const char *file, int line, struct ws_client *c,
			  const char *code, const char *cid);
/* The next frame must be an error whose code is one of `codes` (a
 * '|'-separated list, e.g. "bad_request|bad_room"); cid is not checked. */
#define chat_expect_error_any(c, codes)                                       \
	chat_expect_error_any_at(__FILE__, __LINE__, (c), (codes))
void chat_expect_error_any_at(const char *file, int line, struct ws_client *c,
			      const char *codes);

/* The next frame must be this presence event (old NULL: absent). */
#define chat_expect_presence(c, room, event, nick, old)                       \
	chat_expect_presence_at(__FILE__, __LINE__, (c), (room), (event),     \
				(nick), (old))
void chat_expect_presence_at(const char *file, int line, struct ws_client *c,
			     const char *room, const char *event,
			     const char *nick, const char *old);

/* Nothing at all arrives within ms (and the connection stays open). */
#define chat_expect_quiet(c, ms)                                              \
	chat_expect_quiet_at(__FILE__, __LINE__, (c), (ms))
void chat_expect_quiet_at(const char *file, int line, struct ws_client *c,
			  int ms);

/*
 * Barrier: sends a fresh text to room (NULL: current room) and checks that
 * the very next frame is that message. Proves the connection is alive and
 * that nothing else was queued for it before. Returns the message id.
 */
#define chat_roundtrip(c, room) chat_roundtrip_at(__FILE__, __LINE__, (c), (room))
json_int_t chat_roundtrip_at(const char *file, int line, struct ws_client *c,
			     const char *room);

/* Nick / room rule of docs/protocol.md: 1..max of [A-Za-z0-9_.-]. */
bool chat_name_is_valid(const char *s, size_t max);

/* Current wall clock in epoch milliseconds. */
long long chat_now_ms(void);

/*
 * A fresh temp dir for a history file that outlives one chatd (restarts):
 * cmocka setup/teardown putting a struct chat_db_dir in *state, and a
 * start that adds its --db (plus one extra flag, may be NULL).
 */
struct chat_db_dir {
	char dir[64];
	char db[128];
	char arg[160]; /* "--db=PATH" */
};
int chat_db_dir_setup(void **state);
int chat_db_dir_teardown(void **state);
void chat_db_dir_start(struct chatd *s, const struct chat_db_dir *d,
		       const char *extra);

/* Raises RLIMIT_NOFILE's soft limit to at least n (up to the hard one). */
void chat_raise_nofile(long n);

#endif
