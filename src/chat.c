/*
 * Protocol v1 request handling: sessions, nicks, rooms, fan-out, history
 * replay. Every frame is encoded once into c->out, copied once into a msg,
 * and that one msg is queued for every recipient; a chat message is framed
 * once more for each other dialect its room's members speak (socket.io),
 * whose sessions get nothing else (struct chat_dialect).
 */
#include "chat.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "history.h"
#include "jwt.h"
#include "log.h"
#include "msg.h"
#include "name.h"
#include "nicks.h"
#include "ratelimit.h"
#include "replay.h"
#include "room.h"
#include "session.h"
#include "utf8.h"

void
chat_init(struct chat *c, const struct config *cfg,
	  const struct chat_transport *t, struct history *h)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*c = (struct chat){
		.cfg = cfg,
		.transport = *t,
		.history = h,
		.next_session_id = 1,
		.rng = (uint32_t)(ts.tv_nsec ^ ts.tv_sec ^ getpid()) | 1,
	};
	dict_init(&c->rooms, false);
	dict_init(&c->nicks, true);
	jbuf_init(&c->out);
	replay_init(&c->replay);
}

static void
free_room(const char *name, void *value, void *ud)
{
	room_free(value);
}

void
chat_fini(struct chat *c)
{
	chat_flush(c);
	free(c->pending);
	dict_foreach(&c->rooms, free_room, NULL);
	dict_fini(&c->rooms);
	dict_fini(&c->nicks);
	jbuf_fini(&c->out);
	replay_fini(&c->replay);
}

int64_t
chat_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- sending ---- */

/* The frame in c->out as a msg: NULL when out of memory (logged). */
static struct msg *
frame(struct chat *c)
{
	struct msg *m = c->out.oom ? NULL : msg_new(c->out.data, c->out.len);

	if (!m)
		log_warn("out of memory building a frame; dropped");
	return m;
}

static void
send_out(struct session *s)
{
	struct msg *m = frame(s->chat);

	if (m) {
		session_send(s, m);
		msg_unref(m);
	}
}

/* Queues m for every member of r except `except` (may be NULL). */
static void
broadcast(struct room *r, struct msg *m, struct session *except)
{
	/* session_send may close a slow member, which does not change the
	 * member list until its CLOSED callback, so the walk stays valid. */
	for (unsigned i = 0; i < r->nmembers; i++)
		if (r->members[i] != except)
			session_send(r->members[i], m);
}

/*
 * A chat message to every member of r, counted once for all of them, each
 * in its own dialect: m for v1 sessions; for another dialect one frame of
 * its own, built when the first member speaking it comes up (none when
 * nobody does), then shared by reference like m.
 */
static void
deliver(struct chat *c, struct room *r, struct msg *m)
{
	struct msg *frames[SESSION_DIALECTS] = { [SESSION_NATIVE] = m };
	bool asked[SESSION_DIALECTS] = { [SESSION_NATIVE] = true };

	/* As in broadcast(), a member closed as a slow consumer stays in the
	 * list until its CLOSED callback. */
	for (unsigned i = 0; i < r->nmembers; i++) {
		struct session *s = r->members[i];
		unsigned d = s->dialect;

		if (!asked[d]) {
			asked[d] = true;
			frames[d] = c->dialects[d] ? c->dialects[d]->message(m)
						   : NULL;
			if (!frames[d])
				log_warn("room %s: a message could not be "
					 "framed for every dialect; not "
					 "delivered to some members",
					 r->name);
		}
		if (frames[d])
			session_queue(s, frames[d]);
	}
	for (unsigned d = SESSION_NATIVE + 1; d < SESSION_DIALECTS; d++)
		msg_unref(frames[d]);
	c->stats.deliveries += r->nmembers;
}

static void
broadcast_out(struct chat *c, struct room *r, struct session *except)
{
	struct msg *m = frame(c);

	if (m) {
		broadcast(r, m, except);
		msg_unref(m);
	}
}

static void
send_error(struct session *s, const char *code, const char *text,
	   const char *cid)
{
	const struct chat_dialect *d = s->chat->dialects[s->dialect];

	/* Another dialect says it its own way (socket.io: in an ack). */
	if (d) {
		d->error(s, code, text);
		return;
	}
	json_error(&s->chat->out, code, text, cid);
	send_out(s);
}

/* ---- rooms ---- */

static struct room *
find_room(struct chat *c, const char *name)
{
	return dict_get(&c->rooms, name);
}

static struct room *
get_room(struct chat *c, const char *name)
{
	struct room *r = find_room(c, name);

	if (r)
		return r;
	/* Ids continue from the stored history, never reused. */
	r = room_new(name, history_last_id(c->history, name));
	if (!r)
		return NULL;
	if (dict_set(&c->rooms, r->name, r)) {
		room_free(r);
		return NULL;
	}
	return r;
}

