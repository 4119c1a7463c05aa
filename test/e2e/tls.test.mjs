// TLS from the outside (issue 10): https and wss on one port with a
// certificate the test makes with the openssl CLI, each certificate error
// at start, SIGHUP reload seen by a new client while an old one stays, the
// redirect listener, plain HTTP and garbage on the TLS port, and the
// browser client switching to wss under https (Debian's Chromium).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import crypto from 'node:crypto';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import WebSocket from 'ws';
import { CHATD_BIN, CHAT_WWW, HOST, eventually, launchBrowser, tempDir, within } from './lib.mjs';

const tmp = tempDir();
const dir = tmp.dir;
const running = new Set();
after(() => {
	for (const c of running) c.kill('SIGKILL');
	tmp.remove();
});

// A self-signed certificate for 127.0.0.1 and localhost; days < 0 makes an
// expired one.
function makeCert(name, { days = 2, cn = 'chatd-test' } = {}) {
	const key = path.join(dir, `${name}.key`);
	const cert = path.join(dir, `${name}.pem`);
	const csr = path.join(dir, `${name}.csr`);
	execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr,
		'-subj', `/CN=${cn}`], { stdio: 'ignore' });
	const ext = path.join(dir, `${name}.ext`);
	writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
	execFileSync('openssl', ['x509', '-req', '-in', csr, '-signkey', key, '-days', String(days),
		'-extfile', ext, '-out', cert], { stdio: 'ignore' });
	return { key, cert, ca: readFileSync(cert) };
}

// Runs chatd with args; resolves on its ready line with { child, port, url, stderr() }.
function start(args) {
	const child = spawn(CHATD_BIN, ['--port', '0', '--host', HOST, '--www', CHAT_WWW, '--db', ':memory:', ...args],
		{ stdio: ['ignore', 'pipe', 'pipe'] });
	running.add(child);
	let err = '';
	child.stderr.on('data', (d) => { err += d; });
	const exit = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
	const ready = new Promise((resolve, reject) => {
		const check = () => {
			const m = /listening on (https?):\/\/([^\s:]+):(\d+)/.exec(err);
			if (m) resolve({ child, exit, scheme: m[1], port: Number(m[3]), stderr: () => err });
		};
		child.stderr.on('data', check);
		exit.then((r) => reject(new Error(`chatd exited (${JSON.stringify(r)}) before it was ready:\n${err}`)));
	});
	return within('chatd ready', ready, 20000);
}

async function stop(s) {
	s.child.kill('SIGTERM');
	const r = await within('chatd exit', s.exit, 10000);
	running.delete(s.child);
	assert.deepEqual(r, { code: 0, signal: null }, s.stderr());
}

// Runs chatd expecting it to refuse to start: returns { code, stderr }.
function refused(args) {
	const child = spawn(CHATD_BIN, ['--port', '0', '--host', HOST, '--www', CHAT_WWW, '--db', ':memory:', ...args],
		{ stdio: ['ignore', 'ignore', 'pipe'] });
	running.add(child);
	let err = '';
	child.stderr.on('data', (d) => { err += d; });
	// 'close', not 'exit': only then has all of stderr been read.
	return within('chatd to exit', new Promise((resolve) => child.on('close', (code) => {
		running.delete(child);
		resolve({ code, stderr: err });
	})), 10000);
}

// A wss session that has its welcome; the peer certificate comes along.
function wss(port, ca) {
	return within('wss session', new Promise((resolve, reject) => {
		const ws = new WebSocket(`wss://${HOST}:${port}/chat`, 'chat', { ca });
		const frames = [];
		let waiter = null;
		ws.on('message', (d) => {
			frames.push(JSON.parse(String(d)));
			if (waiter) waiter();
		});
		ws.on('error', reject);
		ws.on('open', () => {
			const fingerprint = ws._socket.getPeerCertificate().fingerprint256;
			const next = async (pred, what) => within(what, new Promise((res) => {
				const look = () => {
					const i = frames.findIndex(pred);
					if (i < 0) return;
					waiter = null;
					res(frames.splice(i, 1)[0]);
				};
				waiter = look;
				look();
			}));
			resolve({ ws, fingerprint, next });
		});
	}));
}

function fingerprintOf(cert) {
	return new crypto.X509Certificate(cert).fingerprint256;
}

function get(url, opts = {}) {
	const lib = url.startsWith('https') ? https : http;
	return within(`GET ${url}`, new Promise((resolve, reject) => {
		const req = lib.get(url, opts, (res) => {
			let body = '';
			res.on('data', (d) => { body += d; });
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
		});
		req.on('error', reject);
	}));
}

