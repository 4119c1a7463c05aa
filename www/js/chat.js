// The client side of protocol v1: which rooms the user is in, what it has
// seen and what it still has to send, kept consistent across reconnects.
// It talks to a Connection and tells a view what changed; no DOM here.
// What should outlive a reload (nick, rooms, last ids) it hands to
// `remember`, and takes back from the constructor's `saved`.

import { frames, JOIN_CID_PREFIX, newCid, NICK_RE, ROOM_RE } from './protocol.js';
import { Room } from './store.js';

const TYPING_EVERY_MS = 2000;
const PAGE_SIZE = 50;
const NICK_RETRY_MS = 3000;
const NICK_RETRIES = 3;
// The server's request budget refills at 20 a second: a refused request is
// sent again after this, never in a tight loop.
const RATE_RETRY_MS = 1000;

export class ChatClient {
	constructor(conn, view, saved = null, remember = () => {}) {
		this.conn = conn;
		this.view = view;
		this.remember = () => remember(this.snapshot());
		this.rooms = new Map(); // the rooms the user wants to be in, in sidebar order
		this.viewed = null;
		this.nick = '';
		this.nickChosen = false; // this.nick came from the user, not from welcome
		this.wantedNick = null; // what to re-claim after a reconnect
		this.pendingNick = null;
		this.nickRetries = 0;
		this.nickTimer = 0;
		this.session = 0; // welcomes seen; tells which pending messages went out on this connection
		this.online = false;
		this.acceptRoom = null; // the first welcome's room, joined for us by the server
		this.ownCids = new Set();
		this.lastTyping = { room: null, at: 0 };
		this.retryTimer = 0;
		this.retryJoins = new Set(); // room names whose join was rate_limited
		// A returning user: their rooms are joined with `since` on welcome,
		// and the server's automatic lobby join counts as one more reconnect.
		this.restored = saved !== null;
		if (saved) this.restore(saved);
	}

	restore(saved) {
		if (NICK_RE.test(saved.nick)) this.wantedNick = saved.nick;
		for (const r of saved.rooms) {
			if (!ROOM_RE.test(r.name) || this.rooms.has(r.name)) continue;
			this.addRoom(r.name).restore(r.lastId, r.unread);
		}
		this.viewed = this.rooms.has(saved.viewed) ? saved.viewed : (this.rooms.keys().next().value ?? null);
		const viewed = this.rooms.get(this.viewed);
		if (viewed) viewed.unread = 0;
	}

	// What the page keeps across reloads: the nick only once the user chose
	// it (a guest name is the server's to hand out).
	snapshot() {
		return {
			nick: this.nickChosen ? this.nick : (this.wantedNick ?? ''),
			rooms: [...this.rooms.values()].map((r) => ({ name: r.name, lastId: r.lastId, unread: r.unread })),
			viewed: this.viewed,
		};
	}

	send(frame) {
		return this.online && this.conn.send(frame);
	}

	// ---- connection ----

	connectionChanged(state) {
		if (state === 'connected' || !this.online) return;
		this.online = false;
		clearTimeout(this.nickTimer);
		clearTimeout(this.retryTimer);
		this.retryTimer = 0;
		this.retryJoins.clear();
		for (const room of this.rooms.values()) room.resetConnection();
		this.view.roomsChanged();
	}

	handleFrame(f) {
		if (!f || typeof f !== 'object') return;
		switch (f.type) {
			case 'welcome': return this.onWelcome(f);
			case 'joined': return this.onJoined(f);
			case 'history': return this.onHistory(f);
			case 'message': return this.onMessage(f);
			case 'presence': return this.onPresence(f);
			case 'typing': return this.onTyping(f);
			case 'error': return this.onError(f);
			// `left` needs nothing: a room is dropped when the user leaves it,
			// so a late `left` cannot remove a room joined again meanwhile.
			default: return undefined;
		}
	}

