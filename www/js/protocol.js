// Wire protocol v1 (docs/protocol.md): endpoint, name rules and the frames
// this client sends. Builders omit absent optional fields instead of sending
// null, because the server answers a field of the wrong type with bad_request.

export const SUBPROTOCOL = 'chat';
export const ROOM_RE = /^[A-Za-z0-9_.-]{1,64}$/;
export const NICK_RE = /^[A-Za-z0-9_.-]{1,32}$/;

// With token auth (docs/protocol.md) the page's own `token` query parameter
// goes on to the WebSocket; a chat_token cookie needs nothing here, the
// browser sends it with the handshake.
export function chatUrl(loc) {
	const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
	const token = new URLSearchParams(loc.search ?? '').get('token');
	const query = token ? `?token=${encodeURIComponent(token)}` : '';
	return `${scheme}//${loc.host}/chat${query}`;
}

// A join's cid names its room, so a rate_limited answer says which to retry.
export const JOIN_CID_PREFIX = 'join:';

export const frames = {
	message: (room, text, cid) => ({ type: 'message', room, text, cid }),
	join: (room, since, cid) => (since == null ? { type: 'join', room, cid } : { type: 'join', room, since, cid }),
	leave: (room) => ({ type: 'leave', room }),
	nick: (nick) => ({ type: 'nick', nick }),
	history: (room, before, limit) => ({ type: 'history', room, before, limit }),
	typing: (room) => ({ type: 'typing', room }),
};

// crypto.randomUUID exists only in secure contexts, and the page is often
// opened over plain http on a LAN address; getRandomValues works everywhere.
export function newCid() {
	if (globalThis.crypto?.randomUUID && globalThis.isSecureContext) return crypto.randomUUID();
	const b = new Uint8Array(16);
	crypto.getRandomValues(b);
	return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