static void
drop_room_if_empty(struct chat *c, struct room *r)
{
	if (room_is_empty(r)) {
		dict_del(&c->rooms, r->name);
		room_free(r);
	}
}

static void
list_remote_member(const char *nick, void *ud)
{
	json_joined_member(ud, nick);
}

/* In cluster mode the members on other instances are listed and counted
 * too (cluster_foreach_member). */
static void
send_joined(struct session *s, struct room *r)
{
	struct chat *c = s->chat;
	struct jbuf *b = &c->out;
	unsigned remote = c->cluster ? (unsigned)cluster_foreach_member(
					       c->cluster, r->name, NULL, NULL)
				     : 0;

	json_joined_begin(b, r->name);
	if (r->nmembers + remote <= CHAT_ROOM_LIST_MAX) {
		for (unsigned i = 0; i < r->nmembers; i++)
			if (nicks_listed_at(r->members[i], r))
				json_joined_member(b, r->members[i]->nick);
		if (remote)
			cluster_foreach_member(c->cluster, r->name,
					       list_remote_member, b);
	}
	json_joined_end(b, r->npeople + remote);
	send_out(s);
}

/*
 * A history frame takes at most half of the asker's send queue, as
 * docs/protocol.md promises; a request for one waits (must_wait, stall)
 * until the queue has room, so asking never gets a client culled.
 */
static size_t
history_frame_cap(const struct session *s)
{
	return s->q.max_bytes / 2;
}

/* Room for a history frame and the joined frame and live traffic around
 * it: the queue is at most a quarter full. */
static bool
history_fits(const struct session *s)
{
	return s->q.bytes <= s->q.max_bytes / 4;
}

/* Builds a history frame for room into c->out: messages after `since` when
 * after is true, else the newest before `before`. */
static void
build_history(struct session *s, struct room *r, bool after, uint64_t from,
	      unsigned limit)
{
	struct chat *c = s->chat;

	replay_build(&c->replay, &c->out, c->history, r->name, after, from,
		     limit, history_frame_cap(s));
}

static void
send_history_after(struct session *s, struct room *r, uint64_t since)
{
	build_history(s, r, true, since, CHAT_SINCE_LIMIT);
	send_out(s);
}

static void
send_history_before(struct session *s, struct room *r, uint64_t before,
		    unsigned limit)
{
	build_history(s, r, false, before, limit);
	send_out(s);
}

/*
 * Whether s may join room `name` as far as limits go; when not, the error
 * is sent (if report) and false returned. Checked before anything changes,
 * so that a join with a nick changes nothing when it fails.
 */
static bool
join_allowed(struct session *s, const char *name, const char *cid, bool report)
{
	struct chat *c = s->chat;
	struct room *r = find_room(c, name);

	if (r && session_in_room(s, r))
		return true;
	if (s->claims && !jwt_claims_allow_room(s->claims, name)) {
		if (report)
			send_error(s, "forbidden",
				   "your token does not allow that room", cid);
		return false;
	}
	if (s->nrooms >= SESSION_MAX_ROOMS) {
		if (report)
			send_error(s, "bad_request", "too many rooms joined",
				   cid);
		return false;
	}
	/* The lobby is where every client starts: always allowed. */
	if (!r && c->rooms.count >= c->cfg->max_rooms &&
	    strcmp(name, CHAT_LOBBY)) {
		if (report)
			send_error(s, "too_many_rooms",
				   "the server has as many rooms as it allows",
				   cid);
		return false;
	}
	return true;
}

/* Joins s to room `name`; sends joined + history, presence to the others. */
static int
join_room(struct session *s, const char *name, bool has_since, uint64_t since,
	  const char *cid)
{
	struct chat *c = s->chat;
	struct room *r = find_room(c, name);
	bool fresh = !r || !session_in_room(s, r), first;

	if (!join_allowed(s, name, cid, true))
		return 0;
	r = get_room(c, name);
	if (!r)
		return -ENOMEM;
	if (fresh && room_add(r, s)) {
		drop_room_if_empty(c, r);
		return -ENOMEM;
	}
	if (session_enter_room(s, r)) {
		if (fresh) {
			room_remove(r, s);
			drop_room_if_empty(c, r);
		}
		return -ENOMEM;
	}
	if (fresh && c->cluster)
		cluster_joined(c->cluster, s, r->name);
	/* Another tab of the same person already there: nobody new. */
	first = fresh && !nicks_shared_in(s, r);
	if (first)
		r->npeople++;
	/* Other dialects have no joined or history frames: not even built
	 * (the history costs a read). */
	if (s->dialect == SESSION_NATIVE) {
		send_joined(s, r);
		if (has_since)
			send_history_after(s, r, since);
		else
			send_history_before(s, r, 0, c->cfg->history);
	}
	/* The person may be here already through another instance. */
	if (first && r->nmembers <= CHAT_ROOM_LIST_MAX &&
	    !(c->cluster && cluster_room_has_nick(c->cluster, r->name, s->nick))) {
		json_presence(&c->out, r->name, "join", s->nick, NULL);
		broadcast_out(c, r, s);
	}
	return 0;
}