	onWelcome(f) {
		this.session++;
		this.online = true;
		this.conn.resetBackoff();
		// After a reconnect keep the name we had, guest or chosen: the server
		// recognises a resent message by nick + cid, and people by name.
		if (this.session > 1 && !this.wantedNick && this.nick) this.wantedNick = this.nick;
		this.nick = String(f.nick ?? '');
		this.nickChosen = false;
		this.pendingNick = null;
		this.view.nickChanged(this.nick);
		// Claim the nick before joining, so other rooms see it join under that name.
		if (this.wantedNick && this.wantedNick !== this.nick) this.requestNick(this.wantedNick, true);
		// Ask each room for exactly what was missed (since = last id seen).
		for (const room of this.rooms.values()) this.sendJoin(room);
		const auto = f.room;
		if (typeof auto !== 'string') return;
		const room = this.rooms.get(auto);
		// The server joined us to `auto` before reading anything: its first
		// history has no `since`, so ours (answered after it) is the one to use.
		if (room) room.skipHistories++;
		else if (this.session === 1 && !this.restored) this.acceptRoom = auto;
		else this.send(frames.leave(auto)); // the user had left it
	}

	sendJoin(room) {
		room.joinSince = room.synced ? room.lastId : null;
		this.send(frames.join(room.name, room.joinSince, JOIN_CID_PREFIX + room.name));
	}

	// The server refused a request for now (its rate, or storage busy): send
	// it again a little later, together with anything else refused meanwhile.
	retryLater(cid) {
		if (cid.startsWith(JOIN_CID_PREFIX)) {
			this.retryJoins.add(cid.slice(JOIN_CID_PREFIX.length));
		} else {
			for (const room of this.rooms.values()) {
				const p = room.findPending(cid);
				if (p) p.sentOn = 0; // not sent after all
			}
		}
		if (this.retryTimer) return;
		this.retryTimer = setTimeout(() => {
			this.retryTimer = 0;
			const joins = [...this.retryJoins];
			this.retryJoins.clear();
			for (const name of joins) {
				const room = this.rooms.get(name);
				if (room && !room.joined) this.sendJoin(room);
			}
			for (const room of this.rooms.values()) this.flush(room);
		}, RATE_RETRY_MS);
	}

	onJoined(f) {
		let room = this.rooms.get(f.room);
		if (!room) {
			if (f.room !== this.acceptRoom) return;
			this.acceptRoom = null;
			room = this.addRoom(f.room);
			if (this.viewed === null) this.show(room.name);
		}
		room.joined = true;
		room.expectJoinHistory = true;
		room.members = new Set(Array.isArray(f.members) ? f.members.map(String) : []);
		// A large room lists nobody (only a count) and sends no join/leave.
		room.memberCount = Number.isInteger(f.count) && f.count > room.members.size ? f.count : 0;
		if (this.nick) room.members.add(this.nick);
		this.view.roomsChanged();
		this.view.membersChanged(room);
	}

	onHistory(f) {
		const room = this.rooms.get(f.room);
		if (!room) return;
		const isJoin = room.expectJoinHistory;
		room.expectJoinHistory = false;
		if (isJoin && room.skipHistories > 0) {
			room.skipHistories--;
			return;
		}
		const msgs = Array.isArray(f.messages) ? f.messages : [];
		// What a catch-up replay brings was said while we were away: unread.
		const catchUp = isJoin && room.joinSince !== null && this.viewed !== room.name;
		let unread = 0;
		for (const m of msgs) {
			const entry = this.merge(room, m);
			if (catchUp && entry && !entry.mine) unread++;
		}
		if (unread) {
			room.unread += unread;
			this.view.roomsChanged();
		}
		this.remember();
		if (isJoin) {
			if (!this.joinHistoryDone(room, msgs, f.more)) return;
		} else {
			room.loadingOlder = false;
			room.hasOlder = f.more === true && msgs.length > 0;
		}
		this.view.timelineChanged(room);
	}

	// Returns false when the replay was cut short and another join follows.
	joinHistoryDone(room, msgs, more) {
		const since = room.joinSince;
		if (since === null) {
			room.hasOlder = more === undefined ? room.oldestId > 1 : more === true;
		} else if (more === true && msgs.length > 0) {
			if (msgs[0].id === since + 1) {
				// The oldest part of what was missed came back: ask for the rest.
				this.view.timelineChanged(room);
				this.sendJoin(room);
				return false;
			}
			// The newest part came back: drop what sits below the hole, paging refills it.
			room.dropBefore(msgs[0].id);
			room.hasOlder = true;
		}
		room.synced = true;
		room.ready = true;
		this.flush(room);
		return true;
	}

	// Send what the user typed in this room and the server has not echoed,
	// with the original cid: the server drops a cid it has already stored.
	flush(room) {
		if (!room.ready || !this.online) return;
		for (const p of room.pending) {
			if (p.failed || p.sentOn === this.session) continue;
			if (this.send(frames.message(room.name, p.text, p.cid))) p.sentOn = this.session;
		}
	}

