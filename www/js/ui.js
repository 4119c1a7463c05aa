// The page around the message list: sidebar (nick, rooms, members), header,
// connection status, typing line, notices and the forms. It is the view the
// ChatClient reports to, and it turns user input into ChatClient calls.
// User text only ever goes through textContent.

import { Announcer } from './announcer.js';
import { mentions, typingText } from './format.js';
import { MessageList } from './messages.js';

const NOTICE_MS = 6000;
const MAX_NOTICES = 3;
const MAX_INPUT_ROWS = 8;

const STATUS_TEXT = {
	connecting: 'Connecting…',
	connected: 'Connected',
	disconnected: 'Disconnected',
};

export class Ui {
	constructor(doc) {
		const $ = (id) => doc.getElementById(id);
		this.doc = doc;
		this.e = {
			status: $('status'), reconnect: $('reconnect-button'),
			myNick: $('my-nick'), nickForm: $('nick-form'), nickInput: $('nick-input'), nickError: $('nick-error'),
			joinForm: $('join-form'), roomInput: $('room-input'), rooms: $('rooms'),
			members: $('members'), memberCount: $('member-count'),
			roomTitle: $('room-title'), leave: $('leave-button'),
			loadOlder: $('load-older'), messages: $('messages'), typing: $('typing'), notices: $('notices'),
			messageForm: $('message-form'), messageInput: $('message-input'),
			sidebarToggle: $('sidebar-toggle'), backdrop: $('sidebar-backdrop'),
			notify: $('notify-button'), forget: $('forget-button'), announcer: $('announcer'),
		};
		this.client = null;
		this.current = null;
		this.roomNodes = new Map();
		this.countdown = 0;
		this.list = new MessageList(this.e.messages, () => this.client?.loadOlder(), () => this.client?.nick ?? '');
		this.announcer = new Announcer(this.e.announcer);
		this.notifier = null;
	}

	pageHidden() {
		return this.doc.visibilityState === 'hidden';
	}

