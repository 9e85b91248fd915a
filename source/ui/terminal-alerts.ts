/**
 * Escape sequences the TUI writes to get a person's attention and to copy text, as pure
 * functions (the runner writes them to the terminal): the bell, desktop notifications
 * (OSC 9, OSC 777) and the clipboard (OSC 52). A terminal that does not know a sequence
 * ignores it (ECMA-48 string controls end at BEL), so all are sent always: whether the
 * terminal is in the background cannot be told reliably.
 */

const BEL = "\u0007";
const OSC = "\u001b]";

/**
 * Text safe inside an OSC string: no control characters (one would end or break the
 * sequence, or smuggle another), no `;` (OSC 777 separates its fields with it), at most
 * `max` characters.
 */
export function oscText(text: string, max = 200): string {
	// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
	const clean = text.replace(/[\u0000-\u001f\u007f-\u009f;\u202a-\u202e\u2066-\u2069]/g, " ");
	return [...clean].slice(0, max).join("");
}

/**
 * The bell, then a desktop notification in the two common forms: OSC 9 (iTerm2, kitty,
 * WezTerm, Windows Terminal, ConEmu's toast) and OSC 777 `notify` (rxvt-unicode's
 * extension, foot, Ghostty, VTE terminals built with it).
 * @param title - e.g. "p2p-tui: offer from alice"
 * @param body - one line
 */
export function alertSequence(title: string, body: string): string {
	const t = oscText(title, 80);
	const b = oscText(body);
	return `${BEL}${OSC}9;${t}: ${b}${BEL}${OSC}777;notify;${t};${b}${BEL}`;
}

/** Most bytes of text copied through OSC 52 (many terminals cap it near 100 KB of base64). */
export const MAX_CLIPBOARD_BYTES = 64 * 1024;

/**
 * OSC 52: sets the system clipboard (`c`) to `text` (xterm, kitty, WezTerm, iTerm2 when
 * allowed, Windows Terminal, tmux with `set-clipboard on`).
 */
export function clipboardSequence(text: string): string {
	const bytes = Buffer.from(text, "utf8").subarray(0, MAX_CLIPBOARD_BYTES);
	return `${OSC}52;c;${bytes.toString("base64")}${BEL}`;
}