	onMessage(f) {
		const room = this.rooms.get(f.room);
		if (!room) return;
		const m = this.merge(room, f);
		room.typing.remove(String(f.nick));
		if (!m) return;
		// A hidden tab counts what arrives in the viewed room too: the title
		// badge tells the user there is something to come back for.
		if (!m.mine && (this.viewed !== room.name || this.view.pageHidden())) {
			room.unread++;
			this.view.roomsChanged();
		}
		if (m.appended) this.view.entryAdded(room, m);
		else this.view.timelineChanged(room);
		if (!m.mine) this.view.messageArrived(room, m, this.nick);
		this.remember();
	}

	// The page is shown again: what arrived in the viewed room has been seen.
	pageShown() {
		const room = this.rooms.get(this.viewed);
		if (!room || room.unread === 0) return;
		room.unread = 0;
		this.view.roomsChanged();
		this.remember();
	}

	// Adds a server message and retires the pending line with its cid.
	merge(room, f) {
		const cid = typeof f.cid === 'string' ? f.cid : null;
		const pending = cid ? room.takePending(cid) : null;
		if (pending) this.view.entryRemoved(room, pending);
		const mine = (cid !== null && this.ownCids.has(cid)) || f.nick === this.nick;
		return room.addMessage(f, mine);
	}

	onPresence(f) {
		const room = this.rooms.get(f.room);
		if (!room) {
			// Our rename confirmed in a room the server put us in and we are
			// leaving (the lobby after a reload): still ours.
			if (f.event === 'nick' && f.old === this.nick && typeof f.nick === 'string') this.ownNickChanged(f.nick);
			return;
		}
		const nick = String(f.nick ?? '');
		let line;
		if (f.event === 'join') {
			room.members.add(nick);
			line = `${nick} joined`;
		} else if (f.event === 'leave') {
			room.members.delete(nick);
			room.typing.remove(nick);
			line = `${nick} left`;
		} else if (f.event === 'nick') {
			const old = String(f.old ?? '');
			room.members.delete(old);
			room.members.add(nick);
			room.typing.remove(old);
			line = `${old} is now known as ${nick}`;
			if (old === this.nick) this.ownNickChanged(nick);
		} else {
			return;
		}
		this.view.membersChanged(room);
		const s = room.addSystem(line, f.event, Date.now());
		this.view.entryAdded(room, s);
	}

	onTyping(f) {
		const room = this.rooms.get(f.room);
		if (room && f.nick !== this.nick) room.typing.add(String(f.nick));
	}

	onError(f) {
		const code = String(f.code ?? 'error');
		const text = String(f.message ?? code);
		if (code === 'rate_limited' || code === 'unavailable') {
			// Refused for now, not for good: the same cid is sent again.
			if (typeof f.cid === 'string') this.retryLater(f.cid);
			this.view.notice(code === 'rate_limited' ? 'Sending too fast; retrying in a moment.'
				: 'The server could not store that; retrying in a moment.', code);
			return;
		}
		// forbidden without a cid answers a nick request: the nick comes
		// from the page's token.
		if (code === 'nick_taken' || code === 'bad_nick' || (code === 'forbidden' && typeof f.cid !== 'string')) {
			this.nickFailed(code, text);
		} else if (typeof f.cid === 'string') {
			for (const room of this.rooms.values()) {
				const p = room.findPending(f.cid);
				if (!p) continue;
				p.failed = text;
				this.view.entryChanged(room, p);
			}
		}
		if (code === 'not_in_room') {
			for (const room of this.rooms.values()) room.loadingOlder = false;
		}
		if (code === 'forbidden' && typeof f.cid === 'string' && f.cid.startsWith(JOIN_CID_PREFIX)) {
			// The page's token does not allow that room: drop it unless joined.
			const room = this.rooms.get(f.cid.slice(JOIN_CID_PREFIX.length));
			if (room && !room.joined) this.leave(room.name);
		}
		if (code === 'bad_room') {
			// Names are checked before sending, so this is a room the server
			// refused to join: drop those never confirmed.
			for (const room of [...this.rooms.values()]) if (!room.synced && !room.joined) this.leave(room.name);
		}
		this.view.notice(text, code);
	}

	// ---- nick ----

