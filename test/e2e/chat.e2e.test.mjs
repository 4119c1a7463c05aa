// End-to-end: the browser client (www/) in headless Chromium against a real
// chatd on 127.0.0.1. One chatd (fresh --db) and one browser for this file;
// each scenario opens its own browser contexts (separate storage, separate
// WebSockets, like separate people), uses its own nicks and rooms, and
// asserts at the end that no page logged a console error, threw, hit a CSP
// violation or requested anything but chatd.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
	browserSuite, consistently, eventually, hhmmUtc, screenshot, serverHistory, shownOnce, sleep, WsClient,
} from './lib.mjs';

describe('chatd in a browser', () => {
	let server;
	let browser;
	const { page, scenario, done } = browserSuite({ bind: (s) => ({ server, browser } = s) });

	scenario('two contexts chat: Enter sends, the line appears once in both with nick and time', async () => {
		const alice = await page('alice');
		const bob = await page('bob');
		await alice.setNick('alice');
		await bob.setNick('bob');
		await eventually('each sees the other in lobby', async () => {
			assert.deepEqual(await alice.members(), ['alice', 'bob']);
			assert.deepEqual(await bob.members(), ['alice', 'bob']);
		});

		const hi = `hello bob, it is ${Date.now()}`;
		await alice.say(hi);
		const inAlice = await shownOnce(alice, hi, 'alice');
		const inBob = await shownOnce(bob, hi, 'alice');
		assert.equal(inAlice.id, inBob.id, 'same id in both pages');
		assert.equal(inAlice.cid, inBob.cid, 'same cid in both pages');
		assert.equal(inAlice.own, true, 'own line in the sender page');
		assert.equal(inBob.own, false, 'not own in the other page');

		const reply = 'hi alice!';
		await bob.say(reply);
		const r1 = await shownOnce(bob, reply, 'bob');
		const r2 = await shownOnce(alice, reply, 'bob');
		assert.equal(r1.id, r2.id);

		// Once, and it stays once (no late echo or replay duplicate).
		await consistently('each line shown once', async () => {
			for (const p of [alice, bob]) {
				assert.equal((await p.messagesWithText(hi)).length, 1);
				assert.equal((await p.messagesWithText(reply)).length, 1);
			}
		});

		await screenshot([alice, bob], 'two-tabs.png', browser);

		// The times shown are the server's timestamps (contexts run in UTC).
		const hist = await serverHistory(server.wsUrl, 'lobby');
		const byId = new Map(hist.map((m) => [String(m.id), m]));
		for (const [m, text] of [[inAlice, hi], [inBob, hi], [r1, reply], [r2, reply]]) {
			const s = byId.get(m.id);
			assert.ok(s, `id ${m.id} in the server's history`);
			assert.equal(s.text, text);
			assert.equal(m.time, hhmmUtc(s.ts), 'HH:MM of the server ts');
		}
		// Both pages show the same message ids as the server, in order.
		const ids = hist.map((m) => String(m.id));
		for (const p of [alice, bob]) assert.deepEqual((await p.messages()).map((m) => m.id), ids, p.name);
		await done(alice, bob);
	});

	scenario('rooms: join a second room, messages stay in their room, unread badge, leave', async () => {
		const carol = await page('carol');
		const dave = await page('dave');
		await carol.setNick('carol');
		await dave.setNick('dave');
		for (const p of [carol, dave]) {
			await p.join('alpha');
			await p.join('beta');
		}
		await dave.show('alpha');
		await eventually('rooms listed in join order', async () => {
			for (const p of [carol, dave]) {
				assert.deepEqual(await p.page.$$eval('#rooms li', (l) => l.map((li) => li.dataset.room)),
					['lobby', 'alpha', 'beta']);
			}
		});
		await eventually('both members in beta for carol', async () => {
			assert.deepEqual(await carol.members(), ['carol', 'dave']);
		});
		assert.equal(await carol.unread('alpha'), null, 'no badge before any message');

		// carol views beta, dave views alpha.
		await dave.say('alpha one');
		await shownOnce(dave, 'alpha one', 'dave');
		await eventually('carol: unread badge 1 on alpha', async () => assert.equal(await carol.unread('alpha'), '1'));
		assert.deepEqual(await carol.messagesWithText('alpha one'), [], 'alpha message not in beta view');

		await carol.say('beta one');
		await shownOnce(carol, 'beta one', 'carol');
		await eventually('dave: unread badge 1 on beta', async () => assert.equal(await dave.unread('beta'), '1'));
		assert.deepEqual(await dave.messagesWithText('beta one'), [], 'beta message not in alpha view');

		await dave.say('alpha two');
		await eventually('carol: unread badge 2 on alpha', async () => assert.equal(await carol.unread('alpha'), '2'));
		assert.equal(await carol.unread('beta'), null, 'no badge on the viewed room');
		assert.equal(await carol.unread('lobby'), null, 'no badge on a quiet room');

		// Viewing alpha clears its badge and shows exactly alpha's lines.
		await carol.show('alpha');
		await eventually('carol: alpha badge cleared', async () => assert.equal(await carol.unread('alpha'), null));
		await shownOnce(carol, 'alpha one', 'dave');
		await shownOnce(carol, 'alpha two', 'dave');
		assert.deepEqual((await carol.messages()).map((m) => m.text), ['alpha one', 'alpha two']);
		await carol.show('beta');
		assert.deepEqual((await carol.messages()).map((m) => m.text), ['beta one']);
		await dave.show('beta');
		await eventually('dave: beta badge cleared', async () => assert.equal(await dave.unread('beta'), null));
		assert.deepEqual((await dave.messages()).map((m) => m.text), ['beta one']);
		await dave.show('alpha');

		// carol leaves beta (the viewed room).
		await carol.page.locator('#leave-button').click();
		await eventually('carol: beta gone from the sidebar, another room viewed', async () => {
			assert.equal(await carol.page.locator('#rooms li[data-room="beta"]').count(), 0);
			assert.notEqual(await carol.page.locator('#room-title').textContent(), 'beta');
			assert.deepEqual(await carol.page.$$eval('#rooms li', (l) => l.map((li) => li.dataset.room)),
				['lobby', 'alpha']);
		});
		await dave.show('beta');
		await eventually('dave: carol left beta', async () => {
			assert.deepEqual(await dave.members(), ['dave']);
			assert.equal(await dave.page.locator('#messages li.system[data-event="leave"]').count(), 1);
		});
		// What is said in beta now does not reach carol.
		await dave.say('beta after carol left');
		await shownOnce(dave, 'beta after carol left', 'dave');
		await consistently('carol does not get beta back', async () => {
			assert.equal(await carol.page.locator('#rooms li[data-room="beta"]').count(), 0);
			assert.deepEqual(await carol.messagesWithText('beta after carol left'), []);
		});
		await carol.show('alpha');
		await screenshot([carol, dave], 'rooms.png', browser);
		await done(carol, dave);
	});

	scenario('member list and typing indicator update in the other context', async () => {
		const erin = await page('erin');
		const frank = await page('frank');
		await erin.setNick('erin');
		await frank.setNick('frank');
		await erin.join('typing-room');
		await eventually('erin alone in typing-room', async () => {
			assert.deepEqual(await erin.members(), ['erin']);
			assert.equal(await erin.page.locator('#member-count').textContent(), '1');
		});
		await frank.join('typing-room');
		await eventually('erin sees frank join', async () => {
			assert.deepEqual(await erin.members(), ['erin', 'frank']);
			assert.equal(await erin.page.locator('#member-count').textContent(), '2');
			assert.equal(await erin.page.locator('#members li.me').textContent(), 'erin');
		});
		assert.deepEqual(await frank.members(), ['erin', 'frank']);
		assert.equal(await erin.page.locator('#typing').textContent(), '');

		// frank types without sending: erin sees it, frank does not see himself.
		await frank.page.locator('#message-input').pressSequentially('hel', { delay: 30 });
		await eventually('erin: "frank is typing…"', async () => {
			assert.equal(await erin.page.locator('#typing').textContent(), 'frank is typing…');
		});
		assert.equal(await frank.page.locator('#typing').textContent(), '');
		await screenshot([erin, frank], 'typing.png', browser);
		// Sending clears it at once in the other page.
		await frank.page.locator('#message-input').pressSequentially('lo', { delay: 30 });
		await frank.page.locator('#message-input').press('Enter');
		await shownOnce(erin, 'hello', 'frank');
		await eventually('erin: typing line cleared by the message', async () => {
			assert.equal(await erin.page.locator('#typing').textContent(), '');
		}, { timeout: 2000 }); // well under the 3 s expiry
		// Typing that stops expires by itself.
		await frank.page.locator('#message-input').pressSequentially('x');
		await eventually('erin: typing again', async () => {
			assert.equal(await erin.page.locator('#typing').textContent(), 'frank is typing…');
		});
		await eventually('erin: typing expired', async () => {
			assert.equal(await erin.page.locator('#typing').textContent(), '');
		}, { timeout: 8000 });

		// A nick change shows in the other member list.
		await frank.setNick('frank2');
		await eventually('erin sees frank2', async () => assert.deepEqual(await erin.members(), ['erin', 'frank2']));
		// frank goes away (his context closes): erin's list drops him.
		await done(frank);
		await eventually('erin: frank2 gone', async () => {
			assert.deepEqual(await erin.members(), ['erin']);
			assert.equal(await erin.page.locator('#member-count').textContent(), '1');
		});
		await screenshot([erin], 'members.png', browser);
		await done(erin);
	});

	scenario('history: a later context sees earlier messages; scrolling to the top loads older ones', async () => {
		const room = 'history-room';
		const total = 120;
		const bot = await WsClient.connect(server.wsUrl);
		const texts = Array.from({ length: total }, (_, i) => `history line ${String(i + 1).padStart(3, '0')}`);
		try {
			await bot.join(room, { nick: 'bot' });
			await bot.say(room, texts);
		} finally {
			bot.close();
		}
		const gina = await page('gina');
		const hank = await page('hank');
		await gina.setNick('gina');
		await hank.setNick('hank');
		await gina.join(room);
		await hank.join(room);
		await gina.say('gina was here');
		await hank.say('hank too');
		await shownOnce(gina, 'hank too', 'hank');
		await shownOnce(hank, 'gina was here', 'gina');

		const server122 = await serverHistory(server.wsUrl, room);
		assert.equal(server122.length, total + 2);
		const want = server122.map((m) => ({ id: String(m.id), text: m.text, nick: m.nick }));

		// The third context, joining later, gets the newest 50 and the "older" control.
		const ivy = await page('ivy');
		await ivy.setNick('ivy');
		await ivy.join(room);
		await eventually('ivy: the newest 50 messages', async () => {
			const got = (await ivy.messages()).map((m) => ({ id: m.id, text: m.text, nick: m.nick }));
			assert.deepEqual(got, want.slice(-50));
		});
		await shownOnce(ivy, 'gina was here', 'gina');
		await shownOnce(ivy, 'hank too', 'hank');
		assert.equal(await ivy.page.locator('#load-older').isVisible(), true, '#load-older shown');
		const list = ivy.page.locator('#messages');
		assert.ok(await list.evaluate((ul) => ul.scrollHeight > ul.clientHeight), '#messages overflows');
		assert.ok(await list.evaluate((ul) => ul.scrollHeight - ul.scrollTop - ul.clientHeight < 48),
			'#messages starts at the bottom');

		// Scroll up with the wheel until everything is there (each load needs a new scroll to the top).
		await eventually('ivy: all 122 messages after scrolling up', async () => {
			await list.hover();
			await ivy.page.mouse.wheel(0, -4000);
			const got = (await ivy.messages()).map((m) => ({ id: m.id, text: m.text, nick: m.nick }));
			assert.deepEqual(got, want);
		}, { interval: 250 });
		await eventually('ivy: #load-older hidden once history is complete', async () => {
			assert.equal(await ivy.page.locator('#load-older').isVisible(), false);
		});
		// Ids: unique, consecutive from 1, exactly the server's.
		const ids = (await ivy.messages()).map((m) => Number(m.id));
		assert.deepEqual(ids, Array.from({ length: total + 2 }, (_, i) => i + 1));
		await list.evaluate((ul) => {
			ul.scrollTop = 0;
		});
		await screenshot([ivy], 'history.png', browser);
		await done(gina, hank, ivy);
	});

	scenario('hostile text is shown literally and runs nothing', async () => {
		const hostile = ['<img src=x onerror=window.__xss=1>', '</script><script>window.__xss=1</script>',
			'<b>not bold</b> & &amp; "quotes" \'single\''];
		const mallory = await page('mallory');
		const nina = await page('nina');
		await mallory.setNick('mallory');
		await nina.setNick('nina');
		await mallory.join('hostile');
		await nina.join('hostile');
		for (const text of hostile) await mallory.say(text);

		async function literal(p) {
			for (const text of hostile) {
				const m = await shownOnce(p, text, 'mallory');
				assert.equal(m.textChildren, 0, `${p.name}: no element inside .text`);
				assert.ok(!m.textHtml.includes('<'), `${p.name}: markup escaped in .text: ${m.textHtml}`);
			}
			assert.equal(await p.page.locator('#messages img, #messages script, #messages b').count(), 0);
		}
		await literal(mallory);
		await literal(nina);
		// A failing image load and its handler would run within a moment.
		await sleep(500);
		// A context that gets them from history (the other rendering path).
		const oscar = await page('oscar');
		await oscar.join('hostile');
		await literal(oscar);
		for (const p of [mallory, nina, oscar]) {
			assert.equal(await p.page.evaluate(() => typeof window.__xss), 'undefined', `${p.name}: window.__xss`);
		}
		await screenshot([mallory, nina], 'hostile.png', browser);
		await done(mallory, nina, oscar);
	});

	scenario('mobile viewport 390x844: input visible, no horizontal scroll', async () => {
		const vw = 390;
		const vh = 844;
		const phone = await page('phone', { viewport: { width: vw, height: vh }, mobile: true });
		// No horizontal scroll, and no message text overflowing (#messages
		// clips sideways, so overflow there means text cut off).
		const noHorizontalScroll = async (when) => {
			const w = await phone.page.evaluate(() => ({
				doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, inner: innerWidth,
				list: document.getElementById('messages').scrollWidth,
				texts: [...document.querySelectorAll('#messages li.message .text')]
					.map((t) => ({ scroll: t.scrollWidth, client: t.clientWidth, right: t.getBoundingClientRect().right })),
			}));
			assert.ok(w.doc <= vw && w.body <= vw && w.list <= vw, `${when}: page wider than the viewport: ${JSON.stringify(w)}`);
			for (const t of w.texts) {
				assert.ok(t.scroll <= t.client && t.right <= vw, `${when}: message text overflows: ${JSON.stringify(t)}`);
			}
		};
		const inViewport = async (sel) => {
			const loc = phone.page.locator(sel);
			assert.equal(await loc.isVisible(), true, `${sel} visible`);
			const b = await loc.boundingBox();
			assert.ok(b && b.x >= 0 && b.y >= 0 && b.x + b.width <= vw && b.y + b.height <= vh,
				`${sel} inside the viewport: ${JSON.stringify(b)}`);
		};
		const drawerOpen = async () => /\bsidebar-open\b/.test(await phone.page.locator('body').getAttribute('class') ?? '');
		await noHorizontalScroll('on load');
		await inViewport('#message-input');
		await inViewport('#send-button');
		await inViewport('#sidebar-toggle');
		assert.equal(await phone.page.locator('#nick-input').isVisible(), false, 'sidebar hidden as a drawer');

		// The sidebar is a drawer: setNick opens it for the nick form; join a room there and it closes.
		await phone.setNick('phone');
		assert.equal(await drawerOpen(), true, 'drawer open');
		await inViewport('#room-input');
		await inViewport('#join-button');
		await noHorizontalScroll('drawer open');
		await phone.join('mobile');
		await eventually('drawer closed after joining', async () => assert.equal(await drawerOpen(), false));
		await inViewport('#message-input');

		// Usable: a message goes out with the on-screen input, and even one
		// long unbroken word does not widen the page.
		const long = `https://example.invalid/${'a'.repeat(300)}`;
		await phone.say('hello from a phone');
		await phone.say(long);
		await shownOnce(phone, 'hello from a phone', 'phone');
		await shownOnce(phone, long, 'phone');
		await noHorizontalScroll('after a long word');
		await inViewport('#message-input');
		await inViewport('#send-button');
		await screenshot([phone], 'mobile.png', browser);
		await done(phone);
	});
});
