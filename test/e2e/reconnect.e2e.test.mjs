// End-to-end: chatd stops (SIGTERM) and comes back on the same port with the
// same --db while two pages are open. The pages show the outage, reconnect by
// themselves, and a message typed during the outage is queued, resent with its
// cid and shown exactly once in both pages, with no gap and no duplicate.
// Then the harder case: a message sent on a live connection whose echo never
// comes back, because chatd froze (SIGSTOP) with the frame unread and then
// died (SIGKILL): the page must send it again after the restart, with the
// same cid, and show it once.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe } from 'node:test';

import {
	browserSuite, ChatPage, consistently, eventually, screenshot, serverHistory, shownOnce, sleep, TIMEOUT, WsClient,
} from './lib.mjs';

describe('chatd restart under open pages', () => {
	let server;
	let browser;
	const { scenario, track, gone, restart } = browserSuite({ fixedPort: true, bind: (s) => ({ server, browser } = s) });

	scenario('pages reconnect by themselves; a message queued offline is shown once, no gap, no duplicate', () => restartScenario());

	async function restartScenario() {
		const room = 'restart';
		const ivan = track(await ChatPage.open(browser, server, { name: 'ivan' }));
		const judy = track(await ChatPage.open(browser, server, { name: 'judy' }));
		await ivan.setNick('ivan');
		await judy.setNick('judy');
		await ivan.join(room);
		await judy.join(room);
		await ivan.say('before the restart 1');
		await judy.say('before the restart 2');
		for (const p of [ivan, judy]) {
			await shownOnce(p, 'before the restart 1', 'ivan');
			await shownOnce(p, 'before the restart 2', 'judy');
		}

		// chatd goes away: both pages say so. Chromium logs each refused
		// WebSocket as a console error from here until they are back.
		for (const p of [ivan, judy]) p.allowWsFailures = true;
		const old = server;
		gone();
		await old.stop(); // asserts exit code 0
		for (const p of [ivan, judy]) {
			await eventually(`${p.name}: #status[data-state=disconnected]`, async () => {
				assert.equal(await p.state(), 'disconnected');
				assert.match(await p.page.locator('#status').textContent(), /^Disconnected/);
				assert.equal(await p.page.locator('#reconnect-button').isVisible(), true, '#reconnect-button shown');
			});
		}

		// Typed while offline: queued as a pending line.
		const offline = 'typed while the server was down';
		await ivan.say(offline);
		const pending = await eventually('ivan: the offline message pending', async () => {
			const found = await ivan.messagesWithText(offline);
			assert.equal(found.length, 1);
			assert.equal(found[0].pending, true, 'li.message.pending');
			assert.equal(found[0].id, null, 'no data-id yet');
			assert.ok(found[0].cid, 'has a data-cid');
			assert.equal(found[0].status, 'sending…');
			return found[0];
		});
		// Stay down through a few failed reconnect attempts.
		await sleep(1500);
		for (const p of [ivan, judy]) assert.notEqual(await p.state(), 'connected', `${p.name} still offline`);
		assert.equal((await ivan.messagesWithText(offline))[0].pending, true, 'still pending while down');

		// Same port, same --db. Someone else talks before the pages are back:
		// the pages must catch up on it (no gap).
		await restart();
		const carl = await WsClient.connect(server.wsUrl);
		try {
			await carl.join(room, { nick: 'carl' });
			await carl.say(room, ['said while the pages were reconnecting']);
		} finally {
			carl.close();
		}

		for (const p of [ivan, judy]) {
			await eventually(`${p.name}: reconnected`, async () => {
				assert.equal(await p.state(), 'connected');
				assert.equal(await p.page.locator(`#rooms li[data-room="${room}"].joining`).count(), 0);
			}, { timeout: Math.max(TIMEOUT, 20000) }); // the backoff may be a few seconds by now
		}
		for (const p of [ivan, judy]) {
			const m = await shownOnce(p, offline, 'ivan');
			assert.equal(m.cid, pending.cid, `${p.name}: resent with the cid it was queued with`);
			await shownOnce(p, 'said while the pages were reconnecting', 'carl');
		}
		assert.equal(await ivan.page.locator('#messages li.pending').count(), 0, 'nothing left pending');
		for (const p of [ivan, judy]) {
			assert.equal(await p.page.locator('#my-nick').textContent(), p.nick, `${p.name} kept the nick`);
		}
		await eventually('both members back in the room', async () => {
			assert.deepEqual(await ivan.members(), ['ivan', 'judy']);
			assert.deepEqual(await judy.members(), ['ivan', 'judy']);
		});
		for (const p of [ivan, judy]) p.allowWsFailures = false;

		// And it keeps working both ways.
		await judy.say('after the restart');
		await shownOnce(ivan, 'after the restart', 'judy');
		await shownOnce(judy, 'after the restart', 'judy');

		await screenshot([ivan, judy], 'reconnect.png', browser);

		// Each page shows exactly the server's messages: same ids, same order,
		// no gap, no duplicate; the resend was stored once.
		const hist = await serverHistory(server.wsUrl, room);
		assert.equal(hist.filter((m) => m.cid === pending.cid).length, 1, 'the server stored the resend once');
		assert.deepEqual(hist.map((m) => m.id), hist.map((_, i) => i + 1), 'server ids 1..n');
		const want = hist.map((m) => ({ id: String(m.id), text: m.text, pending: false }));
		await consistently('pages match the server history', async () => {
			for (const p of [ivan, judy]) {
				const got = (await p.messages()).map((m) => ({ id: m.id, text: m.text, pending: m.pending }));
				assert.deepEqual(got, want, `${p.name}: data-id list vs the server's history`);
			}
		}, 1000);
		for (const p of [ivan, judy]) p.assertClean();
	}
});

