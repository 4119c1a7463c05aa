// End-to-end: what the browser client does for a returning user and a
// modern chat. A reload (and a browser closed and opened again) keeps the
// nick, rooms and viewed room and catches up exactly; forgetting starts
// over. Shift+Enter writes multi-line messages; http(s) URLs are links and
// nothing else is; date separators split days (timestamps seeded in the
// SQLite file); a hidden page notifies and badges its title.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe } from 'node:test';

import {
	browserSuite, ChatPage, consistently, eventually, screenshot, serverHistory, shownOnce, WsClient,
} from './lib.mjs';

const DAY_MS = 24 * 3600 * 1000;

describe('the browser client for a returning user', () => {
	let tmp;
	let server;
	let browser;
	const { page, scenario, done } = browserSuite({ bind: (s) => ({ tmp, server, browser } = s) });

	const roomsOf = (p) => p.page.$$eval('#rooms li', (l) => l.map((li) => li.dataset.room));
	const ids = async (p) => (await p.messages()).map((m) => m.id);
	const serverIds = async (room) => (await serverHistory(server.wsUrl, room)).map((m) => String(m.id));

	async function bot(nick, room, texts) {
		const c = await WsClient.connect(server.wsUrl);
		try {
			await c.join(room, { nick });
			return await c.say(room, texts);
		} finally {
			c.close();
		}
	}

	scenario('reload keeps nick, rooms and viewed room, and catches up exactly; forget starts over', async () => {
		const rita = await page('rita');
		await rita.setNick('rita');
		await rita.join('keep-a');
		await rita.join('keep-b');
		await rita.say('rita in keep-b');
		await rita.show('keep-a');
		await rita.say('rita in keep-a');
		await shownOnce(rita, 'rita in keep-a', 'rita');
		await bot('kim', 'keep-a', ['kim before the reload']);
		await shownOnce(rita, 'kim before the reload', 'kim');

		// A reload: same nick, same rooms in the same order, same viewed room,
		// and the same lines (ids equal to the server's), none twice.
		const socketsBefore = rita.sockets.length;
		await rita.page.reload({ waitUntil: 'load' });
		await rita.waitConnected();
		await eventually('rita: nick and rooms back after the reload', async () => {
			assert.equal(await rita.page.locator('#my-nick').textContent(), 'rita');
			assert.deepEqual(await roomsOf(rita), ['lobby', 'keep-a', 'keep-b']);
			assert.equal(await rita.page.locator('#rooms li.joining').count(), 0);
		});
		await rita.waitViewing('keep-a');
		const want = await serverIds('keep-a');
		await eventually('rita: keep-a lines equal the server history', async () => assert.deepEqual(await ids(rita), want));
		const joins = rita.sentFrames('join').slice(socketsBefore).flat();
		const joinA = joins.find((f) => f.room === 'keep-a');
		assert.equal(joinA?.since, Number(want.at(-1)), `keep-a rejoined with since = last id seen: ${JSON.stringify(joins)}`);

		// The browser closed, people talk, the browser opens again: the
		// missed lines are caught up (unread in the room not viewed), no gap.
		const state = await rita.context.storageState();
		await done(rita);
		await bot('kim', 'keep-b', ['kim while rita was away 1', 'kim while rita was away 2']);
		await bot('kim', 'keep-a', ['kim in keep-a while away']);
		const back = await page('rita again', { storageState: state });
		await eventually('rita again: nick, rooms, viewed room', async () => {
			assert.equal(await back.page.locator('#my-nick').textContent(), 'rita');
			assert.deepEqual(await roomsOf(back), ['lobby', 'keep-a', 'keep-b']);
		});
		await back.waitViewing('keep-a');
		const wantA = await serverIds('keep-a');
		await eventually('rita again: keep-a equals the server', async () => assert.deepEqual(await ids(back), wantA));
		await eventually('rita again: 2 unread in keep-b', async () => assert.equal(await back.unread('keep-b'), '2'));
		await back.show('keep-b');
		const wantB = await serverIds('keep-b');
		await eventually('rita again: keep-b equals the server', async () => assert.deepEqual(await ids(back), wantB));
		await consistently('no duplicate shows up late', async () => {
			assert.deepEqual(await ids(back), wantB);
			assert.equal((await back.messagesWithText('kim while rita was away 1')).length, 1);
		});
		await back.say('rita is back');
		await shownOnce(back, 'rita is back', 'rita');
		await screenshot([back], 'reload.png', browser);

		// Forget: a new guest in the lobby only, and it stays forgotten.
		await back.reveal('#forget-button');
		await back.page.locator('#forget-button').click();
		await back.waitConnected();
		await eventually('forgotten: a guest in the lobby', async () => {
			assert.match(await back.page.locator('#my-nick').textContent(), /^guest-[0-9a-f]+$/);
			assert.deepEqual(await roomsOf(back), ['lobby']);
		});
		await back.page.reload({ waitUntil: 'load' });
		await back.waitConnected();
		await eventually('still forgotten after another reload', async () => {
			assert.match(await back.page.locator('#my-nick').textContent(), /^guest-[0-9a-f]+$/);
			assert.deepEqual(await roomsOf(back), ['lobby']);
		});
		await done(back);
	});

	scenario('Shift+Enter starts a new line, Enter sends; the lines arrive as sent, as text', async () => {
		const mona = await page('mona');
		const ned = await page('ned');
		await mona.setNick('mona');
		await ned.setNick('ned');
		await mona.join('lines');
		await ned.join('lines');
		const input = mona.page.locator('#message-input');
		await input.click();
		await input.pressSequentially('first line');
		await input.press('Shift+Enter');
		await input.pressSequentially('second <b>line</b>');
		await input.press('Shift+Enter');
		await input.press('Shift+Enter');
		await input.pressSequentially('fourth');
		assert.equal(await input.inputValue(), 'first line\nsecond <b>line</b>\n\nfourth', 'Shift+Enter did not send');
		assert.equal(await mona.page.locator('#messages li.message').count(), 0, 'nothing sent yet');
		await input.press('Enter');
		await eventually('mona: input cleared', async () => assert.equal(await input.inputValue(), ''));
		const text = 'first line\nsecond <b>line</b>\n\nfourth';
		for (const p of [mona, ned]) {
			const m = await shownOnce(p, text, 'mona');
			assert.equal(m.textChildren, 0, `${p.name}: no element in .text`);
			// Shown on four lines, not flattened.
			const lines = await p.page.locator(`#messages li.message[data-id="${m.id}"] .text`).evaluate((t) => {
				const lh = parseFloat(getComputedStyle(t).lineHeight);
				return Math.round(t.getBoundingClientRect().height / lh);
			});
			assert.equal(lines, 4, `${p.name}: rendered lines`);
		}
		const hist = await serverHistory(server.wsUrl, 'lines');
		assert.equal(hist.at(-1).text, text, 'the server stored the newlines');
		await screenshot([mona, ned], 'multiline.png', browser);
		await done(mona, ned);
	});

	scenario('http(s) URLs are links with noopener noreferrer in a new tab; javascript: and others stay text', async () => {
		const olga = await page('olga');
		const pete = await page('pete');
		await olga.setNick('olga');
		await pete.setNick('pete');
		await olga.join('links');
		await pete.join('links');
		const text = 'see https://example.com/a?b=1&c=2, (also http://example.org/wiki/X_(y)). ' +
			'not javascript:alert(document.domain) nor data:text/html,<b>x</b> nor ftp://example.net/f';
		await olga.say(text);
		await olga.say('javascript:window.__xss=1');
		for (const p of [olga, pete]) {
			await shownOnce(p, text, 'olga');
			await shownOnce(p, 'javascript:window.__xss=1', 'olga');
			const links = await p.page.$$eval('#messages a', (as) => as.map((a) => ({
				href: a.getAttribute('href'), text: a.textContent, rel: a.getAttribute('rel'), target: a.getAttribute('target'),
				attrs: a.getAttributeNames().sort(), inText: a.parentElement.classList.contains('text'),
			})));
			const attrs = ['href', 'rel', 'target'];
			assert.deepEqual(links, [
				{ href: 'https://example.com/a?b=1&c=2', text: 'https://example.com/a?b=1&c=2', rel: 'noopener noreferrer', target: '_blank', attrs, inText: true },
				{ href: 'http://example.org/wiki/X_(y)', text: 'http://example.org/wiki/X_(y)', rel: 'noopener noreferrer', target: '_blank', attrs, inText: true },
			], `${p.name}: exactly the two http(s) links`);
			const js = (await p.messagesWithText('javascript:window.__xss=1'))[0];
			assert.equal(js.textChildren, 0, `${p.name}: a javascript: URL stays text`);
			assert.equal(await p.page.locator('#messages b').count(), 0);
		}
		// Clicking the link opens a new tab (not this one), without an opener.
		// The tab's request is answered here: nothing leaves 127.0.0.1.
		await pete.context.route('https://example.com/**', (r) => r.fulfill({ body: 'ok', contentType: 'text/plain' }));
		const [popup] = await Promise.all([
			pete.context.waitForEvent('page'),
			pete.page.locator('#messages a').first().click(),
		]);
		assert.equal(await popup.evaluate(() => window.opener), null, 'no window.opener in the new tab');
		await popup.close();
		assert.match(pete.page.url(), /^http:\/\/127\.0\.0\.1:/, 'the chat stayed in its tab');
		assert.equal(await pete.page.evaluate(() => typeof window.__xss), 'undefined');
		await screenshot([olga], 'links.png', browser);
		await done(olga, pete);
	});

	scenario('a hidden page notifies (opt-in) and badges its title; mentions are highlighted', async () => {
		// The test stands in for the OS: it records each notification the page
		// creates, and decides whether the page is hidden.
		const initScript = () => {
			window.__notifications = [];
			const Real = window.Notification;
			window.Notification = class extends Real {
				constructor(title, opts) {
					super(title, opts);
					window.__notifications.push({ title, body: opts?.body ?? '', tag: opts?.tag ?? '' });
				}
			};
			let hidden = false;
			Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
			Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
			window.__setHidden = (h) => {
				hidden = h;
				document.dispatchEvent(new Event('visibilitychange'));
			};
		};
		const nora = await page('nora', { permissions: ['notifications'], initScript });
		await nora.setNick('nora');
		await nora.join('notify');
		const notes = () => nora.page.evaluate(() => window.__notifications);
		const title = () => nora.page.title();

		// Off until asked for: a hidden page does not notify yet.
		assert.equal(await nora.page.locator('#notify-button').getAttribute('aria-pressed'), 'false');
		await nora.page.evaluate(() => window.__setHidden(true));
		await bot('sam', 'notify', ['before opting in']);
		await eventually('nora: title badge (1)', async () => assert.match(await title(), /^\(1\) #notify · chatd$/));
		assert.deepEqual(await notes(), [], 'no notification before opting in');
		await nora.page.evaluate(() => window.__setHidden(false));
		await eventually('nora: badge gone when shown', async () => assert.equal(await title(), '#notify · chatd'));

		await nora.page.locator('#notify-button').click();
		await eventually('nora: notifications on', async () => assert.equal(await nora.page.locator('#notify-button').getAttribute('aria-pressed'), 'true'));
		// Visible: no notification.
		await bot('sam', 'notify', ['while she looks']);
		await shownOnce(nora, 'while she looks', 'sam');
		await consistently('no notification while visible', async () => assert.deepEqual(await notes(), []), 400);

		await nora.page.evaluate(() => window.__setHidden(true));
		await bot('sam', 'notify', ['hey @nora, lunch?', 'anyone else?']);
		await eventually('nora: two notifications', async () => assert.deepEqual(await notes(), [
			{ title: 'sam mentioned you in #notify', body: 'hey @nora, lunch?', tag: 'chatd:notify' },
			{ title: 'sam in #notify', body: 'anyone else?', tag: 'chatd:notify' },
		]));
		await eventually('nora: title badge (2)', async () => assert.match(await title(), /^\(2\) #notify · chatd$/));
		await nora.page.evaluate(() => window.__setHidden(false));
		await eventually('nora: badge cleared', async () => assert.equal(await title(), '#notify · chatd'));

		const lines = await nora.page.$$eval('#messages li.message', (l) => l.map((li) => [li.querySelector('.text').textContent, li.classList.contains('mention')]));
		assert.deepEqual(lines.filter(([, m]) => m).map(([t]) => t), ['hey @nora, lunch?'], 'only the mention is highlighted');
		// The choice is remembered.
		await nora.page.reload({ waitUntil: 'load' });
		await nora.waitConnected();
		assert.equal(await nora.page.locator('#notify-button').getAttribute('aria-pressed'), 'true', 'still on after a reload');
		await screenshot([nora], 'mention.png', browser);
		await done(nora);
	});
});

// Messages from three days: written by a client, then their timestamps
// moved back in the SQLite file while chatd is stopped (the file is the
// server's only memory of them), then chatd started on it again.
describe('date separators', () => {
	let tmp;
	let server;
	let browser;
	const { scenario, track, gone, restart } = browserSuite({ bind: (s) => ({ tmp, server, browser } = s) });

	scenario('"Today", "Yesterday" and a date between days; a tap shows the full time', () => daysScenario());

	async function daysScenario() {
		const room = 'days';
		const c = await WsClient.connect(server.wsUrl);
		try {
			await c.join(room, { nick: 'uma' });
			await c.say(room, ['three days ago, morning', 'three days ago, evening', 'yesterday', 'today']);
		} finally {
			c.close();
		}
		const old = server;
		gone();
		await old.stop();
		// Noon UTC of the day n days back (the pages run in UTC).
		const noon = (n) => {
			const d = new Date(Date.now() - n * DAY_MS);
			return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 12, 0, 0);
		};
		const tsById = { 1: noon(3) - 3 * 3600 * 1000, 2: noon(3) + 7 * 3600 * 1000, 3: noon(1) };
		const sql = Object.entries(tsById).map(([id, ts]) => `UPDATE messages SET ts = ${ts} WHERE room = '${room}' AND id = ${id};`).join('\n');
		execFileSync('sqlite3', [tmp.db], { input: sql });
		await restart();

		const vera = track(await ChatPage.open(browser, server, { name: 'vera', viewport: { width: 390, height: 844 }, mobile: true }));
		await vera.setNick('vera');
		await vera.join(room);
		const hist = await serverHistory(server.wsUrl, room);
		assert.deepEqual(hist.map((m) => m.ts).slice(0, 3), [tsById[1], tsById[2], tsById[3]], 'seeded timestamps served');
		const dateLabel = new Date(tsById[1]).toLocaleDateString('en-US', { timeZone: 'UTC', weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
		// Presence lines ("vera joined") are today's too; left out here.
		const rows = () => vera.page.$$eval('#messages > li:not(.system)', (l) => l.map((li) => (li.classList.contains('day-separator')
			? `-- ${li.textContent} --` : li.querySelector('.text')?.textContent ?? `(${li.className})`)));
		await eventually('vera: separators between the days', async () => assert.deepEqual(await rows(), [
			`-- ${dateLabel} --`, 'three days ago, morning', 'three days ago, evening',
			'-- Yesterday --', 'yesterday',
			'-- Today --', 'today',
		]));
		// A line of today sent now joins today's group, no new separator.
		await vera.say('also today');
		await shownOnce(vera, 'also today', 'vera');
		assert.equal((await rows()).filter((r) => r === '-- Today --').length, 1, 'one Today separator');

		// Touch: tapping the line shows its full timestamp; tapping again hides it.
		const line = vera.page.locator('#messages li.message[data-id="3"]');
		const full = line.locator('.full-time');
		assert.equal(await full.evaluate((e) => e.getBoundingClientRect().width <= 1), true, 'full time hidden at first');
		await line.locator('.text').tap();
		await eventually('vera: full timestamp shown', async () => {
			assert.equal(await full.evaluate((e) => e.getBoundingClientRect().width > 40), true);
			assert.equal(await full.textContent(), new Date(tsById[3]).toLocaleString('en-US', { timeZone: 'UTC' }));
		});
		await vera.page.locator('#messages').evaluate((ul) => {
			ul.scrollTop = 0;
		});
		await screenshot([vera], 'days.png', browser);
		await line.locator('.text').tap();
		await eventually('vera: full timestamp hidden again', async () => assert.equal(await full.evaluate((e) => e.getBoundingClientRect().width <= 1), true));
		vera.assertClean();
	}
});
