// Entry point: wires the WebSocket connection, the chat client and the page.

import { ChatClient } from './chat.js';
import { Connection } from './connection.js';
import { chatUrl, SUBPROTOCOL } from './protocol.js';
import { Ui } from './ui.js';

const ui = new Ui(document);
let client = null;
const conn = new Connection(chatUrl(location), {
	protocol: SUBPROTOCOL,
	onFrame: (frame) => client.handleFrame(frame),
	onState: (state, retryAt) => {
		ui.setStatus(state, retryAt);
		client?.connectionChanged(state);
	},
});
client = new ChatClient(conn, ui);
ui.attach(client, { retryNow: () => conn.retryNow() });
ui.viewChanged(null);
ui.roomsChanged();
// Coming back online is a better signal than any backoff timer.
addEventListener('online', () => conn.retryNow());
conn.start();