	setNick(input) {
		const nick = input.trim();
		if (!NICK_RE.test(nick)) {
			this.view.nickError('A nick is 1 to 32 letters, digits, "_", "." or "-".');
			return false;
		}
		this.view.nickError('');
		if (nick === this.nick) return true;
		this.wantedNick = nick;
		this.nickRetries = 0;
		clearTimeout(this.nickTimer);
		if (this.online) this.requestNick(nick, false);
		else this.view.notice(`Your nick will be ${nick} once connected.`, 'info');
		return true;
	}

	requestNick(nick, auto) {
		// The server confirms a nick change only through presence in the
		// session's rooms; in none, assume success and undo on error.
		const inRoom = this.session > 0 && ([...this.rooms.values()].some((r) => r.joined) || auto || this.acceptRoom !== null);
		this.pendingNick = { nick, auto, prev: this.nick, prevChosen: this.nickChosen, optimistic: !inRoom };
		this.send(frames.nick(nick));
		if (!inRoom) this.ownNickChanged(nick);
	}

	ownNickChanged(nick) {
		this.nick = nick;
		this.nickChosen = true;
		this.wantedNick = nick;
		if (this.pendingNick && !this.pendingNick.optimistic) this.pendingNick = null;
		this.view.nickChanged(nick);
		for (const room of this.rooms.values()) this.view.membersChanged(room);
		this.remember();
	}

	nickFailed(code, text) {
		const p = this.pendingNick;
		this.pendingNick = null;
		if (p?.optimistic) {
			this.nick = p.prev;
			this.nickChosen = p.prevChosen;
			this.view.nickChanged(this.nick);
		}
		// After a reconnect our previous connection may still hold the nick
		// until the server notices it is gone: try again a few times.
		if (p?.auto && code === 'nick_taken' && this.nickRetries < NICK_RETRIES) {
			this.nickRetries++;
			this.nickTimer = setTimeout(() => {
				if (this.online && this.wantedNick && this.wantedNick !== this.nick) this.requestNick(this.wantedNick, true);
			}, NICK_RETRY_MS);
		} else {
			this.wantedNick = this.nickChosen ? this.nick : null;
		}
		this.view.nickError(text);
	}

	// ---- rooms ----

	addRoom(name) {
		const room = new Room(name, (r) => this.view.typingChanged(r));
		this.rooms.set(name, room);
		return room;
	}

	join(input) {
		const name = input.trim().replace(/^#/, '');
		if (!ROOM_RE.test(name)) {
			this.view.notice('A room name is 1 to 64 letters, digits, "_", "." or "-".', 'bad_room');
			return false;
		}
		if (!this.rooms.has(name)) {
			const room = this.addRoom(name);
			// Offline, the room is joined with the others on reconnect.
			if (this.online) this.sendJoin(room);
		}
		this.show(name);
		return true;
	}

	leave(name = this.viewed) {
		const room = this.rooms.get(name);
		if (!room) return;
		this.rooms.delete(name);
		room.typing.clear();
		this.send(frames.leave(name));
		if (this.viewed === name) this.show(this.rooms.keys().next().value ?? null);
		this.view.roomsChanged();
		this.remember();
	}

	show(name) {
		const room = name === null ? null : this.rooms.get(name);
		if (!room && name !== null) return;
		this.viewed = room ? room.name : null;
		if (room) room.unread = 0;
		this.view.viewChanged(room ?? null);
		this.view.roomsChanged();
		this.remember();
	}

	// ---- user input ----

	say(text) {
		if (!text.trim()) return false;
		const room = this.rooms.get(this.viewed);
		if (!room) {
			this.view.notice('Join a room first.', 'not_in_room');
			return false;
		}
		const p = room.addPending(newCid(), text, this.nick, Date.now());
		this.ownCids.add(p.cid);
		this.view.entryAdded(room, p);
		this.flush(room);
		// Peers drop our typing state when the message lands; announce afresh.
		this.lastTyping = { room: null, at: 0 };
		return true;
	}

	typed(text) {
		const room = this.rooms.get(this.viewed);
		if (!text || !room?.ready) return;
		const now = Date.now();
		if (this.lastTyping.room === room.name && now - this.lastTyping.at < TYPING_EVERY_MS) return;
		if (this.send(frames.typing(room.name))) this.lastTyping = { room: room.name, at: now };
	}

	loadOlder() {
		const room = this.rooms.get(this.viewed);
		if (!room || !room.ready || room.loadingOlder || !room.canLoadOlder()) return;
		if (!this.send(frames.history(room.name, room.oldestId, PAGE_SIZE))) return;
		room.loadingOlder = true;
		this.view.olderChanged(room);
	}
}
