// Tells screen readers about new messages through one visually hidden live
// region, without flooding: lines arriving close together are gathered and
// read as one short summary ("3 new messages in #lobby"), and only the
// latest announcement is kept in the region. History loads, catch-up
// replays and our own messages are never announced (the caller decides).

const GATHER_MS = 1000;
const SPELL_OUT = 2; // up to this many gathered lines are read in full

export class Announcer {
	constructor(region) {
		this.region = region;
		this.batch = [];
		this.timer = 0;
	}

	message(roomName, nick, text) {
		this.batch.push({ roomName, nick, text });
		if (!this.timer) this.timer = setTimeout(() => this.flush(), GATHER_MS);
	}

	flush() {
		this.timer = 0;
		const batch = this.batch;
		this.batch = [];
		if (batch.length === 0) return;
		const rooms = new Set(batch.map((b) => b.roomName));
		let line;
		if (batch.length <= SPELL_OUT) {
			line = batch.map((b) => `${b.nick} in #${b.roomName}: ${b.text}`).join('. ');
		} else if (rooms.size === 1) {
			line = `${batch.length} new messages in #${batch[0].roomName}`;
		} else {
			line = `${batch.length} new messages in ${rooms.size} rooms`;
		}
		// Replacing the one child keeps the region short for whoever reads
		// it back, and is announced as an addition.
		const p = this.region.ownerDocument.createElement('p');
		p.textContent = line;
		this.region.replaceChildren(p);
	}
}