async function echo(session, text) {
	session.ws.send(JSON.stringify({ type: 'message', text }));
	const m = await session.next((f) => f.type === 'message' && f.text === text, `echo of ${text}`);
	assert.equal(m.text, text);
}

const good = makeCert('good');
const other = makeCert('other', { cn: 'chatd-other' });

test('wss echo and https on one port, TLS 1.2 at least, HSTS', async () => {
	const s = await start(['--tls-cert', good.cert, '--tls-key', good.key]);
	try {
		assert.equal(s.scheme, 'https');
		assert.match(s.stderr(), /TLS certificate .* valid until \d{4}-/);
		const c = await wss(s.port, good.ca);
		await c.next((f) => f.type === 'welcome', 'welcome');
		await echo(c, 'hello world');
		c.ws.close();

		const r = await get(`https://${HOST}:${s.port}/healthz`, { ca: good.ca });
		assert.equal(r.status, 200);
		assert.equal(r.body, '{"status":"ok"}');
		assert.match(r.headers['strict-transport-security'] ?? '', /max-age=\d+/);

		// TLS 1.1 is refused.
		await assert.rejects(within('TLS 1.1 handshake', new Promise((resolve, reject) => {
			const t = tls.connect({ host: HOST, port: s.port, ca: good.ca, maxVersion: 'TLSv1.1',
				minVersion: 'TLSv1.1' }, () => resolve(t));
			t.on('error', reject);
		})));
	} finally {
		await stop(s);
	}
});

test('chatd --healthcheck probes its own https /healthz (not verified), and plain http there fails', async () => {
	const s = await start(['--tls-cert', good.cert, '--tls-key', good.key]);
	try {
		// No URL: the configuration's own, https since it has a certificate.
		const own = spawnSync(CHATD_BIN, ['--healthcheck', '--port', String(s.port), '--host', HOST,
			'--tls-cert', good.cert, '--tls-key', good.key], { encoding: 'utf8', timeout: 15000 });
		assert.equal(own.status, 0, own.stderr);
		const url = spawnSync(CHATD_BIN, ['--healthcheck', `https://${HOST}:${s.port}/healthz`],
			{ encoding: 'utf8', timeout: 15000 });
		assert.equal(url.status, 0, url.stderr);
		const plain = spawnSync(CHATD_BIN, ['--healthcheck', `http://${HOST}:${s.port}/healthz`],
			{ encoding: 'utf8', timeout: 15000 });
		assert.equal(plain.status, 1, plain.stderr);
		assert.match(plain.stderr, /healthcheck/);
	} finally {
		await stop(s);
	}
});

test('certificate errors: one line naming the flag, exit 2', async () => {
	const expired = makeCert('expired', { days: -1 });
	const notPem = path.join(dir, 'not.pem');
	writeFileSync(notPem, 'not a certificate\n');
	const cases = [
		[['--tls-cert', path.join(dir, 'missing.pem'), '--tls-key', good.key], /--tls-cert/],
		[['--tls-cert', good.cert, '--tls-key', path.join(dir, 'missing.key')], /--tls-key/],
		[['--tls-cert', notPem, '--tls-key', good.key], /--tls-cert/],
		[['--tls-cert', good.cert, '--tls-key', other.key], /--tls-key: .*does not match/],
		[['--tls-cert', expired.cert, '--tls-key', expired.key], /--tls-cert: .*expired/],
		[['--tls-cert', good.cert], /--tls-key/],
		[['--tls-key', good.key], /--tls-cert/],
		[['--redirect-http-port', '1'], /--redirect-http-port/],
	];
	for (const [args, re] of cases) {
		const r = await refused(args);
		assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
		assert.match(r.stderr, re, args.join(' '));
		assert.doesNotMatch(r.stderr, /listening on/);
		assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('chatd:')).length, 1, r.stderr);
	}
});

