// Who is typing in one room. Each entry expires by itself, so a peer that
// stops typing, or vanishes without a presence leave, never leaves a stale
// "is typing…" behind.

export const TYPING_TTL_MS = 3000;

export class TypingSet {
	constructor(onChange, ttl = TYPING_TTL_MS) {
		this.onChange = onChange;
		this.ttl = ttl;
		this.timers = new Map();
	}

	add(nick) {
		const known = this.timers.has(nick);
		clearTimeout(this.timers.get(nick));
		this.timers.set(nick, setTimeout(() => this.remove(nick), this.ttl));
		if (!known) this.onChange();
	}

	remove(nick) {
		if (!this.timers.has(nick)) return;
		clearTimeout(this.timers.get(nick));
		this.timers.delete(nick);
		this.onChange();
	}

	clear() {
		if (this.timers.size === 0) return;
		for (const t of this.timers.values()) clearTimeout(t);
		this.timers.clear();
		this.onChange();
	}

	names() {
		return [...this.timers.keys()];
	}
}
