// The classic socket.io chat page, against chatd, in Chromium: the page of
// socket.io's "Get started" tutorial as its last step leaves it
// (classic/: `var socket = io()`, `socket.emit('chat message', ...)`,
// `socket.on('chat message', ...)`), loaded from chatd in two tabs, with
// /socket.io/socket.io.js served by chatd from the pinned socket.io-client
// package, as socket.io's Node server serves it. Its markup, styles and
// script are the tutorial's, but the script and the styles sit in
// main.js and style.css instead of inline: chatd's Content-Security-Policy
// (lws's best-practice headers, `script-src 'self'; style-src 'self'`)
// refuses inline ones. A native client (protocol v1) watches the same
// lobby; messages go every way between the tabs and it. The engine starts
// on HTTP long-polling (io()'s default) and upgrades to a WebSocket.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { eventually, launchBrowser, OUT, startChatd, tempDir, TIMEOUT, WsClient } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLASSIC = path.join(here, 'classic');

describe('the classic socket.io chat page', () => {
	let tmp;
	let server;
	let browser;
	let context;
	const problems = [];

	before(async () => {
		tmp = tempDir();
		server = await startChatd({ db: tmp.db, www: CLASSIC });
		browser = await launchBrowser();
	});

	after(async () => {
		await context?.close().catch(() => {});
		await browser?.close().catch(() => {});
		try {
			if (server) await server.stop(); // asserts exit code 0
		} finally {
			tmp?.remove();
		}
	});

	// A tab on the classic page, recording console errors, uncaught
	// exceptions, failed loads and requests to anywhere but chatd.
	async function tab(name) {
		const page = await context.newPage();
		// A failed load is reported by its response, with its URL; the
		// page has no favicon (the tutorial's has none), whose 404 is
		// Chromium's own request.
		page.on('console', (m) => {
			if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
				problems.push(`${name}: console: ${m.text()}`);
		});
		page.on('response', (r) => {
			if (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico')
				problems.push(`${name}: ${r.status()} for ${r.url()}`);
		});
		page.on('pageerror', (e) => problems.push(`${name}: exception: ${e.message}`));
		page.on('request', (r) => {
			const own = server.url.replace(/^http/, 'ws');
			if (!r.url().startsWith(server.url) && !r.url().startsWith(own))
				problems.push(`${name}: request to ${r.url()}`);
		});
		await page.goto(server.url);
		return page;
	}

	const shown = (page) => page.$$eval('#messages > li', (items) => items.map((li) => li.textContent));

	async function send(page, text) {
		await page.fill('#input', text);
		await page.press('#input', 'Enter');
	}

	test('two tabs and a native client talk, both ways, over polling then a WebSocket', async () => {
		context = await browser.newContext({ viewport: { width: 520, height: 360 } });
		const native = await WsClient.connect(server.wsUrl);
		const a = await tab('tab A');
		const b = await tab('tab B');
		// Both tabs are guests in the lobby: the native client sees them
		// join (it joined first).
		await native.next((f) => f.type === 'presence' && f.event === 'join', 'presence join of tab A');
		await native.next((f) => f.type === 'presence' && f.event === 'join', 'presence join of tab B');
		for (const page of [a, b]) {
			await eventually('the page is connected', async () =>
				assert.equal(await page.evaluate(() => socket.connected), true));
		}

		await send(a, 'hello from tab A');
		for (const page of [a, b]) {
			await eventually('tab A\'s message in both tabs', async () =>
				assert.deepEqual(await shown(page), ['hello from tab A']));
		}
		const fromA = await native.next((f) => f.type === 'message', 'tab A\'s message at the native client');
		assert.equal(fromA.text, 'hello from tab A');
		assert.equal(fromA.room, 'lobby');

		native.send({ type: 'message', text: 'hello from the native client <b>&' });
		for (const page of [a, b]) {
			await eventually('the native message in both tabs', async () =>
				assert.deepEqual(await shown(page), ['hello from tab A', 'hello from the native client <b>&']));
		}

		await send(b, 'hello from tab B');
		for (const page of [a, b]) {
			await eventually('tab B\'s message in both tabs', async () =>
				assert.deepEqual(await shown(page),
					['hello from tab A', 'hello from the native client <b>&', 'hello from tab B']));
		}
		const fromB = await native.next((f) => f.type === 'message' && f.text === 'hello from tab B', 'tab B\'s message at the native client');
		assert.ok(fromB.id > fromA.id);
		// The input is cleared after each send, as the page does.
		assert.equal(await b.inputValue('#input'), '');

		// io() started on polling and moved to a WebSocket.
		for (const page of [a, b]) {
			await eventually('the upgrade to a WebSocket', async () =>
				assert.equal(await page.evaluate(() => socket.io.engine.transport.name), 'websocket'), { timeout: TIMEOUT });
		}
		mkdirSync(OUT, { recursive: true });
		await a.screenshot({ path: path.join(OUT, 'classic-socketio.png') });
		assert.deepEqual(problems, []);
		native.close();
	});
});