test('SIGHUP reloads the certificate: new clients get it, old ones stay; a bad pair is kept out', async () => {
	const live = { cert: path.join(dir, 'live.pem'), key: path.join(dir, 'live.key') };
	copyFileSync(good.cert, live.cert);
	copyFileSync(good.key, live.key);
	const s = await start(['--tls-cert', live.cert, '--tls-key', live.key]);
	try {
		const old = await wss(s.port, [good.ca, other.ca]);
		await old.next((f) => f.type === 'welcome', 'welcome');
		assert.equal(old.fingerprint, fingerprintOf(good.ca));

		copyFileSync(other.cert, live.cert);
		copyFileSync(other.key, live.key);
		s.child.kill('SIGHUP');
		await eventually('reload logged', () => assert.match(s.stderr(), /SIGHUP: certificate reloaded/));
		const fresh = await wss(s.port, [good.ca, other.ca]);
		await fresh.next((f) => f.type === 'welcome', 'welcome');
		assert.equal(fresh.fingerprint, fingerprintOf(other.ca));
		await echo(old, 'still here');
		await echo(fresh, 'new cert');

		// A key that does not match: logged, and the pair in use stays.
		copyFileSync(good.key, live.key);
		s.child.kill('SIGHUP');
		await eventually('refusal logged', () => assert.match(s.stderr(), /SIGHUP: keeping the certificate in use/));
		const third = await wss(s.port, [good.ca, other.ca]);
		assert.equal(third.fingerprint, fingerprintOf(other.ca));
		for (const c of [old, fresh, third]) c.ws.close();
	} finally {
		await stop(s);
	}
});

test('SIGHUP without TLS is logged, not fatal', async () => {
	const s = await start([]);
	try {
		s.child.kill('SIGHUP');
		await eventually('logged', () => assert.match(s.stderr(), /SIGHUP: no TLS certificate/));
		const r = await get(`http://${HOST}:${s.port}/healthz`);
		assert.equal(r.status, 200);
	} finally {
		await stop(s);
	}
});

test('the redirect listener answers 308 to the same path and query on https', async () => {
	const port = await new Promise((resolve) => {
		const srv = net.createServer().listen(0, HOST, () => {
			const p = srv.address().port;
			srv.close(() => resolve(p));
		});
	});
	const s = await start(['--tls-cert', good.cert, '--tls-key', good.key, '--redirect-http-port', String(port)]);
	try {
		let r = await get(`http://${HOST}:${port}/js/app.js?a=1&b=x%20y`);
		assert.equal(r.status, 308);
		assert.equal(r.headers.location, `https://${HOST}:${s.port}/js/app.js?a=1&b=x%20y`);
		r = await get(`http://${HOST}:${port}/`, { headers: { Host: `chat.example.test:${port}` } });
		assert.equal(r.status, 308);
		assert.equal(r.headers.location, `https://chat.example.test:${s.port}/`);
		// The target is really served.
		r = await get(`https://${HOST}:${s.port}/js/app.js`, { ca: good.ca });
		assert.equal(r.status, 200);
		// A ws:// upgrade on the redirect port gets the same 308.
		const head = await within('upgrade answer', new Promise((resolve, reject) => {
			let got = '';
			const sock = net.connect(port, HOST, () => sock.write(
				`GET /chat?x=1 HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\n` +
				'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
				'Sec-WebSocket-Version: 13\r\n\r\n'));
			sock.on('data', (d) => { got += d; });
			sock.on('end', () => resolve(got));
			sock.on('error', reject);
		}));
		assert.match(head, /^HTTP\/1\.1 308 /);
		assert.match(head, new RegExp(`\r\nlocation: https://${HOST}:${s.port}/chat\\?x=1\r\n`, 'i'));
	} finally {
		await stop(s);
	}
});

test('plain HTTP and garbage on the TLS port disturb no session', async () => {
	const s = await start(['--tls-cert', good.cert, '--tls-key', good.key]);
	try {
		const c = await wss(s.port, good.ca);
		await c.next((f) => f.type === 'welcome', 'welcome');
		for (const bytes of ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', '\x16\x03\x01\xff\xff garbage', 'x'.repeat(4000)]) {
			await within('raw connection', new Promise((resolve) => {
				const sock = net.connect(s.port, HOST, () => sock.end(bytes));
				sock.on('error', resolve);
				sock.on('close', resolve);
				sock.resume();
			}));
		}
		await echo(c, 'undisturbed');
		c.ws.close();
	} finally {
		await stop(s);
	}
});

test('the browser client connects over wss under https', async () => {
	const s = await start(['--tls-cert', good.cert, '--tls-key', good.key]);
	const browser = await launchBrowser();
	try {
		const context = await browser.newContext({ ignoreHTTPSErrors: true });
		const page = await context.newPage();
		const sockets = [];
		page.on('websocket', (w) => sockets.push(w.url()));
		await page.goto(`https://${HOST}:${s.port}/`);
		await eventually('a wss connection', () => {
			assert.deepEqual(sockets, [`wss://${HOST}:${s.port}/chat`]);
		});
		await page.locator('#message-input').fill('over tls');
		await page.locator('#message-input').press('Enter');
		await eventually('echo shown', async () => {
			assert.ok((await page.locator('#messages').textContent()).includes('over tls'));
		});
		await context.close();
	} finally {
		await browser.close();
		await stop(s);
	}
});