static void
leave_room(struct session *s, struct room *r, bool tell_leaver)
{
	struct chat *c = s->chat;
	bool last;

	if (c->cluster)
		cluster_left(c->cluster, s, r->name);
	room_remove(r, s);
	session_exit_room(s, r);
	/* The person stays while another of its tabs is still there. */
	last = !nicks_shared_in(s, r);
	if (last)
		r->npeople--;
	if (tell_leaver) {
		json_left(&c->out, r->name);
		send_out(s);
	}
	if (last && r->nmembers < CHAT_ROOM_LIST_MAX &&
	    !(c->cluster && cluster_room_has_nick(c->cluster, r->name, s->nick))) {
		json_presence(&c->out, r->name, "leave", s->nick, NULL);
		broadcast_out(c, r, NULL);
	}
	drop_room_if_empty(c, r);
}

/* ---- nicks ---- */

static uint32_t
next_random(struct chat *c)
{
	/* xorshift32: guest names only need to look random. */
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 17;
	c->rng ^= c->rng << 5;
	return c->rng;
}

/* Cluster mode: 48 random bits, so that instances choosing guest names
 * on their own, each unique here, do not meet (at 10,000 guests the odds
 * of any two alike are about 1 in 5 million); Redis registers them too. */
static void
cluster_guest_nick(struct chat *c, struct session *s)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint64_t)next_random(c) << 32 | next_random(c);
	snprintf(s->nick, sizeof(s->nick), "guest-%012llx",
		 (unsigned long long)(v & 0xffffffffffffull));
}

static int
assign_guest_nick(struct chat *c, struct session *s)
{
	for (int tries = 0; tries < 64; tries++) {
		if (c->cluster)
			cluster_guest_nick(c, s);
		else
			snprintf(s->nick, sizeof(s->nick), "guest-%04x",
				 next_random(c) & 0xffff);
		if (!nicks_holder(&c->nicks, s->nick))
			return nicks_add(&c->nicks, s);
	}
	/* A crowded server: count up from the session id, which is new, to
	 * the first name nobody holds (a user may have picked it). */
	for (uint64_t n = s->id;; n++) {
		snprintf(s->nick, sizeof(s->nick), "guest-%llu",
			 (unsigned long long)n);
		if (!nicks_holder(&c->nicks, s->nick))
			return nicks_add(&c->nicks, s);
	}
}

/* Renames s (nick is free) and tells its rooms; false when an error was
 * sent. */
static bool
apply_nick(struct session *s, const char *nick, const char *cid)
{
	struct chat *c = s->chat;
	char old[sizeof(s->nick)];

	strcpy(old, s->nick);
	if (nicks_rename(&c->nicks, s, nick)) {
		send_error(s, "bad_nick", "server out of memory", cid);
		return false;
	}
	for (unsigned i = 0; i < s->nrooms; i++) {
		json_presence(&c->out, s->rooms[i]->name, "nick", s->nick, old);
		broadcast_out(c, s->rooms[i], NULL);
	}
	return true;
}

/* Validates and applies a nick change; false when an error was sent. In
 * cluster mode a new nick is claimed in Redis first (needs_claim), and
 * this runs once it is s's. */
static bool
change_nick(struct session *s, const char *nick, const char *cid)
{
	struct chat *c = s->chat;
	struct session *owner;

	if (s->claims) {
		send_error(s, "forbidden", "your nick comes from your token",
			   cid);
		return false;
	}
	if (!name_is_valid(nick, NAME_NICK_MAX)) {
		send_error(s, "bad_nick",
			   "nick must be 1 to 32 of A-Z a-z 0-9 _ . -", cid);
		return false;
	}
	owner = nicks_holder(&c->nicks, nick);
	if (owner && owner != s) {
		send_error(s, "nick_taken", "that nick is in use", cid);
		return false;
	}
	if (!strcmp(nick, s->nick))
		return true;
	return apply_nick(s, nick, cid);
}

/* ---- requests ---- */

