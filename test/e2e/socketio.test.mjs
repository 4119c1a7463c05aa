// The classic socket.io chat's test, against chatd: socket.io-client 4.x
// from npm (pinned in package-lock.json), with its default transports
// (long-polling, then the upgrade to a WebSocket), with polling alone, and
// with `transports: ['websocket']`. It emits "chat message" "hello world"
// and gets "hello world" back, as with the Node server; a second
// client and a native client (the ws package, protocol v1) in the lobby
// see it too, and a native message comes to both as "chat message". Also
// an ack, a namespace refused, chatd's pings answered by the client
// (--ping-interval 1, so several fall within the test), a disconnect, and
// the log lines.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { HOST, TIMEOUT, WsClient, need, sleep, startChatd, tempDir, within } from './lib.mjs';

const { io } = need('socket.io-client');

// Resolves with the next `event` of socket (its first argument).
function next(socket, event, what = event) {
	return within(`${what}`, new Promise((resolve) => socket.once(event, resolve)));
}

// A client as the classic page makes one, connected.
async function connect(url, opts = {}) {
	const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...opts });
	await next(socket, 'connect', 'socket.io connect');
	return socket;
}

describe('socket.io clients (the classic chat and its test)', () => {
	let tmp;
	let server;
	let url;
	const sockets = [];

	before(async () => {
		tmp = tempDir();
		server = await startChatd({ db: tmp.db, args: ['--ping-interval', '1'] });
		url = `http://${HOST}:${server.port}`;
	});

	after(async () => {
		for (const s of sockets) s.close();
		try {
			if (server) await server.stop();
		} finally {
			tmp?.remove();
		}
	});

	async function client(opts) {
		const s = await connect(url, opts);
		sockets.push(s);
		return s;
	}

	test('emit "chat message" "hello world": it comes back', async () => {
		const socket = await client();
		const got = next(socket, 'chat message');
		socket.emit('chat message', 'hello world');
		assert.equal(await got, 'hello world');
	});

	test('with the default transports (polling first, then the upgrade): "hello world" comes back', async () => {
		// io(url) as the classic page and test call it: no transports
		// option, so the engine starts on HTTP long-polling and moves to
		// a WebSocket once its probe succeeds.
		const socket = io(url, { reconnection: false, forceNew: true });
		sockets.push(socket);
		const first = next(socket.io, 'open', 'the engine open').then(() => socket.io.engine.transport.name);
		await next(socket, 'connect', 'socket.io connect');
		assert.equal(await first, 'polling');
		const got = next(socket, 'chat message');
		socket.emit('chat message', 'hello world');
		assert.equal(await got, 'hello world');
		if (socket.io.engine.transport.name !== 'websocket')
			await next(socket.io.engine, 'upgrade', 'the upgrade to websocket');
		assert.equal(socket.io.engine.transport.name, 'websocket');
		const after = next(socket, 'chat message', 'after the upgrade');
		socket.emit('chat message', 'hello again');
		assert.equal(await after, 'hello again');
	});

	test('polling alone: echo, a native message, and pings that keep it connected', async () => {
		const native = await WsClient.connect(server.wsUrl);
		const socket = io(url, { transports: ['polling'], reconnection: false, forceNew: true });
		sockets.push(socket);
		let closed = null;
		let pings = 0;
		socket.on('disconnect', (reason) => { closed = reason; });
		await next(socket, 'connect', 'socket.io connect over polling');
		socket.io.engine.on('ping', () => { pings += 1; });
		assert.equal(socket.io.engine.transport.name, 'polling');
		await native.next((f) => f.type === 'presence' && f.event === 'join', 'presence join');
		const got = next(socket, 'chat message');
		socket.emit('chat message', 'hello world');
		assert.equal(await got, 'hello world');
		const m = await native.next((f) => f.type === 'message', 'the message at the native client');
		assert.equal(m.text, 'hello world');
		const fromNative = next(socket, 'chat message', 'the native message over polling');
		native.send({ type: 'message', text: 'from native' });
		assert.equal(await fromNative, 'from native');
		// --ping-interval 1: pings come in poll answers, pongs go in
		// POSTs; one missed would close the session within 2 s.
		await sleep(3500);
		assert.ok(pings >= 2, `${pings} pings in 3.5 s`);
		assert.equal(closed, null);
		assert.equal(socket.connected, true);
		assert.deepEqual(await socket.timeout(TIMEOUT).emitWithAck('chat message', 'acked'), { status: 'ok' });
		native.close();
	});

	test('a second client and a native client see it; a native message reaches both', async () => {
		const native = await WsClient.connect(server.wsUrl);
		const a = await client();
		const b = await client();
		// chatd names socket.io clients like any guest; the native client
		// sees them join the lobby.
		const joinA = await native.next((f) => f.type === 'presence' && f.event === 'join', 'presence join of a');
		await native.next((f) => f.type === 'presence' && f.event === 'join', 'presence join of b');

		const atA = next(a, 'chat message', 'a: chat message');
		const atB = next(b, 'chat message', 'b: chat message');
		a.emit('chat message', 'from socket.io <b>&"é😀');
		assert.equal(await atA, 'from socket.io <b>&"é😀');
		assert.equal(await atB, 'from socket.io <b>&"é😀');
		const m = await native.next((f) => f.type === 'message', 'the message frame');
		assert.equal(m.room, 'lobby');
		assert.equal(m.text, 'from socket.io <b>&"é😀');
		assert.equal(m.nick, joinA.nick);
		assert.ok(Number.isInteger(m.id) && m.id > 0);

		const fromNativeA = next(a, 'chat message', 'a: the native message');
		const fromNativeB = next(b, 'chat message', 'b: the native message');
		native.send({ type: 'message', text: 'from native' });
		assert.equal(await fromNativeA, 'from native');
		assert.equal(await fromNativeB, 'from native');
		native.close();
	});

	test('an ack answers an event', async () => {
		const socket = await client();
		assert.deepEqual(await socket.timeout(TIMEOUT).emitWithAck('chat message', 'acked'), { status: 'ok' });
		const refused = await socket.timeout(TIMEOUT).emitWithAck('another event', 1, { a: [2] });
		assert.equal(refused.status, 'error');
		assert.equal(refused.code, 'unknown_type');
		const notText = await socket.timeout(TIMEOUT).emitWithAck('chat message', { text: 'x' });
		assert.equal(notText.status, 'error');
		assert.equal(notText.code, 'bad_request');
	});

	test('a namespace other than / is refused', async () => {
		const socket = io(`${url}/admin`, { transports: ['websocket'], reconnection: false, forceNew: true });
		sockets.push(socket);
		const err = await next(socket, 'connect_error', 'connect_error for /admin');
		assert.equal(err.message, 'Invalid namespace');
		assert.equal(socket.connected, false);
	});

	test("chatd's pings are answered and keep the client connected", async () => {
		const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
		sockets.push(socket);
		// The engine exists from io() on; its handshake is the open packet.
		const handshake = next(socket.io.engine, 'handshake', 'the open packet');
		await next(socket, 'connect', 'socket.io connect');
		let pings = 0;
		let closed = null;
		socket.io.engine.on('ping', () => { pings += 1; });
		socket.on('disconnect', (reason) => { closed = reason; });
		// pingInterval and pingTimeout are --ping-interval's 1 s: a
		// client that did not answer would be closed within 2 s, and one
		// that got no pings would close itself as soon.
		const h = await handshake;
		assert.equal(h.pingInterval, 1000);
		assert.equal(h.pingTimeout, 1000);
		assert.deepEqual(h.upgrades, []);
		await sleep(3500);
		assert.ok(pings >= 2, `${pings} pings in 3.5 s`);
		assert.equal(closed, null);
		assert.equal(socket.connected, true);
		const got = next(socket, 'chat message');
		socket.emit('chat message', 'still here');
		assert.equal(await got, 'still here');
	});

	test('a disconnect leaves the lobby, and both ends are logged', async () => {
		const native = await WsClient.connect(server.wsUrl);
		const socket = await client();
		const join = await native.next((f) => f.type === 'presence' && f.event === 'join', 'presence join');
		socket.disconnect();
		const leave = await native.next((f) => f.type === 'presence' && f.event === 'leave', 'presence leave');
		assert.equal(leave.nick, join.nick);
		native.close();
		const line = new RegExp(`session \\d+: socket\\.io disconnected from 127\\.0\\.0\\.1 \\(${join.nick}\\)`);
		await within('the disconnect line', (async () => {
			while (!line.test(server.stderr)) await sleep(50);
		})());
		assert.match(server.stderr, new RegExp(`socket\\.io connected from 127\\.0\\.0\\.1 as ${join.nick}`));
	});
});
