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
