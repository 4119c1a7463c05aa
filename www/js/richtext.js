// A message's text as DOM nodes: plain text nodes, and http(s) URLs as
// links that open in a new tab without handing it this page (noopener) or
// its address (noreferrer). Built with createElement and textContent only:
// nothing the sender wrote is ever parsed as HTML, and any other scheme
// (javascript:, data:, ...) stays text.

// A URL candidate runs up to whitespace or a character that cannot be in
// one unescaped; trailing punctuation is trimmed below.
const URL_RE = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,;:!?'")\]}]+$/;

export function richText(doc, text) {
	const frag = doc.createDocumentFragment();
	let last = 0;
	for (const match of text.matchAll(URL_RE)) {
		const raw = trimUrl(match[0]);
		const href = safeHref(raw);
		if (!href) continue;
		if (match.index > last) frag.append(doc.createTextNode(text.slice(last, match.index)));
		const a = doc.createElement('a');
		a.href = href;
		a.rel = 'noopener noreferrer';
		a.target = '_blank';
		a.textContent = raw;
		frag.append(a);
		last = match.index + raw.length;
	}
	if (last < text.length) frag.append(doc.createTextNode(text.slice(last)));
	return frag;
}

// "(see https://x.org/a_(b))." keeps the ")" that closes one opened inside
// the URL and drops the punctuation after it.
function trimUrl(url) {
	const core = url.replace(TRAILING, '');
	let kept = core;
	for (const ch of url.slice(core.length)) {
		const opens = kept.split('(').length;
		const closes = kept.split(')').length;
		if (ch !== ')' || opens <= closes) break;
		kept += ch;
	}
	return kept;
}

function safeHref(raw) {
	try {
		const u = new URL(raw);
		return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
	} catch {
		return null;
	}
}
