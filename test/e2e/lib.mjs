// Shared fixtures for the browser tests: a real chatd on 127.0.0.1, headless
// Debian chromium through playwright-core, console/CSP collectors, bounded
// waits, DOM readers and a plain WebSocket client for setting up data.
//
// Environment: CHATD_BIN (the chatd binary), CHAT_WWW (the directory chatd
// serves), E2E_OUT (where screenshots go), E2E_TIMEOUT_MS (one expectation's
// bound, default 15000), CHROMIUM (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { inspect } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

// Missing node packages must fail the run loudly, never skip it.
const require = createRequire(import.meta.url);
export function need(name) {
	try {
		return require(name);
	} catch (err) {
		throw new Error(`cannot load the npm package "${name}" (${err.code ?? err.message}): ` +
			`run scripts/install-deps.sh, or (cd test/e2e && npm ci)`);
	}
}
const { chromium } = need('playwright-core');
const WebSocket = need('ws');

export const HOST = '127.0.0.1';
export const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS) || 15000;
export const CHATD_BIN = process.env.CHATD_BIN || path.join(repo, 'build/chatd');
export const CHAT_WWW = process.env.CHAT_WWW || path.join(repo, 'www');
export const OUT = process.env.E2E_OUT || path.join(repo, 'build/e2e-screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- bounded waits ----

// Retries fn (which asserts, or returns a truthy value) until it passes;
// after `timeout` ms the last failure is thrown, prefixed with `what`.
export async function eventually(what, fn, { timeout = TIMEOUT, interval = 50 } = {}) {
	const deadline = Date.now() + timeout;
	for (;;) {
		let failure;
		try {
			const v = await fn();
			if (v !== false && v !== null && v !== 0 && v !== '') return v;
			failure = new Error(`got ${inspect(v)}`);
		} catch (err) {
			failure = err;
		}
		if (Date.now() >= deadline) {
			failure.message = `timed out after ${timeout} ms waiting for ${what}: ${failure.message}`;
			throw failure;
		}
		await sleep(interval);
	}
}

// fn must keep passing for `ms` (catches late duplicates and flicker).
export async function consistently(what, fn, ms = 600, interval = 100) {
	const end = Date.now() + ms;
	do {
		try {
			await fn();
		} catch (err) {
			err.message = `${what} stopped holding: ${err.message}`;
			throw err;
		}
		await sleep(interval);
	} while (Date.now() < end);
}

// Bounds a promise that has no timeout of its own.
export function within(what, promise, ms = TIMEOUT) {
	let t;
	const timer = new Promise((_, reject) => {
		t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
	});
	return Promise.race([promise, timer]).finally(() => clearTimeout(t));
}

// ---- chatd ----

export function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen(0, HOST, () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

const running = new Set();
process.on('exit', () => {
	for (const child of running) child.kill('SIGKILL');
});

// A temp dir per test file, holding the --db.
export function tempDir() {
	const dir = mkdtempSync(path.join(os.tmpdir(), 'chatd-e2e-'));
	return { dir, db: path.join(dir, 'chat.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

class Chatd {
	constructor(child, port) {
		this.child = child;
		this.port = port;
		this.url = `http://${HOST}:${port}/`;
		this.wsUrl = `ws://${HOST}:${port}/chat`;
		this.stderr = '';
		this.stopping = false;
		this.died = null; // set when chatd exits without being asked to
		this.exit = new Promise((resolve) => {
			child.on('close', (code, signal) => {
				running.delete(child);
				if (!this.stopping) this.died = { code, signal };
				resolve({ code, signal });
			});
		});
		child.stderr.setEncoding('utf8');
		child.stderr.on('data', (d) => {
			this.stderr += d;
		});
		child.stdout.resume();
	}

	// SIGTERM, then the exit status must be 0 (under ASan a leak or error
	// report turns it non-zero).
	async stop() {
		if (this.child.exitCode !== null || this.child.signalCode !== null) {
			const { code, signal } = await this.exit;
			assert.fail(`chatd had already exited (code ${code}, signal ${signal})\n${this.stderr}`);
		}
		this.stopping = true;
		this.child.kill('SIGTERM');
		let res;
		try {
			res = await within('chatd to exit after SIGTERM', this.exit, Math.max(TIMEOUT, 20000));
		} catch (err) {
			this.child.kill('SIGKILL');
			throw new Error(`${err.message}\n${this.stderr}`);
		}
		assert.deepEqual(res, { code: 0, signal: null },
			`chatd exit status after SIGTERM\n--- chatd stderr ---\n${this.stderr}`);
	}

	// SIGSTOP: the process keeps its sockets but reads and writes nothing,
	// so what a client sends now sits unread in the kernel.
	pause() {
		this.child.kill('SIGSTOP');
	}

	// SIGKILL, the way a crash ends it: no close frames, nothing flushed.
	async crash() {
		this.stopping = true;
		this.child.kill('SIGKILL');
		await within('chatd to die of SIGKILL', this.exit);
	}

	// For after() hooks: never throws, never leaves the process behind.
	async kill() {
		if (this.child.exitCode !== null || this.child.signalCode !== null) return;
		this.stopping = true;
		this.child.kill('SIGTERM');
		try {
			await within('chatd exit', this.exit, 10000);
		} catch {
			this.child.kill('SIGKILL');
		}
	}
}

function spawnOnce({ port, db, www, args = [] }) {
	if (!existsSync(CHATD_BIN)) throw new Error(`CHATD_BIN ${CHATD_BIN} does not exist: build chatd first`);
	const child = spawn(CHATD_BIN, ['--port', String(port), '--host', HOST, '--www', www, '--db', db,
		'--log-level', 'info', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
	running.add(child);
	const c = new Chatd(child, port);
	const ready = new Promise((resolve, reject) => {
		const onData = () => {
			const m = /listening on http:\/\/([^\s:]+):(\d+)/.exec(c.stderr);
			if (!m) return;
			child.stderr.off('data', onData);
			c.port = Number(m[2]);
			c.url = `http://${HOST}:${c.port}/`;
			c.wsUrl = `ws://${HOST}:${c.port}/chat`;
			resolve(c);
		};
		child.stderr.on('data', onData);
		child.on('error', reject);
		c.exit.then(({ code, signal }) => reject(Object.assign(
			new Error(`chatd exited before it was ready (code ${code}, signal ${signal})\n${c.stderr}`),
			{ stderr: c.stderr })));
	});
	return within('chatd to print its "listening on" line', ready, Math.max(TIMEOUT, 20000))
		.catch(async (err) => {
			await c.kill();
			throw err;
		});
}

// Starts chatd; port 0 picks one. With an explicit port (a restart) a bind
// that fails because the old socket is not gone yet is retried for a while.
export async function startChatd({ port = 0, db, www = CHAT_WWW, args = [] }) {
	const deadline = Date.now() + 10000;
	for (;;) {
		try {
			return await spawnOnce({ port, db, www, args });
		} catch (err) {
			if (!port || !/cannot listen/.test(err.stderr ?? '') || Date.now() > deadline) throw err;
			await sleep(200);
		}
	}
}

// ---- a plain WebSocket client (test data, and the server's view of history) ----

export class WsClient {
	static async connect(wsUrl) {
		assert.ok(wsUrl.startsWith(`ws://${HOST}:`), `only ${HOST}`);
		const c = new WsClient();
		c.ws = new WebSocket(wsUrl, 'chat');
		c.frames = [];
		c.waiters = [];
		c.ws.on('message', (data) => {
			const f = JSON.parse(String(data));
			c.frames.push(f);
			for (const w of [...c.waiters]) w();
		});
		await within('WebSocket open', new Promise((resolve, reject) => {
			c.ws.once('open', resolve);
			c.ws.once('error', reject);
		}));
		await c.next((f) => f.type === 'welcome');
		return c;
	}

	// Resolves with the first received frame that matches, consuming it.
	next(match, what = 'a frame', ms = TIMEOUT) {
		return within(`${what} from chatd`, new Promise((resolve) => {
			const check = () => {
				const i = this.frames.findIndex(match);
				if (i < 0) return;
				const [f] = this.frames.splice(i, 1);
				this.waiters = this.waiters.filter((w) => w !== check);
				resolve(f);
			};
			this.waiters.push(check);
			check();
		}), ms);
	}

	send(frame) {
		this.ws.send(JSON.stringify(frame));
	}

	async join(room, extra = {}) {
		this.send({ type: 'join', room, ...extra });
		await this.next((f) => f.type === 'joined' && f.room === room, `joined ${room}`);
		return this.next((f) => f.type === 'history' && f.room === room, `history of ${room}`);
	}

	// Sends each text with a cid and waits for all the echoes. Paced under
	// chatd's default request rate (20 a second after a burst of 40).
	async say(room, texts) {
		const cids = texts.map((_, i) => `bot-${Date.now().toString(36)}-${i}`);
		for (const [i, text] of texts.entries()) {
			if (i >= 30) await new Promise((r) => setTimeout(r, 60));
			this.send({ type: 'message', room, text, cid: cids[i] });
		}
		const out = [];
		for (const cid of cids) out.push(await this.next((f) => f.type === 'message' && f.cid === cid, `echo of ${cid}`));
		return out;
	}

	close() {
		this.ws.close();
	}
}

// Every message the server holds for a room, oldest first.
export async function serverHistory(wsUrl, room) {
	const c = await WsClient.connect(wsUrl);
	try {
		const all = [];
		let since = 0;
		for (;;) {
			const h = await c.join(room, { since });
			all.push(...h.messages);
			if (!h.more || h.messages.length === 0) break;
			since = h.messages[h.messages.length - 1].id;
		}
		return all;
	} finally {
		c.close();
	}
}

// ---- the browser ----

export function launchBrowser() {
	if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: run scripts/install-deps.sh`);
	return chromium.launch({
		executablePath: CHROMIUM,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
		timeout: 30000,
	});
}

// Chromium logs these itself when a WebSocket cannot connect (the deliberate
// restart); page code cannot suppress them.
const WS_FAILED = /^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/chat' failed/;

// A browser context with one page on chatd, recording console errors,
// uncaught exceptions, CSP violations and requests to anywhere but chatd.
export class ChatPage {
	// query: appended to the page's URL ("?token=..."); cookies: set for the
	// server before the page loads (playwright's addCookies shape).
	// colorScheme: 'light' or 'dark'; storageState: a previous context's
	// (localStorage included: a returning visitor); permissions: granted to
	// chatd's origin; initScript: run in the page before its own code.
	static async open(browser, server, {
		name, viewport = { width: 1100, height: 720 }, mobile = false, query = '', cookies = [],
		colorScheme = 'light', storageState, permissions = [], initScript,
	} = {}) {
		const p = new ChatPage();
		p.name = name;
		p.problems = [];
		p.allowWsFailures = false;
		p.sockets = []; // one per WebSocket the page opened: { url, sent: [parsed frames] }
		p.context = await browser.newContext({
			viewport,
			isMobile: mobile,
			hasTouch: mobile,
			timezoneId: 'UTC',
			locale: 'en-US',
			colorScheme,
			serviceWorkers: 'block',
			...(storageState ? { storageState } : {}),
		});
		if (permissions.length) await p.context.grantPermissions(permissions, { origin: server.url.replace(/\/$/, '') });
		if (initScript) await p.context.addInitScript(initScript);
		p.context.setDefaultTimeout(TIMEOUT);
		await p.context.exposeBinding('__e2eCspViolation', (_src, v) => {
			p.problems.push(`CSP violation: ${JSON.stringify(v)}`);
		});
		await p.context.addInitScript(() => {
			document.addEventListener('securitypolicyviolation', (e) => {
				window.__e2eCspViolation({
					directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
					line: e.lineNumber, sample: e.sample,
				});
			});
		});
		if (cookies.length) await p.context.addCookies(cookies.map((c) => ({ url: server.url, ...c })));
		const page = await p.context.newPage();
		p.page = page;
		page.on('console', (msg) => {
			if (msg.type() !== 'error') return;
			const text = msg.text();
			if (p.allowWsFailures && WS_FAILED.test(text)) return;
			p.problems.push(`console error: ${text} (${JSON.stringify(msg.location())})`);
		});
		page.on('pageerror', (err) => p.problems.push(`uncaught: ${err.stack ?? err}`));
		page.on('request', (req) => {
			const u = new URL(req.url());
			if (u.protocol === 'data:') return;
			if (u.hostname !== HOST || Number(u.port) !== server.port) p.problems.push(`request to ${req.url()}`);
		});
		page.on('websocket', (ws) => {
			if (!ws.url().startsWith(`ws://${HOST}:${server.port}/`)) p.problems.push(`websocket to ${ws.url()}`);
			const sock = { url: ws.url(), sent: [] };
			p.sockets.push(sock);
			ws.on('framesent', ({ payload }) => {
				try {
					sock.sent.push(JSON.parse(String(payload)));
				} catch {
					sock.sent.push({ unparsed: String(payload) });
				}
			});
		});
		await page.goto(server.url + query, { waitUntil: 'load' });
		await p.waitConnected();
		return p;
	}

	async state() {
		return this.page.locator('#status').getAttribute('data-state');
	}

	async waitConnected() {
		await eventually(`${this.name}: #status[data-state=connected]`, async () => {
			assert.equal(await this.state(), 'connected');
			assert.equal(await this.page.locator('body').getAttribute('data-connection'), 'connected');
		});
		// The server joins every new session to lobby.
		await eventually(`${this.name}: a room shown`, async () => {
			assert.notEqual(await this.page.locator('#room-title').textContent(), 'No room');
		});
	}

	// On a narrow screen the nick and room forms live in the drawer.
	// A drawer sliding shut still counts as visible for a moment: trust the
	// body's class, not the element, when there is a drawer.
	async reveal(sel) {
		const loc = this.page.locator(sel);
		const drawer = await this.page.locator('#sidebar-toggle').isVisible();
		const open = /\bsidebar-open\b/.test(await this.page.locator('body').getAttribute('class') ?? '');
		if ((!drawer || open) && await loc.isVisible()) return;
		if (!drawer) return;
		await this.page.locator('#sidebar-toggle').click();
		await eventually(`${this.name}: ${sel} visible in the drawer`, async () => assert.equal(await loc.isVisible(), true));
	}

	async setNick(nick) {
		await this.reveal('#nick-input');
		await this.page.locator('#nick-input').fill(nick);
		await this.page.locator('#nick-button').click();
		await eventually(`${this.name}: #my-nick = ${nick}`, async () => {
			assert.equal(await this.page.locator('#my-nick').textContent(), nick);
			assert.equal(await this.page.locator(`#members li.me[data-nick="${nick}"]`).count(), 1);
		});
		this.nick = nick;
	}

	async join(room) {
		await this.reveal('#room-input');
		await this.page.locator('#room-input').fill(room);
		await this.page.locator('#join-button').click();
		await this.waitViewing(room);
	}

	async waitViewing(room) {
		await eventually(`${this.name}: viewing ${room}`, async () => {
			assert.equal(await this.page.locator('#room-title').textContent(), room);
			const li = this.page.locator(`#rooms li[data-room="${room}"]`);
			assert.equal(await li.count(), 1, 'room in #rooms');
			assert.match(await li.getAttribute('class'), /\bactive\b/);
			assert.doesNotMatch(await li.getAttribute('class'), /\bjoining\b/);
		});
	}

	async show(room) {
		await this.page.locator(`#rooms li[data-room="${room}"] button.room-button`).click();
		await this.waitViewing(room);
	}

	// Types the text and presses Enter (not the button).
	async say(text) {
		const input = this.page.locator('#message-input');
		await input.fill(text);
		await input.press('Enter');
		await eventually(`${this.name}: input cleared after Enter`, async () => {
			assert.equal(await input.inputValue(), '');
		});
	}

	// The rendered message lines of the viewed room, in DOM order.
	messages() {
		return this.page.$$eval('#messages li.message', (lis) => lis.map((li) => ({
			id: li.dataset.id ?? null,
			cid: li.dataset.cid ?? null,
			nick: li.querySelector('.nick')?.textContent ?? null,
			time: li.querySelector('.time')?.textContent ?? null,
			text: li.querySelector('.text')?.textContent ?? null,
			textHtml: li.querySelector('.text')?.innerHTML ?? null,
			textChildren: li.querySelector('.text')?.childElementCount ?? -1,
			pending: li.classList.contains('pending'),
			own: li.classList.contains('own'),
			status: li.querySelector('.status')?.textContent ?? null,
		})));
	}

	// Frames of a type this page sent, per WebSocket (oldest socket first).
	sentFrames(type) {
		return this.sockets.map((s) => s.sent.filter((f) => f.type === type));
	}

	async messagesWithText(text) {
		return (await this.messages()).filter((m) => m.text === text);
	}

	async members() {
		return this.page.$$eval('#members li', (lis) => lis.map((li) => li.dataset.nick));
	}

	async unread(room) {
		const badge = this.page.locator(`#rooms li[data-room="${room}"] .unread`);
		return (await badge.count()) ? badge.textContent() : null;
	}

	assertClean() {
		try {
			assert.deepEqual(this.problems, [], `${this.name}: console errors, CSP violations or foreign requests`);
		} catch (err) {
			err.fromAssertClean = true;
			throw err;
		}
	}

	async close() {
		await this.context.close().catch(() => {});
	}
}

// One chatd (a fresh --db; more options from args(tmp)) and one browser for
// the describe() block that calls this, with what every browser test file
// does with them (and gone()/restart() for those that stop chatd). bind(suite) hands the test file suite.server, .browser
// and .tmp once they exist; ready(suite) then prepares data. page() opens
// a ChatPage (track() takes one opened otherwise) that its scenario closes;
// scenario() is a test whose failure carries what its pages logged; done()
// closes pages that must have stayed clean.
export function browserSuite({ args = () => [], bind = () => {}, ready = async () => {}, fixedPort = false } = {}) {
	const suite = { tmp: null, server: null, browser: null, port: 0, open: [] };
	const start = async () => {
		suite.server = await startChatd({ port: suite.port, db: suite.tmp.db, args: args(suite.tmp) });
		bind(suite);
		return suite.server;
	};

	before(async () => {
		suite.tmp = tempDir();
		// fixedPort: the same port across restarts, so pages find chatd again.
		if (fixedPort) suite.port = await freePort();
		await start();
		suite.browser = await launchBrowser();
		bind(suite);
		await ready(suite);
	});

	after(async () => {
		for (const p of suite.open) await p.close();
		await suite.browser?.close().catch(() => {});
		try {
			if (suite.server) await suite.server.stop(); // asserts exit code 0
		} finally {
			suite.tmp?.remove();
		}
	});

	suite.track = (p) => {
		suite.open.push(p);
		return p;
	};
	suite.page = async (name, opts) =>
		suite.track(await ChatPage.open(suite.browser, suite.server, { name, ...opts }));
	suite.scenario = (name, fn) => test(name, async () => {
		try {
			await fn();
		} catch (err) {
			throw withProblems(err, suite.open, suite.server);
		} finally {
			for (const p of suite.open) await p.close(); // what a failed scenario left open
			suite.open = [];
		}
	});
	// The test stopped or crashed chatd (the end has nothing to stop);
	// restart() brings it back on the same port and --db.
	suite.gone = () => {
		suite.server = null;
		bind(suite);
	};
	suite.restart = start;
	suite.done = async (...pages) => {
		for (const p of pages) p.assertClean();
		for (const p of pages) await p.close();
		suite.open = suite.open.filter((p) => !pages.includes(p));
	};
	return suite;
}

// Adds what the pages logged (console errors, CSP violations...) to a test
// failure, which often explains it.
export function withProblems(err, pages, server = null) {
	if (server?.died && err instanceof Error) {
		err.message += `\n--- chatd exited during the test (${JSON.stringify(server.died)}) ---\n${server.stderr}`;
	}
	const lines = pages.filter((p) => p.problems.length)
		.map((p) => `  ${p.name}:\n${p.problems.map((x) => `    ${x}`).join('\n')}`);
	if (lines.length && err instanceof Error && !err.fromAssertClean) err.message += `\n--- page problems ---\n${lines.join('\n')}`;
	return err;
}

// Expects exactly one settled (non-pending) line with this text: right nick,
// an HH:MM time, a numeric id. Returns it.
export async function shownOnce(p, text, nick) {
	const m = await eventually(`${p.name}: "${text}" shown once by ${nick}`, async () => {
		const found = await p.messagesWithText(text);
		assert.equal(found.length, 1, `lines with that text: ${inspect(found)}`);
		const [m] = found;
		assert.equal(m.pending, false, 'still pending');
		assert.match(m.id ?? '', /^[1-9]\d*$/, 'data-id');
		assert.equal(m.nick, nick);
		assert.match(m.time ?? '', /^([01]\d|2[0-3]):[0-5]\d$/, 'time HH:MM');
		return m;
	});
	return m;
}

export function hhmmUtc(ts) {
	const d = new Date(ts);
	return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

// ---- screenshots ----

export async function screenshot(pages, file, browser) {
	mkdirSync(OUT, { recursive: true });
	const dest = path.join(OUT, file);
	if (pages.length === 1) {
		await pages[0].page.screenshot({ path: dest });
		return dest;
	}
	// Several pages: side by side on one image, labelled.
	const shots = [];
	for (const p of pages) shots.push({ name: p.name, png: (await p.page.screenshot()).toString('base64') });
	const ctx = await browser.newContext({ viewport: { width: 400, height: 300 } });
	try {
		const page = await ctx.newPage();
		const esc = (s) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
		await page.setContent(`<!doctype html><body style="margin:0;background:#888;font:14px sans-serif">
			<div style="display:flex;gap:8px;padding:8px;width:max-content">${shots.map((s) =>
				`<figure style="margin:0"><figcaption style="color:#fff;padding:0 0 4px">${esc(s.name)}</figcaption>` +
				`<img style="display:block;border:1px solid #333" src="data:image/png;base64,${s.png}"></figure>`).join('')}
			</div></body>`, { waitUntil: 'load' });
		await page.locator('div').first().screenshot({ path: dest });
	} finally {
		await ctx.close();
	}
	return dest;
}

// ---- accessibility ----

// Runs axe-core (npm, pinned) in the page and returns its violations of
// serious or critical impact. The script goes in through the DevTools
// protocol (page.evaluate), which the page's CSP does not govern: a
// <script> tag with it would be refused, as it should be.
let axeSource = null;
export async function axeViolations(page, { include = 'body' } = {}) {
	axeSource ??= (await import('node:fs')).readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
	if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
	const result = await page.evaluate((sel) => window.axe.run(sel, { resultTypes: ['violations'] }), include);
	return result.violations
		.filter((v) => v.impact === 'serious' || v.impact === 'critical')
		.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`) }));
}
