// Entry point: wires the WebSocket connection, the chat client, the page,
// what the browser remembers between visits and desktop notifications.

import { ChatClient } from './chat.js';
import { Connection } from './connection.js';
import { Memory } from './memory.js';
import { Notifier } from './notifier.js';
import { chatUrl, SUBPROTOCOL } from './protocol.js';
import { Ui } from './ui.js';

const SAVE_DELAY_MS = 300;

const memory = new Memory(storageOrNull());
const saved = memory.load();
const ui = new Ui(document);
let client = null;
const notifier = new Notifier(window, (room) => client.show(room));
notifier.restore(saved?.notify === true);

// Messages arrive in bursts (a replay is hundreds): write once per burst,
// and at once when the page goes away.
let latest = null;
let saveTimer = 0;
const saveNow = () => {
	clearTimeout(saveTimer);
	saveTimer = 0;
	if (latest) memory.save({ ...latest, notify: notifier.enabled });
};
const remember = (state) => {
	latest = state;
	if (!saveTimer) saveTimer = setTimeout(saveNow, SAVE_DELAY_MS);
};

const conn = new Connection(chatUrl(location), {
	protocol: SUBPROTOCOL,
	onFrame: (frame) => client.handleFrame(frame),
	onState: (state, retryAt) => {
		ui.setStatus(state, retryAt);
		client?.connectionChanged(state);
	},
});
client = new ChatClient(conn, ui, saved, remember);
ui.attach(client, {
	retryNow: () => conn.retryNow(),
	notifier,
	notifyChanged: () => remember(client.snapshot()),
	forget: () => {
		memory.forget();
		location.reload();
	},
});
ui.viewChanged(client.rooms.get(client.viewed) ?? null);
ui.roomsChanged();
// Coming back online is a better signal than any backoff timer.
addEventListener('online', () => conn.retryNow());
addEventListener('pagehide', saveNow);
conn.start();

// localStorage throws on access when the user blocks site data.
function storageOrNull() {
	try {
		return window.localStorage;
	} catch {
		return null;
	}
}
