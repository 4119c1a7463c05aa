// Desktop notifications (the Notification API), opt-in: nothing is asked
// of the browser until the user turns them on, and a message only
// notifies while the page is hidden. Clicking one brings the tab back to
// that room.

export class Notifier {
	constructor(win, onOpenRoom) {
		this.win = win;
		this.onOpenRoom = onOpenRoom;
		this.enabled = false;
	}

	get supported() {
		return typeof this.win.Notification === 'function';
	}

	get permission() {
		return this.supported ? this.win.Notification.permission : 'denied';
	}

	// Returns whether notifications are on afterwards. Asking must follow a
	// click: browsers ignore permission requests nobody asked for.
	async enable() {
		if (!this.supported) return false;
		let perm = this.permission;
		if (perm === 'default') perm = await this.win.Notification.requestPermission();
		this.enabled = perm === 'granted';
		return this.enabled;
	}

	disable() {
		this.enabled = false;
	}

	// Remembered as on: only still on if the browser still allows it.
	restore(on) {
		this.enabled = on && this.permission === 'granted';
	}

	notify(roomName, nick, text, mention) {
		if (!this.enabled || this.permission !== 'granted') return;
		let n;
		try {
			n = new this.win.Notification(mention ? `${nick} mentioned you in #${roomName}` : `${nick} in #${roomName}`, {
				body: text.length > 200 ? `${text.slice(0, 199)}…` : text,
				tag: `chatd:${roomName}`, // one per room: a busy room replaces, not stacks
			});
		} catch {
			return; // some platforms only allow notifications from a service worker
		}
		n.onclick = () => {
			this.win.focus();
			this.onOpenRoom(roomName);
			n.close();
		};
	}
}