	// actions: { retryNow, notifier, notifyChanged, forget } for what
	// belongs to the page and the connection, not the client.
	attach(client, actions) {
		this.client = client;
		this.notifier = actions.notifier;
		const e = this.e;
		const onSubmit = (form, fn) => form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			fn();
		});
		onSubmit(e.nickForm, () => {
			if (client.setNick(e.nickInput.value)) e.nickInput.value = '';
		});
		onSubmit(e.joinForm, () => {
			if (!client.join(e.roomInput.value)) return;
			e.roomInput.value = '';
			this.closeSidebar();
		});
		onSubmit(e.messageForm, () => {
			if (client.say(e.messageInput.value)) e.messageInput.value = '';
			this.fitInput();
			e.messageInput.focus();
		});
		// Enter sends, Shift+Enter is a new line; Enter that confirms an IME
		// composition (Japanese, Chinese...) is the composition's.
		e.messageInput.addEventListener('keydown', (ev) => {
			if (ev.key !== 'Enter' || ev.shiftKey || ev.isComposing || ev.keyCode === 229) return;
			ev.preventDefault();
			e.messageForm.requestSubmit();
		});
		e.messageInput.addEventListener('input', () => {
			this.fitInput();
			client.typed(e.messageInput.value);
		});
		this.setupNotify(actions);
		e.forget.addEventListener('click', () => actions.forget());
		this.doc.addEventListener('visibilitychange', () => {
			if (!this.pageHidden()) client.pageShown();
		});
		e.leave.addEventListener('click', () => client.leave());
		e.loadOlder.addEventListener('click', () => client.loadOlder());
		e.reconnect.addEventListener('click', () => actions.retryNow());
		e.sidebarToggle.addEventListener('click', () => this.toggleSidebar());
		e.backdrop.addEventListener('click', () => this.closeSidebar());
		this.doc.addEventListener('keydown', (ev) => {
			if (ev.key === 'Escape') this.closeSidebar();
		});
	}

	// The box grows with its lines (rows, not a style: the CSP forbids
	// inline styles), up to a few, then scrolls.
	fitInput() {
		const lines = this.e.messageInput.value.split('\n').length;
		this.e.messageInput.rows = Math.min(MAX_INPUT_ROWS, Math.max(1, lines));
	}

	setupNotify(actions) {
		const b = this.e.notify;
		const n = actions.notifier;
		b.hidden = !n?.supported;
		if (b.hidden) return;
		const paint = () => {
			b.setAttribute('aria-pressed', String(n.enabled));
			b.textContent = n.enabled ? 'Notifications on' : 'Notify me when away';
		};
		paint();
		b.addEventListener('click', async () => {
			if (n.enabled) n.disable();
			else if (!(await n.enable())) this.notice('The browser does not allow notifications for this page.', 'info');
			paint();
			actions.notifyChanged();
		});
	}

	// A live message from someone else (not history, not a replay).
	messageArrived(room, m, nick) {
		const mention = mentions(m.text, nick);
		if (this.pageHidden()) {
			this.notifier?.notify(room.name, m.nick, m.text, mention);
			return;
		}
		if (room === this.current || mention) this.announcer.message(room.name, m.nick, m.text);
	}

	// ---- connection status ----

	setStatus(state, retryAt) {
		const e = this.e;
		clearInterval(this.countdown);
		e.status.dataset.state = state;
		this.doc.body.dataset.connection = state;
		e.reconnect.hidden = state !== 'disconnected';
		const paint = () => {
			let text = STATUS_TEXT[state] ?? state;
			if (state === 'disconnected' && retryAt) {
				const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
				text += ` — reconnecting in ${s}s`;
			}
			e.status.textContent = text;
		};
		paint();
		if (state === 'disconnected' && retryAt) this.countdown = setInterval(paint, 250);
	}

	// ---- sidebar ----

	toggleSidebar() {
		const open = this.doc.body.classList.toggle('sidebar-open');
		this.e.sidebarToggle.setAttribute('aria-expanded', String(open));
	}

	closeSidebar() {
		this.doc.body.classList.remove('sidebar-open');
		this.e.sidebarToggle.setAttribute('aria-expanded', 'false');
	}

	roomsChanged() {
		const c = this.client;
		const ul = this.e.rooms;
		let prev = null;
		let unread = 0;
		for (const room of c.rooms.values()) {
			let li = this.roomNodes.get(room.name);
			if (!li) {
				li = this.roomNode(room.name);
				this.roomNodes.set(room.name, li);
			}
			const active = room.name === c.viewed;
			li.classList.toggle('active', active);
			li.classList.toggle('joining', !room.joined);
			li.querySelector('button').setAttribute('aria-current', active ? 'true' : 'false');
			setBadge(li.querySelector('button'), room.unread);
			unread += room.unread;
			// Move only nodes out of place: moving a node would drop its focus.
			const want = prev ? prev.nextElementSibling : ul.firstElementChild;
			if (want !== li) ul.insertBefore(li, want);
			prev = li;
		}
		for (const [name, li] of this.roomNodes) {
			if (c.rooms.has(name)) continue;
			li.remove();
			this.roomNodes.delete(name);
		}
		const title = c.viewed ? `#${c.viewed} · chatd` : 'chatd';
		this.doc.title = unread ? `(${unread}) ${title}` : title;
		this.e.sidebarToggle.classList.toggle('has-unread', unread > 0);
		this.e.leave.disabled = c.viewed === null;
	}

	roomNode(name) {
		const li = this.doc.createElement('li');
		li.dataset.room = name;
		const button = this.doc.createElement('button');
		button.type = 'button';
		button.className = 'room-button';
		const label = this.doc.createElement('span');
		label.className = 'room-name';
		label.textContent = name;
		button.append(label);
		button.addEventListener('click', () => {
			this.client.show(name);
			this.closeSidebar();
		});
		li.append(button);
		return li;
	}

	membersChanged(room) {
		if (room !== this.current) return;
		const me = this.client.nick;
		const nicks = [...room.members].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
		this.e.members.replaceChildren(...nicks.map((nick) => {
			const li = this.doc.createElement('li');
			li.dataset.nick = nick;
			li.textContent = nick;
			if (nick === me) li.classList.add('me');
			return li;
		}));
		this.e.memberCount.textContent = String(Math.max(nicks.length, room.memberCount || 0));
	}

	// ---- the viewed room ----

	viewChanged(room) {
		this.current = room;
		this.e.roomTitle.textContent = room ? room.name : 'No room';
		this.e.roomTitle.classList.toggle('empty', !room);
		this.list.show(room);
		if (room) {
			this.membersChanged(room);
		} else {
			this.e.members.replaceChildren();
			this.e.memberCount.textContent = '0';
		}
		this.typingChanged(room);
		this.olderChanged(room);
	}

	timelineChanged(room) {
		this.list.refresh(room);
		this.olderChanged(room);
	}

	entryAdded(room, entry) {
		this.list.add(room, entry);
	}

	entryRemoved(room, entry) {
		this.list.remove(entry);
	}

	entryChanged(room, entry) {
		this.list.update(room, entry);
	}

	typingChanged(room) {
		if (room !== this.current) return;
		this.e.typing.textContent = room ? typingText(room.typing.names()) : '';
	}

	olderChanged(room) {
		if (room !== this.current) return;
		const b = this.e.loadOlder;
		b.hidden = !room || !room.canLoadOlder();
		b.disabled = Boolean(room?.loadingOlder);
		b.textContent = room?.loadingOlder ? 'Loading older messages…' : 'Load older messages';
	}

	// ---- nick and notices ----

	nickChanged(nick) {
		this.e.myNick.textContent = nick;
		this.e.nickInput.placeholder = nick ? `${nick} — new nick` : 'Choose a nick';
	}

	nickError(text) {
		this.e.nickError.textContent = text;
		this.e.nickError.hidden = !text;
	}

	notice(text, code) {
		const div = this.doc.createElement('div');
		div.className = code === 'info' ? 'notice info' : 'notice';
		div.dataset.code = code;
		div.setAttribute('role', code === 'info' ? 'status' : 'alert');
		div.textContent = text;
		this.e.notices.append(div);
		while (this.e.notices.childElementCount > MAX_NOTICES) this.e.notices.firstElementChild.remove();
		setTimeout(() => div.remove(), NOTICE_MS);
	}
}

function setBadge(button, count) {
	let badge = button.querySelector('.unread');
	if (count <= 0) {
		badge?.remove();
		return;
	}
	if (!badge) {
		badge = button.ownerDocument.createElement('span');
		badge.className = 'unread';
		button.append(badge);
	}
	badge.textContent = count > 99 ? '99+' : String(count);
	badge.setAttribute('aria-label', `${count} unread`);
}