/* True for a valid room name; otherwise sends bad_room and returns false. */
static bool
room_name_ok(struct session *s, const char *name, const char *cid)
{
	if (name_is_valid(name, NAME_ROOM_MAX))
		return true;
	send_error(s, "bad_room", "room must be 1 to 64 of A-Z a-z 0-9 _ . -",
		   cid);
	return false;
}

/*
 * Resolves the room a request names (or the current room). On failure an
 * error frame is sent and NULL returned.
 */
static struct room *
member_room(struct session *s, const char *name, const char *cid)
{
	struct room *r;

	if (!name) {
		r = session_current_room(s);
		if (!r)
			send_error(s, "not_in_room", "join a room first", cid);
		return r;
	}
	if (!room_name_ok(s, name, cid))
		return NULL;
	r = find_room(s->chat, name);
	if (!r || !session_in_room(s, r)) {
		send_error(s, "not_in_room", "you are not in that room", cid);
		return NULL;
	}
	return r;
}

static int
add_pending(struct chat *c, const char *room, struct msg *m)
{
	if (c->npending == c->pending_cap) {
		unsigned cap = c->pending_cap ? c->pending_cap * 2 : 64;
		struct chat_pending *p = realloc(c->pending, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->pending = p;
		c->pending_cap = cap;
	}
	c->pending[c->npending].m = m;
	strcpy(c->pending[c->npending].room, room);
	if (c->npending++ == 0)
		c->transport.schedule_flush(c);
	return 0;
}

/* Commits what history holds open, then delivers (rc 0) or drops the
 * pending messages. Returns the commit's result. */
static int
flush_batch(struct chat *c, unsigned *count)
{
	unsigned n = c->npending;
	uint64_t start;
	int rc;

	*count = n;
	if (!n && !history_has_pending(c->history))
		return 0;
	/* Taken first: a broadcast can close sessions but never re-enters. */
	c->npending = 0;
	start = monotonic_ns();
	rc = history_commit(c->history);
	chat_stats_count_commit(&c->stats, monotonic_ns() - start);
	for (unsigned i = 0; i < n; i++) {
		/* In cluster mode Redis holds the message already: the local
		 * replica failing does not take it back. */
		struct room *r = rc && !c->cluster
					 ? NULL
					 : find_room(c, c->pending[i].room);

		if (r)
			deliver(c, r, c->pending[i].m);
		msg_unref(c->pending[i].m);
	}
	if (!rc || c->cluster)
		c->stats.messages += n;
	return rc;
}

unsigned
chat_flush(struct chat *c)
{
	unsigned n;

	flush_batch(c, &n);
	return n;
}

/* The open transaction was rolled back under us: its messages are gone. */
static void
drop_pending(struct chat *c)
{
	if (c->npending)
		log_err("%u stored messages were lost with a failed "
			"transaction; not delivered",
			c->npending);
	for (unsigned i = 0; i < c->npending; i++)
		msg_unref(c->pending[i].m);
	c->npending = 0;
}

static void
ignore_record(const struct chat_record *rec, void *ud)
{
}

/* A resend (known cid): the sender alone gets the original back. */
static void
resend_original(const struct chat_record *rec, void *ud)
{
	struct session *s = ud;

	json_message(&s->chat->out, rec);
	send_out(s);
}

#define CLUSTER_UNAVAILABLE "the chat cluster is unavailable; message not sent"

/* Cluster mode: Redis numbers, stores and publishes it; it comes back to
 * every instance, this one too, through chat_remote_message. */
static void
publish_to_cluster(struct session *s, struct room *r,
		   const struct chat_record *rec)
{
	struct chat *c = s->chat;
	size_t id_at = 0;

	json_message_split(&c->out, rec, &id_at);
	if (c->out.oom ||
	    cluster_publish(c->cluster, s->id, r->name, c->out.data, id_at,
			    c->out.data + id_at, c->out.len - id_at,
			    rec->cid)) {
		send_error(s, "unavailable", CLUSTER_UNAVAILABLE, rec->cid);
		return;
	}
	session_typing_reset(s, r);
}

static void
handle_message(struct session *s, const struct request *req)
{
	struct chat *c = s->chat;
	struct chat_record rec;
	struct msg *m;
	struct room *r;
	int rc;

	r = member_room(s, req->room, req->cid);
	if (!r)
		return;
	if (!req->text_len) {
		send_error(s, "empty", "message text is empty", req->cid);
		return;
	}
	if (req->text_len > c->cfg->max_text_bytes) {
		send_error(s, "too_long", "message text is too long", req->cid);
		return;
	}
	if (req->cid && history_find_cid(c->history, r->name, s->nick, req->cid,
					 ignore_record, NULL) == 1) {
		/* The original may still be pending: deliver it first, so the
		 * copy sent back comes after it, as it would on a resend. The
		 * commit may also trim it away (a tiny --history-max): then
		 * it is stored again as a new message. */
		chat_flush(c);
		if (history_find_cid(c->history, r->name, s->nick, req->cid,
				     resend_original, s) == 1)
			return;
	}
	rec = (struct chat_record){
		.room = r->name,
		.id = r->last_id + 1,
		.ts = chat_now_ms(),
		.nick = s->nick,
		.text = req->text,
		.text_len = req->text_len,
		.cid = req->cid,
	};
	if (c->cluster) {
		publish_to_cluster(s, r, &rec);
		return;
	}
	json_message(&c->out, &rec);
	m = frame(c);
	/* Stored now, broadcast by chat_flush() once committed: no client
	 * sees a message that a crash could take back. */
	rc = m ? history_append(c->history, &rec) : -ENOMEM;
	if (rc) {
		msg_unref(m);
		if (rc == -ECANCELED)
			drop_pending(c);
		log_warn("room %s: could not store a message; dropped", r->name);
		send_error(s, "unavailable", "server could not store message",
			   req->cid);
		return;
	}
	r->last_id = rec.id;
	/* Clients drop the sender's typing line when its message lands. */
	session_typing_reset(s, r);
	if (add_pending(c, r->name, m)) {
		unsigned n;

		/* Out of memory: commit now (this message is in the open
		 * transaction) and deliver it only once that succeeded. */
		if (!flush_batch(c, &n)) {
			deliver(c, r, m);
			c->stats.messages++;
		}
		msg_unref(m);
	}
}

void
chat_remote_message(struct chat *c, const struct chat_record *rec,
		    const char *frame, size_t len)
{
	struct msg *m = msg_new(frame, len);
	struct room *r;
	int rc;

	if (!m) {
		log_warn("out of memory for message %llu of room %s; not "
			 "delivered here",
			 (unsigned long long)rec->id, rec->room);
		return;
	}
	/* A failed append (even one that rolled the open transaction back)
	 * costs only the replica: what is pending is still delivered, as
	 * Redis holds it (flush_batch). */
	rc = history_append(c->history, rec);
	if (rc)
		log_warn("room %s: message %llu not stored in the local "
			 "history; delivered all the same",
			 rec->room, (unsigned long long)rec->id);
	r = find_room(c, rec->room);
	if (r && rec->id > r->last_id)
		r->last_id = rec->id;
	if (add_pending(c, rec->room, m)) {
		unsigned n;

		/* Out of memory: what is pending first, then this one. */
		flush_batch(c, &n);
		r = find_room(c, rec->room);
		if (r)
			deliver(c, r, m);
		c->stats.messages++;
		msg_unref(m);
	}
}

void
chat_publish_failed(struct chat *c, uint64_t session_id, const char *cid)
{
	for (struct session *s = c->sessions; s; s = s->next)
		if (s->id == session_id) {
			/* Redis may have run the script before it went: a
			 * resend with the same cid is recognised. */
			if (!s->closing)
				send_error(s, "unavailable",
					   "the chat cluster did not confirm "
					   "the message; resend it with its "
					   "cid",
					   cid);
			return;
		}
}

bool
chat_room_has_nick(const struct chat *c, const char *room, const char *nick)
{
	struct room *r = find_room((struct chat *)c, room);

	if (!r)
		return false;
	for (struct session *h = nicks_holder(&c->nicks, nick); h;
	     h = h->nick_next)
		if (session_in_room(h, r))
			return true;
	return false;
}

void
chat_remote_presence(struct chat *c, const char *room, const char *event,
		     const char *nick, const char *old)
{
	struct room *r = find_room(c, room);

	/* Large rooms get no presence, as for members here (join_room). */
	if (!r || r->nmembers > CHAT_ROOM_LIST_MAX)
		return;
	/* After the messages that came before it. */
	chat_flush(c);
	json_presence(&c->out, room, event, nick, old);
	broadcast_out(c, r, NULL);
}

void
chat_remote_typing(struct chat *c, const char *room, const char *nick)
{
	struct room *r = find_room(c, room);

	if (!r)
		return;
	json_typing(&c->out, room, nick);
	broadcast_out(c, r, NULL);
}

void
chat_cluster_reannounce(struct chat *c)
{
	for (struct session *s = c->sessions; s; s = s->next) {
		if (s->closing)
			continue;
		cluster_session_started(c->cluster, s);
		for (unsigned i = 0; i < s->nrooms; i++)
			cluster_joined(c->cluster, s, s->rooms[i]->name);
	}
}

static int
handle_join(struct session *s, const struct request *req)
{
	if (!room_name_ok(s, req->room, req->cid) ||
	    !join_allowed(s, req->room, req->cid, true))
		return 0;
	/* All or nothing: nothing above changed anything, and a nick that
	 * is refused leaves the join undone. */
	if (req->nick && !change_nick(s, req->nick, req->cid))
		return 0;
	return join_room(s, req->room, req->has_since, (uint64_t)req->since,
			 req->cid);
}

static void
handle_history(struct session *s, const struct request *req)
{
	struct room *r = member_room(s, req->room, req->cid);
	int64_t limit = req->has_limit ? req->limit : CHAT_PAGE_DEFAULT;

	if (!r)
		return;
	if (limit > CHAT_PAGE_MAX)
		limit = CHAT_PAGE_MAX;
	/* before 0 asks for ids below 0: none. History's 0 means "no bound",
	 * and ids start at 1, so 1 says the same thing. */
	send_history_before(s, r,
			    !req->has_before ? 0
			    : req->before    ? (uint64_t)req->before
					     : 1,
			    (unsigned)limit);
}

static void
handle_typing(struct session *s, const struct request *req)
{
	struct room *r = member_room(s, req->room, req->cid);

	if (!r)
		return;
	/* Typing notices are hints: relaying every keystroke to a big room
	 * would cost each member a frame per key. */
	if (!session_typing_due(s, r, chat_now_ms(), CHAT_TYPING_INTERVAL_MS))
		return;
	json_typing(&s->chat->out, r->name, s->nick);
	broadcast_out(s->chat, r, s);
	if (s->chat->cluster)
		cluster_typing(s->chat->cluster, s, r->name);
}

static int
handle_request(struct session *s, const struct request *req)
{
	struct room *r;

	switch (req->type) {
	case REQ_MESSAGE:
		handle_message(s, req);
		return 0;
	case REQ_JOIN:
		return handle_join(s, req);
	case REQ_LEAVE:
		r = member_room(s, req->room, req->cid);
		if (r)
			leave_room(s, r, true);
		return 0;
	case REQ_NICK:
		change_nick(s, req->nick, req->cid);
		return 0;
	case REQ_HISTORY:
		handle_history(s, req);
		return 0;
	case REQ_TYPING:
		handle_typing(s, req);
		return 0;
	}
	return 0;
}

/*
 * Whether req is answered with a history frame that holds messages, which
 * needs queue space. An empty one (a new room, nothing after `since`) never
 * waits: a client writing without reading would otherwise stall on it.
 */
static bool
wants_history(struct session *s, const struct request *req)
{
	struct room *r;
	uint64_t last;

	if ((req->type != REQ_JOIN && req->type != REQ_HISTORY) || !req->room)
		return req->type == REQ_HISTORY; /* the current room's page */
	r = find_room(s->chat, req->room);
	last = r ? r->last_id : history_last_id(s->chat->history, req->room);
	if (req->type == REQ_JOIN && req->has_since)
		return last > (uint64_t)req->since;
	return last > 0;
}

/* A request that must wait for queue space before it is answered. */
static bool
must_wait(struct session *s, const struct request *req, const char *code)
{
	return !code && !history_fits(s) && wants_history(s, req);
}

/* Answers a parsed request (code: its parse error, or NULL). */
static void
answer(struct session *s, const struct request *req, const char *code,
       const char *why)
{
	/* Anything but a message must see (and be seen after) the messages
	 * before it: deliver them first, keeping one global order. */
	if (code || req->type != REQ_MESSAGE)
		chat_flush(s->chat);
	if (code)
		send_error(s, code, why, req->cid);
	else if (handle_request(s, req))
		send_error(s, "bad_request", "server out of memory", req->cid);
}

#define NICK_UNAVAILABLE "the chat cluster is unavailable; nick not changed"

/*
 * Cluster mode: whether req asks for a nick that Redis must grant first,
 * one nobody here holds. Requests that fail on their own (a bad nick, a
 * join that is not allowed) are answered as they are, nick untouched.
 */
static bool
needs_claim(struct session *s, const struct request *req)
{
	struct chat *c = s->chat;
	struct session *holder;

	if (!c->cluster || s->claims || !req->nick ||
	    (req->type != REQ_NICK && req->type != REQ_JOIN) ||
	    !strcmp(req->nick, s->nick) ||
	    !name_is_valid(req->nick, NAME_NICK_MAX))
		return false;
	if (req->type == REQ_JOIN &&
	    (!req->room || !name_is_valid(req->room, NAME_ROOM_MAX) ||
	     !join_allowed(s, req->room, NULL, false)))
		return false;
	holder = nicks_holder(&c->nicks, req->nick);
	return !holder || holder == s;
}

/*
 * Keeps the request for chat_resume() and stops reading more, so that the
 * requests after it keep their order. One that cannot be kept is refused
 * with rate_limited.
 */
static void
stall(struct session *s, const char *buf, size_t len, const char *cid)
{
	if (session_stall_push(s, buf, len)) {
		send_error(s, "rate_limited", "too many requests waiting", cid);
		return;
	}
	s->chat->transport.pause(s, true);
}

bool
chat_admit(struct session *s, const char *cid)
{
	switch (ratelimit_take(&s->rl, s->chat->cfg->rate, s->chat->cfg->burst,
			       chat_now_ms())) {
	case RATELIMIT_OK:
		return true;
	case RATELIMIT_DROP:
		send_error(s, "rate_limited", "too many requests, slow down",
			   cid);
		return false;
	case RATELIMIT_CLOSE:
		log_info("session %llu: flooding for %d s, closing",
			 (unsigned long long)s->id, RATELIMIT_FLOOD_SECS);
		session_close(s, CHAT_CLOSE_POLICY, "rate limit");
		return false;
	}
	return false;
}

int
chat_receive(struct session *s, const char *buf, size_t len)
{
	struct request req;
	const char *code, *why = NULL;

	if (s->closing)
		return 0;
	chat_seen(s);
	if (!utf8_is_valid((const unsigned char *)buf, len))
		return CHAT_CLOSE_BAD_PAYLOAD;
	code = request_parse(&req, buf, len, &why);
	if (!chat_admit(s, req.cid)) {
		request_fini(&req);
		return 0;
	}
	if (s->stalled || s->claiming || must_wait(s, &req, code)) {
		stall(s, buf, len, req.cid);
	} else if (!code && needs_claim(s, &req)) {
		/* Answered once Redis has decided (chat_nick_claimed); the
		 * requests after it wait behind it. */
		if (cluster_claim_nick(s->chat->cluster, s, req.nick)) {
			send_error(s, "unavailable", NICK_UNAVAILABLE, req.cid);
		} else {
			s->claiming = true;
			stall(s, buf, len, req.cid);
		}
	} else {
		answer(s, &req, code, why);
	}
	request_fini(&req);
	return 0;
}

void
chat_request(struct session *s, const struct request *req, const char *code,
	     const char *why)
{
	if (s->closing || !chat_admit(s, req->cid))
		return;
	/* Nothing of another dialect ever stalls (only history requests
	 * and nick claims do), so nothing can be waiting ahead of this. */
	assert(!s->stalled && !s->claiming);
	answer(s, req, code, why);
}

void
chat_resume(struct session *s)
{
	while (s->stalled && !s->closing && !s->claiming) {
		struct stalled_request *r = s->stalled;
		struct request req;
		const char *why = NULL;
		const char *code = request_parse(&req, r->data, r->len, &why);

		if (must_wait(s, &req, code)) {
			request_fini(&req);
			return; /* still no room: wait for the next write */
		}
		if (!code && needs_claim(s, &req)) {
			if (!cluster_claim_nick(s->chat->cluster, s, req.nick)) {
				s->claiming = true;
				request_fini(&req);
				return; /* it stays first, for the answer */
			}
			send_error(s, "unavailable", NICK_UNAVAILABLE, req.cid);
		} else {
			answer(s, &req, code, why);
		}
		request_fini(&req);
		session_stall_pop(s);
	}
	if (!s->closing && !s->claiming)
		s->chat->transport.pause(s, false);
}

static struct session *
session_by_id(struct chat *c, uint64_t id)
{
	for (struct session *s = c->sessions; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

bool
chat_nick_claimed(struct chat *c, uint64_t session_id, const char *nick,
		  int result)
{
	struct session *s = session_by_id(c, session_id);
	struct stalled_request *head;
	struct request req;
	const char *why = NULL, *code;
	struct session *holder;

	if (!s || !s->claiming)
		return false;
	s->claiming = false;
	if (s->closing)
		return false;
	head = s->stalled;
	code = head ? request_parse(&req, head->data, head->len, &why) : NULL;
	holder = nicks_holder(&c->nicks, nick);
	if (result == 1 && holder && holder != s) {
		/* Taken here meanwhile (while Redis was away). */
		cluster_rename_back(c->cluster, s, nick);
		result = 0;
	}
	if (result == 1) {
		/* After the messages before it, as any answer. The request
		 * stays first: run again, it finds the nick already s's and
		 * goes on (a join joins). */
		chat_flush(c);
		if (!apply_nick(s, nick, head && !code ? req.cid : NULL))
			cluster_rename_back(c->cluster, s, nick);
	} else {
		if (result == 0)
			send_error(s, "nick_taken", "that nick is in use",
				   head && !code ? req.cid : NULL);
		else
			send_error(s, "unavailable", NICK_UNAVAILABLE,
				   head && !code ? req.cid : NULL);
		if (head)
			session_stall_pop(s);
	}
	if (head)
		request_fini(&req);
	chat_resume(s);
	return true;
}

/* ---- connection lifecycle ---- */

bool
chat_token_nick_is_free(const struct chat *c, const char *sub)
{
	const struct session *holder = nicks_holder(&c->nicks, sub);

	if (c->cluster && cluster_nick_held_elsewhere(c->cluster, sub))
		return false;
	/* The same sub is the same person (another tab); a sub that differs
	 * only in letter case is someone else, and nicks are compared
	 * case-insensitively. */
	return !holder || (holder->claims && !strcmp(holder->nick, sub));
}

void
chat_nick_refused(struct chat *c, uint64_t session_id)
{
	struct session *s = session_by_id(c, session_id);

	if (s && !s->closing)
		session_close(s, CHAT_CLOSE_POLICY, "nick in use elsewhere");
}

static int
take_token_nick(struct chat *c, struct session *s)
{
	if (!chat_token_nick_is_free(c, s->claims->sub))
		return -EEXIST;
	strcpy(s->nick, s->claims->sub);
	return nicks_add(&c->nicks, s);
}

/* The lobby, unless the token's rooms leave it out: then the first of
 * them. */
static const char *
start_room(const struct session *s)
{
	if (s->claims && !jwt_claims_allow_room(s->claims, CHAT_LOBBY))
		return s->claims->rooms[0];
	return CHAT_LOBBY;
}

int
chat_connect(struct chat *c, struct session *s, void *conn,
	     struct jwt_claims *claims)
{
	const char *room;
	int rc;

	s->chat = c;
	s->conn = conn;
	s->id = c->next_session_id++;
	s->last_seen_ms = chat_now_ms();
	s->claims = claims;
	ratelimit_init(&s->rl, c->cfg->burst, s->last_seen_ms);
	msgq_init(&s->q, c->cfg->send_queue_bytes);
	rc = claims ? take_token_nick(c, s) : assign_guest_nick(c, s);
	if (rc) {
		s->chat = NULL; /* not registered: CLOSED must not unlink it */
		s->claims = NULL; /* still the caller's */
		return rc;
	}

	s->next = c->sessions;
	if (c->sessions)
		c->sessions->prev = s;
	c->sessions = s;
	c->nsessions++;

	if (c->shutting_down) {
		/* It connected during the shutdown grace: it gets the same
		 * 1001 as everyone else, not a lobby. */
		session_close(s, CHAT_CLOSE_GOING_AWAY, "server shutdown");
		return 0;
	}
	chat_flush(c);
	if (c->cluster)
		cluster_session_started(c->cluster, s);
	if (s->dialect != SESSION_NATIVE)
		return 0; /* in a room once its dialect says so: chat_enter */
	room = start_room(s);
	json_welcome(&c->out, s->nick, room);
	send_out(s);
	if (join_room(s, room, false, 0, NULL))
		log_warn("session %llu: could not join %s",
			 (unsigned long long)s->id, room);
	return 0;
}

int
chat_enter(struct session *s)
{
	if (s->closing)
		return 0;
	return join_room(s, start_room(s), false, 0, NULL);
}

void
chat_disconnect(struct session *s)
{
	struct chat *c = s->chat;

	if (!c)
		return; /* never registered */
	/* Its last messages go out before its presence leave. */
	chat_flush(c);
	/* No frame can reach it now; drop the queue before telling others. */
	s->closing = true;
	msgq_fini(&s->q);
	while (s->nrooms)
		leave_room(s, s->rooms[s->nrooms - 1], false);
	if (c->cluster)
		cluster_session_ended(c->cluster, s);
	session_rooms_fini(s);
	session_rx_reset(s);
	session_stall_clear(s);
	nicks_remove(&c->nicks, s);
	jwt_claims_free(s->claims);
	s->claims = NULL;

	if (s->prev)
		s->prev->next = s->next;
	else
		c->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	c->nsessions--;
	s->chat = NULL;
}

void
chat_seen(struct session *s)
{
	s->last_seen_ms = chat_now_ms();
}

void
chat_shutdown(struct chat *c)
{
	chat_flush(c);
	c->shutting_down = true;
	for (struct session *s = c->sessions; s; s = s->next)
		session_close(s, CHAT_CLOSE_GOING_AWAY, "server shutdown");
}
