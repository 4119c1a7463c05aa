// One WebSocket to the chat endpoint, opened again with exponential backoff
// (with jitter, so a restarted server is not hit by every client at once)
// whenever it drops. It knows nothing of chat: it delivers parsed frames and
// reports its state as connecting, connected or disconnected.

export class Connection {
	constructor(url, { protocol, onFrame, onState, minDelay = 500, maxDelay = 10000, openTimeout = 10000 }) {
		Object.assign(this, { url, protocol, onFrame, onState, minDelay, maxDelay, openTimeout });
		this.ws = null;
		this.state = 'disconnected';
		this.attempt = 0;
		this.retryTimer = 0;
	}

	start() {
		this.open();
	}

	setState(state, retryAt = 0) {
		this.state = state;
		this.onState(state, retryAt);
	}

	open() {
		clearTimeout(this.retryTimer);
		this.setState('connecting');
		let ws;
		try {
			ws = new WebSocket(this.url, this.protocol);
		} catch {
			this.scheduleRetry();
			return;
		}
		this.ws = ws;
		// A handshake that hangs (half-open network) would otherwise never
		// close, and so never retry.
		const giveUp = setTimeout(() => ws.close(), this.openTimeout);
		ws.onopen = () => {
			clearTimeout(giveUp);
			if (ws === this.ws) this.setState('connected');
		};
		ws.onmessage = (ev) => {
			if (ws !== this.ws || typeof ev.data !== 'string') return;
			let frame;
			try {
				frame = JSON.parse(ev.data);
			} catch {
				return;
			}
			this.onFrame(frame);
		};
		ws.onclose = () => {
			clearTimeout(giveUp);
			if (ws !== this.ws) return;
			this.ws = null;
			this.scheduleRetry();
		};
	}

	scheduleRetry() {
		const base = Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(this.attempt, 16));
		this.attempt++;
		const delay = base * (0.7 + 0.3 * Math.random());
		this.retryTimer = setTimeout(() => this.open(), delay);
		this.setState('disconnected', Date.now() + delay);
	}

	// Called once the server has greeted us: only then is the connection known
	// to work, so a server that accepts and drops at once still backs off.
	resetBackoff() {
		this.attempt = 0;
	}

	retryNow() {
		if (this.state === 'disconnected') this.open();
	}

	send(frame) {
		const ws = this.ws;
		if (!ws || ws.readyState !== WebSocket.OPEN) return false;
		ws.send(JSON.stringify(frame));
		return true;
	}
}
