// What the browser remembers between visits, in localStorage: the chosen
// nick, the joined rooms in sidebar order with the last message id seen in
// each (so a reload rejoins with `since` and misses nothing), the viewed
// room and whether notifications are on. No DOM, no chat logic.

const KEY = 'chatd.v1';

export class Memory {
	constructor(storage) {
		this.storage = storage;
		this.forgotten = false;
	}

	// Returns { nick, rooms: [{ name, lastId, unread }], viewed, notify } or
	// null when nothing (readable) is stored.
	load() {
		let raw;
		try {
			raw = JSON.parse(this.storage?.getItem(KEY) ?? 'null');
		} catch {
			return null; // storage blocked, or a value we cannot read
		}
		if (!raw || typeof raw !== 'object' || !Array.isArray(raw.rooms)) return null;
		const rooms = raw.rooms
			.filter((r) => r && typeof r.name === 'string')
			.map((r) => ({
				name: r.name,
				lastId: Number.isSafeInteger(r.lastId) && r.lastId > 0 ? r.lastId : 0,
				unread: Number.isSafeInteger(r.unread) && r.unread > 0 ? r.unread : 0,
			}));
		return {
			nick: typeof raw.nick === 'string' ? raw.nick : '',
			rooms,
			viewed: typeof raw.viewed === 'string' ? raw.viewed : null,
			notify: raw.notify === true,
		};
	}

	save(state) {
		if (this.forgotten) return;
		try {
			this.storage?.setItem(KEY, JSON.stringify(state));
		} catch {
			// Full or blocked (private mode): the page works, it just forgets.
		}
	}

	// After this nothing is written again, so the page being closed (which
	// saves one last time) cannot undo it.
	forget() {
		this.forgotten = true;
		try {
			this.storage?.removeItem(KEY);
		} catch {
			// nothing stored that we could remove
		}
	}
}
