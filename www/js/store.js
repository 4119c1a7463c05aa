// What the client knows about one room: messages merged by id (so replays
// and resends never show twice), presence lines, messages still waiting for
// the server, members and typing. No DOM and no I/O.

import { TypingSet } from './typing.js';

let systemSeq = 0;

export class Room {
	constructor(name, onTypingChange) {
		this.name = name;
		this.messages = []; // sorted by id
		this.byId = new Map();
		this.system = []; // presence lines, anchored after the newest id known when they arrived
		this.pending = []; // our messages the server has not echoed yet, in typing order
		this.members = new Set();
		this.unread = 0;
		this.typing = new TypingSet(() => onTypingChange(this));
		this.synced = false; // a join history was merged once: lastId is a valid `since`
		this.hasOlder = false; // the server said older messages exist
		this.seenId = 0; // last id seen before a reload: stands in for lastId until messages arrive
		this.resetConnection();
	}

	// A room remembered from an earlier visit: rejoin with since = lastId
	// (exactly what was missed) and page back for what was seen before.
	restore(lastId, unread) {
		this.seenId = lastId;
		this.synced = lastId > 0;
		this.hasOlder = lastId > 0;
		this.unread = unread;
	}

	// Everything that only holds for one WebSocket connection.
	resetConnection() {
		this.joined = false; // `joined` received on this connection
		this.ready = false; // join history merged on this connection: safe to send
		this.expectJoinHistory = false; // the next `history` answers a join, not a page request
		this.skipHistories = 0; // histories to ignore (the server's automatic lobby join)
		this.joinSince = null; // `since` of the join in flight
		this.loadingOlder = false;
		this.typing.clear();
	}

	get lastId() {
		return this.messages.length ? this.messages[this.messages.length - 1].id : this.seenId;
	}

	// The `before` of the next page of older history.
	get oldestId() {
		if (this.messages.length) return this.messages[0].id;
		return this.seenId ? this.seenId + 1 : 0;
	}

	canLoadOlder() {
		return this.hasOlder && this.oldestId > 1;
	}

	// Returns the new entry, or null for a duplicate or a malformed frame.
	// entry.appended tells whether it went after every known message, so a
	// view can append instead of re-rendering.
	addMessage(f, mine) {
		if (!Number.isSafeInteger(f.id) || this.byId.has(f.id)) return null;
		const m = {
			kind: 'message',
			key: `m${f.id}`,
			id: f.id,
			nick: String(f.nick ?? ''),
			text: String(f.text ?? ''),
			ts: Number(f.ts) || 0,
			cid: typeof f.cid === 'string' ? f.cid : null,
			mine,
			appended: true,
		};
		this.byId.set(m.id, m);
		const list = this.messages;
		if (list.length === 0 || m.id > list[list.length - 1].id) {
			list.push(m);
		} else {
			m.appended = false;
			let lo = 0;
			let hi = list.length;
			while (lo < hi) {
				const mid = (lo + hi) >> 1;
				if (list[mid].id < m.id) lo = mid + 1;
				else hi = mid;
			}
			list.splice(lo, 0, m);
		}
		return m;
	}

	// Forget everything older than id: used when a catch-up replay was
	// truncated and left a hole below what it returned; paging refills it.
	dropBefore(id) {
		const keep = this.messages.filter((m) => m.id >= id);
		for (const m of this.messages) if (m.id < id) this.byId.delete(m.id);
		this.messages = keep;
		this.system = this.system.filter((s) => s.afterId >= id);
	}

	addSystem(text, event, ts) {
		const s = { kind: 'system', key: `s${++systemSeq}`, afterId: this.lastId, text, event, ts };
		this.system.push(s);
		return s;
	}

	addPending(cid, text, nick, ts) {
		const p = { kind: 'pending', key: `p${cid}`, cid, text, nick, ts, sentOn: 0, failed: null };
		this.pending.push(p);
		return p;
	}

	findPending(cid) {
		return this.pending.find((p) => p.cid === cid) ?? null;
	}

	takePending(cid) {
		const i = this.pending.findIndex((p) => p.cid === cid);
		return i < 0 ? null : this.pending.splice(i, 1)[0];
	}

	// Display order: messages by id, each presence line after the message it
	// followed when it arrived, then what is still being sent.
	timeline() {
		const out = [];
		const sys = this.system;
		let s = 0;
		for (const m of this.messages) {
			while (s < sys.length && sys[s].afterId < m.id) out.push(sys[s++]);
			out.push(m);
		}
		while (s < sys.length) out.push(sys[s++]);
		return out.concat(this.pending);
	}
}