describe('chatd dies with a sent message unanswered', () => {
	let tmp;
	let server;
	let browser;
	const { scenario, track, gone, restart } = browserSuite({ fixedPort: true, bind: (s) => ({ tmp, server, browser } = s) });

	scenario('a message sent while connected, its echo lost to a crash, is resent after the restart and shown once', () => crashScenario());

	async function crashScenario() {
		const room = 'crash';
		const pat = track(await ChatPage.open(browser, server, { name: 'pat' }));
		await pat.setNick('pat');
		await pat.join(room);
		await pat.say('before the crash');
		await shownOnce(pat, 'before the crash', 'pat');

		// chatd freezes: the page still believes it is connected and sends.
		server.pause();
		const text = 'sent just before chatd died';
		await pat.say(text);
		const socketsBefore = pat.sockets.length;
		const sent = await eventually('pat: the message frame went out on the open WebSocket', () => {
			const onLast = pat.sentFrames('message').at(-1);
			return onLast.find((f) => f.text === text) ?? false;
		});
		assert.equal(await pat.state(), 'connected', 'sent on a connection the page held for open');
		const pending = (await pat.messagesWithText(text))[0];
		assert.equal(pending.pending, true, 'no echo: still pending');
		assert.equal(pending.cid, sent.cid);

		pat.allowWsFailures = true;
		await server.crash();
		gone();
		await eventually('pat: disconnected', async () => assert.equal(await pat.state(), 'disconnected'));
		// The frame was never read, so it is not stored: only a resend can bring it.
		const stored = execFileSync('sqlite3', [tmp.db, `SELECT count(*) FROM messages WHERE cid = '${sent.cid.replace(/'/g, "''")}'`],
			{ encoding: 'utf8' }).trim();
		assert.equal(stored, '0', 'the frozen chatd never stored the message');

		await restart();
		await eventually('pat: reconnected', async () => assert.equal(await pat.state(), 'connected'),
			{ timeout: Math.max(TIMEOUT, 20000) });
		const m = await shownOnce(pat, text, 'pat');
		assert.equal(m.cid, sent.cid, 'shown with the cid it was first sent with');
		const resent = pat.sentFrames('message').slice(socketsBefore).flat().filter((f) => f.cid === sent.cid);
		assert.equal(resent.length, 1, 'sent again once, on the new connection');
		assert.equal(resent[0].text, text);
		pat.allowWsFailures = false;

		const hist = await serverHistory(server.wsUrl, room);
		assert.equal(hist.filter((h) => h.cid === sent.cid).length, 1, 'stored once');
		await consistently('the page matches the server history', async () => {
			const got = (await pat.messages()).map((x) => ({ id: x.id, text: x.text, pending: x.pending }));
			assert.deepEqual(got, hist.map((h) => ({ id: String(h.id), text: h.text, pending: false })));
		}, 1000);
		pat.assertClean();
	}
});
