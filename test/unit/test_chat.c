/*
 * chat, as seen by its dialects: a room's chat message is framed once per
 * dialect its members speak (the socket.io frame built when the first
 * socket.io member comes up, never when none is there) and that one frame
 * is queued for each of them; socket.io sessions get no v1 frame at all
 * (welcome, joined, history, presence, errors); their requests are stored
 * and fanned out like v1 ones, and their errors go to the dialect's hook.
 * A real chat on an in-memory history, with a fake transport.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "config.h"
#include "history.h"
#include "msg.h"
#include "session.h"
#include "socketio.h"

#define NATIVES 3
#define SIOS 4

struct fx {
	struct config cfg;
	struct history *h;
	struct chat c;
	struct session native[NATIVES], sio[SIOS];
	unsigned framed; /* calls of the dialect's message hook */
};

static struct fx *cur;

static void
fake_wake(struct session *s)
{
	(void)s;
}

static void
fake_close(struct session *s)
{
	(void)s;
}

static void
fake_schedule_flush(struct chat *c)
{
	(void)c;
}

static void
fake_pause(struct session *s, bool paused)
{
	(void)s;
	(void)paused;
}

/* socket.io's own hooks, with the message hook counted. */
static struct msg *
counted_message(struct msg *m)
{
	cur->framed++;
	return socketio_dialect.message(m);
}

static struct chat_dialect counted;

