// Small pure helpers for display: clock time and a stable colour per nick.

const pad = (n) => String(n).padStart(2, '0');

export function hhmm(ts) {
	const d = new Date(ts);
	if (Number.isNaN(d.getTime())) return '';
	return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fullDate(ts) {
	const d = new Date(ts);
	return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

// A class name rather than an inline colour: the CSP forbids style attributes.
// Case-folded so a nick keeps its colour across a case-only rename.
export function colorClass(nick) {
	let h = 0;
	for (const ch of String(nick).toLowerCase()) h = (h * 31 + ch.codePointAt(0)) >>> 0;
	return `c${h % 8}`;
}

export function typingText(names) {
	if (names.length === 0) return '';
	if (names.length === 1) return `${names[0]} is typing…`;
	if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
	return 'Several people are typing…';
}

// The local calendar day of a timestamp, as a key that compares equal
// within one day ("2024-05-17"); '' for a missing time.
export function dayKey(ts) {
	const d = new Date(ts);
	if (!ts || Number.isNaN(d.getTime())) return '';
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

// The text of a date separator: "Today", "Yesterday", else the date
// ("Friday, May 17, 2024").
export function dayLabel(ts, now = Date.now()) {
	const key = dayKey(ts);
	if (key === dayKey(now)) return 'Today';
	const y = new Date(now);
	y.setDate(y.getDate() - 1);
	if (key === dayKey(y.getTime())) return 'Yesterday';
	return new Date(ts).toLocaleDateString(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}

// Whether text names nick as a word of its own ("hi @alice", "alice:"),
// case-insensitively as the server compares nicks.
export function mentions(text, nick) {
	if (!nick) return false;
	const esc = nick.replace(/[.]/g, '\\.');
	return new RegExp(`(^|[^A-Za-z0-9_.-])@?${esc}($|[^A-Za-z0-9_-])`, 'i').test(text);
}
