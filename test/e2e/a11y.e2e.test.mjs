// Accessibility audit: axe-core (npm, pinned in package-lock.json) run in
// the page in light and dark mode, at desktop and phone sizes (the phone
// with its drawer closed and open), on a room holding what the client
// renders: messages of two senders, a link, a mention, a multi-line text,
// presence lines, a date separator, an unread badge. Any violation of
// serious or critical impact fails. Keyboard: every control is reached by
// Tab and shows a focus ring.

import assert from 'node:assert/strict';
import { describe } from 'node:test';

import { axeViolations, browserSuite, ChatPage, eventually, screenshot, shownOnce, WsClient } from './lib.mjs';

const DESKTOP = { width: 1100, height: 720 };
const PHONE = { width: 390, height: 844 };

describe('accessibility (axe-core)', () => {
	let server;
	let browser;
	const { scenario: audit, track } = browserSuite({
		bind: (s) => ({ server, browser } = s),
		ready: async (s) => {
			const c = await WsClient.connect(s.server.wsUrl);
			try {
				await c.join('a11y', { nick: 'wendy' });
				await c.say('a11y', ['the notes are at https://example.com/notes', 'two lines:\nline one\nline two']);
				await c.join('quiet');
				await c.say('quiet', ['unread here']);
			} finally {
				c.close();
			}
		},
	});

	async function noSeriousViolations(p, when) {
		const v = await axeViolations(p.page);
		assert.deepEqual(v, [], `${p.name}, ${when}: axe violations of serious or critical impact:\n${JSON.stringify(v, null, 2)}`);
	}

	// A page in the room with every kind of line in it.
	async function furnished(name, opts) {
		const p = track(await ChatPage.open(browser, server, { name, ...opts }));
		await p.setNick(name);
		await p.join('quiet');
		await p.join('a11y');
		await p.say(`hi wendy, ${name} here`);
		await shownOnce(p, `hi wendy, ${name} here`, name);
		const c = await WsClient.connect(server.wsUrl);
		try {
			await c.join('a11y', { nick: `xavier-${name}` });
			await c.say('a11y', [`@${name} welcome!`]);
			await c.join('quiet');
			await c.say('quiet', ['unread for you']);
		} finally {
			c.close();
		}
		await shownOnce(p, `@${name} welcome!`, `xavier-${name}`);
		await eventually(`${name}: a mention and an unread badge`, async () => {
			assert.equal(await p.page.locator('#messages li.mention').count(), 1);
			assert.equal(await p.unread('quiet'), '1');
		});
		assert.equal(await p.page.locator('#messages a[href="https://example.com/notes"]').count(), 1);
		return p;
	}

	for (const colorScheme of ['light', 'dark']) {
		audit(`desktop, ${colorScheme}: no serious or critical violation; Tab reaches every control with a visible focus ring`, async () => {
			const p = await furnished(`desk-${colorScheme}`, { colorScheme, viewport: DESKTOP });
			await noSeriousViolations(p, 'the room');
			await screenshot([p], `a11y-desktop-${colorScheme}.png`, browser);

			// Tab from the top: each control gets focus, and focus shows.
			await p.page.locator('body').evaluate((b) => b.focus());
			const reached = new Set();
			for (let i = 0; i < 40; i++) {
				await p.page.keyboard.press('Tab');
				const f = await p.page.evaluate(() => {
					const a = document.activeElement;
					if (!a || a === document.body) return null;
					const s = getComputedStyle(a);
					return { id: a.id || a.className, ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 };
				});
				if (!f) continue;
				assert.ok(f.ring, `${f.id}: visible focus ring`);
				reached.add(f.id);
			}
			for (const id of ['nick-input', 'nick-button', 'notify-button', 'forget-button', 'room-button', 'room-input',
				'join-button', 'leave-button', 'messages', 'message-input', 'send-button']) {
				assert.ok(reached.has(id), `Tab reaches ${id}: ${[...reached].join(', ')}`);
			}
			p.assertClean();
		});

		audit(`phone, ${colorScheme}: no serious or critical violation, drawer closed and open`, async () => {
			const p = await furnished(`phone-${colorScheme}`, { colorScheme, viewport: PHONE, mobile: true });
			await noSeriousViolations(p, 'drawer closed');
			await screenshot([p], `a11y-phone-${colorScheme}.png`, browser);
			await p.page.locator('#sidebar-toggle').click();
			await eventually('drawer open', async () => assert.equal(await p.page.locator('#nick-input').isVisible(), true));
			await p.page.waitForTimeout(300); // the slide-in transition
			await noSeriousViolations(p, 'drawer open');
			p.assertClean();
		});
	}
});
