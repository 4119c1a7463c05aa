// Token auth in the browser: chatd with --jwt-secret-file. A page opened
// with ?token=T connects with that token (www/js/protocol.js chatUrl passes
// it on to the WebSocket), a page holding a chat_token cookie connects with
// the cookie, the nick is the token's sub and cannot be changed, and two
// tabs of one sub show that nick once in everyone's member list.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe } from 'node:test';

import { browserSuite, consistently, eventually } from './lib.mjs';

const SECRET = 'e2e-secret-0123456789abcdef0123456789';

// What a site's backend does: HS256 over base64url(header).base64url(claims).
function mint(claims) {
	const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
	const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}`;
	return `${signed}.${createHmac('sha256', SECRET).update(signed).digest('base64url')}`;
}

describe('token auth in a browser', () => {
	let server;
	let browser;
	const { page, scenario, done } = browserSuite({
		args: (tmp) => {
			const secret = path.join(tmp.dir, 'jwt.secret');
			writeFileSync(secret, `${SECRET}\n`);
			chmodSync(secret, 0o600);
			return ['--jwt-secret-file', secret];
		},
		bind: (s) => ({ server, browser } = s),
	});

	const myNick = (p) => p.page.locator('#my-nick').textContent();
	const sorted = async (p) => (await p.members()).sort();

	scenario('the page\'s ?token= and the chat_token cookie each make a session named by sub', async () => {
		const alice = await page('alice', { query: `?token=${mint({ sub: 'alice' })}` });
		const bob = await page('bob', { cookies: [{ name: 'chat_token', value: mint({ sub: 'bob' }) }] });
		await eventually('nicks from the tokens', async () => {
			assert.equal(await myNick(alice), 'alice');
			assert.equal(await myNick(bob), 'bob');
		});
		await eventually('each sees the other', async () => {
			assert.deepEqual(await sorted(alice), ['alice', 'bob']);
			assert.deepEqual(await sorted(bob), ['alice', 'bob']);
		});
		// The nick cannot be changed: the server says forbidden, the page
		// says so and keeps the token's nick.
		await alice.reveal('#nick-input');
		await alice.page.locator('#nick-input').fill('mallory');
		await alice.page.locator('#nick-button').click();
		await eventually('the nick error', async () => {
			assert.match(await alice.page.locator('#nick-error').textContent(), /token/);
		});
		assert.equal(await myNick(alice), 'alice');
		alice.assertClean();
		bob.assertClean();
	});

	scenario('two tabs of one sub: one nick, listed once, still there while one tab is open', async () => {
		const token = mint({ sub: 'carol' });
		const dave = await page('dave', { query: `?token=${mint({ sub: 'dave' })}` });
		const tab1 = await page('carol-1', { query: `?token=${token}` });
		const tab2 = await page('carol-2', { query: `?token=${token}` });
		for (const p of [dave, tab1, tab2]) {
			await eventually(`${p.name} lists carol once`, async () => {
				assert.deepEqual(await sorted(p), ['carol', 'dave']);
			});
		}
		await done(tab1);
		await consistently('carol stays while her other tab is open', async () => {
			assert.deepEqual(await sorted(dave), ['carol', 'dave']);
		});
		await done(tab2);
		await eventually('carol gone with her last tab', async () => {
			assert.deepEqual(await sorted(dave), ['dave']);
		});
		dave.assertClean();
	});
});