static const struct chat_transport transport = {
	.wake = fake_wake,
	.close = fake_close,
	.schedule_flush = fake_schedule_flush,
	.pause = fake_pause,
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char *argv[] = { "chatd", NULL };
	char err[256];

	if (!fx || config_parse(&fx->cfg, 1, argv, err, sizeof(err)))
		return -1;
	fx->cfg.rate = 0;
	fx->h = history_open(":memory:", 1000, 1000, err, sizeof(err));
	if (!fx->h)
		return -1;
	cur = fx;
	counted = socketio_dialect;
	counted.message = counted_message;
	chat_init(&fx->c, &fx->cfg, &transport, fx->h);
	fx->c.dialects[SESSION_SOCKETIO] = &counted;
	for (int i = 0; i < NATIVES; i++)
		if (chat_connect(&fx->c, &fx->native[i], NULL, NULL))
			return -1;
	for (int i = 0; i < SIOS; i++) {
		fx->sio[i].dialect = SESSION_SOCKETIO;
		if (chat_connect(&fx->c, &fx->sio[i], NULL, NULL) ||
		    chat_enter(&fx->sio[i]))
			return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	for (int i = 0; i < NATIVES; i++)
		chat_disconnect(&fx->native[i]);
	for (int i = 0; i < SIOS; i++)
		chat_disconnect(&fx->sio[i]);
	chat_fini(&fx->c);
	history_close(fx->h);
	free(fx);
	cur = NULL;
	assert_int_equal(msg_live_count(), 0);
	return 0;
}

static struct msg *
last_queued(const struct session *s)
{
	return s->q.count ? msgq_peek_at(&s->q, s->q.count - 1) : NULL;
}

static void
drop_queue(struct session *s)
{
	struct msg *m;

	while ((m = msgq_pop(&s->q)))
		msg_unref(m);
}

static void
say(struct session *s, const char *json)
{
	assert_int_equal(chat_receive(s, json, strlen(json)), 0);
}

/* Only the chat message, and the same msg for every socket.io member. */
static void
assert_sio_got_only(struct fx *fx, const char *frame)
{
	struct msg *first = last_queued(&fx->sio[0]);

	assert_non_null(first);
	assert_string_equal((const char *)msg_payload(first), frame);
	for (int i = 0; i < SIOS; i++) {
		assert_int_equal(fx->sio[i].q.count, 1);
		assert_ptr_equal(last_queued(&fx->sio[i]), first);
	}
	assert_int_equal(first->refs, SIOS);
}

/* Joining sent the v1 sessions their welcome, joined, history and the
 * others' presence; socket.io sessions got none of it. */
static void
test_chat_sio_sessions_get_no_v1_frames(void **state)
{
	struct fx *fx = *state;

	for (int i = 0; i < SIOS; i++)
		assert_true(msgq_is_empty(&fx->sio[i].q));
	/* welcome, joined, history, then presence joins of those after it
	 * (v1 and socket.io alike: they are members of the lobby). */
	assert_int_equal(fx->native[0].q.count, 3 + NATIVES - 1 + SIOS);
	assert_int_equal(fx->framed, 0);
}

static void
test_chat_message_is_framed_once_per_dialect(void **state)
{
	struct fx *fx = *state;
	struct msg *v1;

	for (int i = 0; i < NATIVES; i++)
		drop_queue(&fx->native[i]);
	say(&fx->native[1], "{\"type\":\"message\",\"text\":\"hi <&> \\\"x\\\"\"}");
	assert_int_equal(fx->framed, 0); /* nothing before the commit */
	chat_flush(&fx->c);
	assert_int_equal(fx->framed, 1);
	assert_sio_got_only(fx, "42[\"chat message\",\"hi \\u003c\\u0026\\u003e "
				"\\\"x\\\"\"]");
	v1 = last_queued(&fx->native[0]);
	assert_non_null(v1);
	assert_non_null(strstr((const char *)msg_payload(v1),
			       "\"type\":\"message\""));
	for (int i = 0; i < NATIVES; i++)
		assert_ptr_equal(last_queued(&fx->native[i]), v1);
}

/* A socket.io client's chat message is stored and fanned out like a v1
 * one, to both dialects; an error of its goes to the dialect. */
static void
test_chat_sio_request_is_a_message(void **state)
{
	struct fx *fx = *state;
	struct request req = { .type = REQ_MESSAGE, .text = "from sio",
			       .text_len = 8 };
	struct msg *v1;

	chat_request(&fx->sio[2], &req, NULL, NULL);
	chat_flush(&fx->c);
	assert_int_equal(fx->framed, 1);
	assert_sio_got_only(fx, "42[\"chat message\",\"from sio\"]");
	v1 = last_queued(&fx->native[0]);
	assert_non_null(strstr((const char *)msg_payload(v1),
			       "\"text\":\"from sio\""));
	assert_non_null(strstr((const char *)msg_payload(v1),
			       fx->sio[2].nick));
	for (int i = 0; i < SIOS; i++)
		drop_queue(&fx->sio[i]);
	/* Refused without an ack: nothing at all. With one: the ack. */
	req.text_len = 0;
	chat_request(&fx->sio[2], &req, NULL, NULL);
	assert_true(msgq_is_empty(&fx->sio[2].q));
	fx->sio[2].sio.acking = true;
	fx->sio[2].sio.ack_id = 12;
	chat_request(&fx->sio[2], &req, NULL, NULL);
	assert_false(fx->sio[2].sio.acking);
	assert_string_equal((const char *)msg_payload(last_queued(&fx->sio[2])),
			    "4312[{\"status\":\"error\",\"code\":\"empty\","
			    "\"message\":\"message text is empty\"}]");
	chat_flush(&fx->c);
	assert_int_equal(fx->framed, 1);
}

/* A room without socket.io members costs no socket.io frame. */
static void
test_chat_no_sio_member_no_sio_frame(void **state)
{
	struct fx *fx = *state;

	say(&fx->native[0], "{\"type\":\"join\",\"room\":\"elsewhere\"}");
	say(&fx->native[0],
	    "{\"type\":\"message\",\"room\":\"elsewhere\",\"text\":\"x\"}");
	chat_flush(&fx->c);
	assert_int_equal(fx->framed, 0);
	for (int i = 0; i < SIOS; i++)
		assert_true(msgq_is_empty(&fx->sio[i].q));
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_chat_sio_sessions_get_no_v1_frames),
		T(test_chat_message_is_framed_once_per_dialect),
		T(test_chat_sio_request_is_a_message),
		T(test_chat_no_sio_member_no_sio_frame),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
