// Renders one room's timeline into #messages. DOM nodes are cached per entry,
// so a re-render after a history merge moves nodes instead of rebuilding them,
// and the line the reader was looking at stays put when older ones are prepended.
// A date separator goes before the first line of each day; tapping a line
// shows its full timestamp (touch screens have no hover for the title).

import { colorClass, dayKey, dayLabel, fullDate, hhmm, mentions } from './format.js';
import { richText } from './richtext.js';

const NEAR_EDGE_PX = 48;

export class MessageList {
	// ownNick(): the user's nick now, for highlighting mentions of it.
	constructor(ul, onNearTop, ownNick = () => '') {
		this.ul = ul;
		this.ownNick = ownNick;
		this.room = null;
		this.nodes = new WeakMap(); // entry -> li
		this.scrollMemo = new WeakMap(); // room -> scrollTop when left, if not at the bottom
		this.onNearTop = onNearTop;
		ul.addEventListener('scroll', () => {
			if (ul.scrollTop < NEAR_EDGE_PX) onNearTop();
		}, { passive: true });
		ul.addEventListener('click', (ev) => {
			const li = ev.target.closest('li.message');
			// A link opens; selecting text is not a tap.
			if (!li || ev.target.closest('a') || String(ul.ownerDocument.getSelection?.() ?? '')) return;
			li.classList.toggle('show-time');
		});
	}

	atBottom() {
		const ul = this.ul;
		return ul.scrollHeight - ul.scrollTop - ul.clientHeight < NEAR_EDGE_PX;
	}

	scrollToBottom() {
		this.ul.scrollTop = this.ul.scrollHeight;
	}

	show(room) {
		if (this.room) {
			if (this.atBottom()) this.scrollMemo.delete(this.room);
			else this.scrollMemo.set(this.room, this.ul.scrollTop);
		}
		this.room = room;
		this.ul.replaceChildren(...(room ? this.nodesWithDays(room.timeline()) : []));
		const memo = room && this.scrollMemo.get(room);
		if (memo === undefined || memo === null) this.scrollToBottom();
		else this.ul.scrollTop = memo;
		this.fillViewport();
	}

	// Full re-render of the current room, keeping the reader's place: glued to
	// the bottom if they were there, otherwise the first visible line stays
	// at the same height on screen.
	refresh(room) {
		if (room !== this.room) return;
		const ul = this.ul;
		const bottom = this.atBottom();
		let anchor = null;
		if (!bottom) {
			for (const li of ul.children) {
				// Separators are rebuilt on every render: anchor on a line that stays.
				if (li.classList.contains('day-separator')) continue;
				if (li.offsetTop + li.offsetHeight > ul.scrollTop) {
					anchor = { li, offset: li.offsetTop - ul.scrollTop };
					break;
				}
			}
		}
		ul.replaceChildren(...this.nodesWithDays(room.timeline()));
		if (bottom) this.scrollToBottom();
		else if (anchor?.li.isConnected) ul.scrollTop = anchor.li.offsetTop - anchor.offset;
		this.fillViewport();
	}

	// A live entry: after every message and presence line, before our own
	// lines that are still being sent.
	add(room, entry) {
		if (room !== this.room) return;
		const bottom = this.atBottom();
		const li = this.node(entry);
		const firstPending = entry.kind === 'pending' ? null : this.ul.querySelector(':scope > li.pending');
		const prev = firstPending ? firstPending.previousElementSibling : this.ul.lastElementChild;
		if (li.dataset.day && prev?.dataset.day !== li.dataset.day) this.ul.insertBefore(daySeparator(entry.ts), firstPending);
		this.ul.insertBefore(li, firstPending);
		if (bottom || entry.kind === 'pending' || entry.mine) this.scrollToBottom();
	}

	remove(entry) {
		this.nodes.get(entry)?.remove();
		this.nodes.delete(entry);
	}

	update(room, entry) {
		const old = this.nodes.get(entry);
		this.nodes.delete(entry);
		if (old && room === this.room) old.replaceWith(this.node(entry));
	}

	// Without a scrollbar the reader cannot scroll to the top to ask for
	// more, so keep loading until the list overflows or history ends.
	fillViewport() {
		if (this.room && this.ul.scrollHeight <= this.ul.clientHeight) this.onNearTop();
	}

	node(entry) {
		let li = this.nodes.get(entry);
		if (!li) {
			li = entry.kind === 'system' ? systemNode(entry) : messageNode(entry, this.ownNick());
			li.dataset.key = entry.key;
			const day = dayKey(entry.ts);
			if (day) li.dataset.day = day;
			this.nodes.set(entry, li);
		}
		return li;
	}

	nodesWithDays(entries) {
		const out = [];
		let day = '';
		for (const e of entries) {
			const li = this.node(e);
			if (li.dataset.day && li.dataset.day !== day) {
				day = li.dataset.day;
				out.push(daySeparator(e.ts));
			}
			out.push(li);
		}
		return out;
	}
}

// A list item like the lines around it (a <ul> holds only <li>), with the
// day as a heading-like label a screen reader reads in passing.
function daySeparator(ts) {
	const li = el('li', 'day-separator');
	li.dataset.day = dayKey(ts);
	const label = el('span', 'day-label', dayLabel(ts));
	li.append(label);
	return li;
}

function el(tag, className, text) {
	const e = document.createElement(tag);
	if (className) e.className = className;
	if (text !== undefined) e.textContent = text;
	return e;
}

function systemNode(s) {
	const li = el('li', 'system', s.text);
	li.dataset.event = s.event;
	li.title = fullDate(s.ts);
	return li;
}

// Message and pending lines share one shape, so a pending line is replaced
// by the real one without the layout jumping.
function messageNode(m, ownNick) {
	const li = el('li', 'message');
	const color = colorClass(m.nick);
	if (m.kind === 'message') li.dataset.id = String(m.id);
	else li.classList.add('pending');
	if (m.cid) li.dataset.cid = m.cid;
	if (m.mine || m.kind === 'pending') li.classList.add('own');
	else if (mentions(m.text, ownNick)) li.classList.add('mention');
	li.dataset.nick = m.nick;

	const avatar = el('span', `avatar ${color}`, (m.nick[0] ?? '?').toUpperCase());
	avatar.setAttribute('aria-hidden', 'true');
	const meta = el('div', 'meta');
	meta.append(el('span', `nick ${color}`, m.nick));
	const time = el('time', 'time', hhmm(m.ts));
	if (m.ts) time.dateTime = new Date(m.ts).toISOString();
	time.title = fullDate(m.ts);
	meta.append(time, el('span', 'full-time', fullDate(m.ts)));
	if (m.kind === 'pending') {
		if (m.failed) li.classList.add('failed');
		meta.append(el('span', 'status', m.failed ? `not sent: ${m.failed}` : 'sending…'));
	}
	const body = el('div', 'body');
	const text = el('div', 'text');
	text.append(richText(document, m.text));
	body.append(meta, text);
	li.append(avatar, body);
	return li;
}
