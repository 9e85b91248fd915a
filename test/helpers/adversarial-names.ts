/**
 * The corpus of adversarial network names (fixtures/adversarial-names.json): names a hostile
 * peer could list, by category, and combinations of the dangerous fragments. Deterministic:
 * the committed fixture is exactly what {@link adversarialNames} returns, which
 * test/unit/names.test.ts checks. Regenerate after a change with
 * `npm run fixtures:names`.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** One corpus entry: the name as a peer would send it, and what it tries. */
export interface AdversarialName {
	category: string;
	name: string;
}

/** Where the corpus is committed, relative to the repository. */
export const CORPUS_PATH = "fixtures/adversarial-names.json";

/** The bidirectional controls: marks, embeddings, overrides, isolates, the Arabic letter mark. */
const BIDI = [
	"\u200e",
	"\u200f",
	"\u202a",
	"\u202b",
	"\u202c",
	"\u202d",
	"\u202e",
	"\u2066",
	"\u2067",
	"\u2068",
	"\u2069",
	"\u061c",
];

const RESERVED = [
	"CON",
	"PRN",
	"AUX",
	"NUL",
	...Array.from({ length: 10 }, (_, i) => `COM${i}`),
	...Array.from({ length: 10 }, (_, i) => `LPT${i}`),
	"COM¹",
	"COM²",
	"COM³",
	"LPT¹",
	"LPT²",
	"LPT³",
	"CONIN$",
	"CONOUT$",
	"CLOCK$",
];

/** ANSI/ECMA-48 escape sequences a terminal would obey. */
const ESCAPES = [
	"\u001b[2J",
	"\u001b[H\u001b[2J",
	"\u001b[31mred\u001b[0m",
	"\u001b]0;owned\u0007",
	"\u001b]0;owned\u001b\\",
	"\u001b]8;;http://evil.example/\u001b\\click\u001b]8;;\u001b\\",
	"\u001b]52;c;cm0gLXJmIH4K\u0007",
	"\u001b[6n",
	"\u001b[?1049h",
	"\u001bc",
	"\u001b[1;1H\u001b[K",
	"\u001bP+q544e\u001b\\",
	"\u001b[8m",
	"\u001b[3J",
	"\u009b31m",
	"\u009b2J",
	"\u009d0;owned\u009c",
	"\u0090q\u009c",
	"\u001b(0",
	"\u001b#8",
	"\r\u001b[Ksaved /etc/passwd",
	"\b\b\b\b.exe",
];

function range(from: number, to: number): number[] {
	return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * The corpus, in a fixed order: every category of docs/protocol.md "Names" and issue 6,
 * then combinations of dangerous fragments (one to three segments).
 * @returns at least 500 entries, no name twice
 */
export function adversarialNames(): AdversarialName[] {
	const out: AdversarialName[] = [];
	const add = (category: string, ...names: string[]) => {
		for (const name of names) out.push({ category, name });
	};

	add(
		"dot-dot",
		"..",
		"../x",
		"../../../../../../etc/passwd",
		"x/..",
		"x/../y",
		"x/../../y",
		"a/b/../../../c",
		"a/b/c/../../../../d",
		"../",
		"x/../",
		"..\\x",
		"..\\..\\..\\windows\\win.ini",
		"x\\..\\..\\y",
		"x/..\\..\\y",
		"...",
		"....",
		"..../x",
		".../..../x",
		" ..",
		".. ",
		"..\u0000",
		"\u0000..",
		"..\t",
		"..%2fx",
		"%2e%2e/x",
		"%2e%2e%2fx",
		"..%c0%afx",
		"..;/x",
		"\uff0e\uff0e/x",
		"\u2025/x",
		"\u2024\u2024/x",
		"..\u202e/x",
		"\u202e../x",
		"..\u200b/x",
		"a/../..",
		"a/b/..",
		"../a/../b",
	);
	add("dot", ".", "./x", "x/.", "x/./y", "./././x", "./", ". ", " .", ".\u0000", "./../x");
	add(
		"absolute",
		"/",
		"//",
		"///",
		"/etc/passwd",
		"/tmp/x",
		"//etc/passwd",
		"/./x",
		"/../x",
		"~/x",
		"~",
		"~root/.ssh/authorized_keys",
		"$HOME/x",
		".ssh/authorized_keys",
		"\\etc\\passwd",
		"\\",
		"\\x",
	);
	add(
		"drive-unc-device",
		"C:",
		"C:\\",
		"C:/",
		"C:x",
		"c:x",
		"C:\\Windows\\System32\\drivers\\etc\\hosts",
		"C:/Windows/win.ini",
		"Z:..\\..\\x",
		"C:..",
		"\\\\?\\C:\\x",
		"\\\\?\\UNC\\server\\share\\x",
		"\\\\.\\PhysicalDrive0",
		"\\\\.\\CON",
		"\\\\server\\share\\x",
		"//server/share/x",
		"//?/C:/x",
		"\\??\\C:\\x",
		"x/C:/y",
		"x/C:",
		"file:///etc/passwd",
		"file.txt:Zone.Identifier",
		"file.txt::$DATA",
		"x:$I30:$INDEX_ALLOCATION",
		"a:b",
		":",
		"::",
	);
	add(
		"backslash",
		"a\\b",
		"\\a",
		"a\\",
		"a\\\\b",
		"dir\\file.txt",
		"a\\..\\..\\b",
		"a/b\\c/d",
		"\\\\",
	);
	add(
		"c0",
		...range(0, 0x1f).map((c) => `a${String.fromCharCode(c)}b.txt`),
		...range(0, 0x1f).map((c) => String.fromCharCode(c)),
	);
	add("nul", "evil.exe\u0000.txt", "\u0000", "a/\u0000/b", "\u0000/x", "x\u0000/../y");
	add("del", "a\u007fb.txt", "\u007f", "\u007f\u007f\u007f");
	add(
		"c1",
		...range(0x80, 0x9f).map((c) => `a${String.fromCharCode(c)}b.txt`),
		...range(0x80, 0x9f).map((c) => String.fromCharCode(c)),
	);
	add(
		"escape",
		...ESCAPES,
		...ESCAPES.map((e) => `report${e}.pdf`),
		...ESCAPES.slice(0, 6).map((e) => `dir${e}/file.txt`),
	);
	add(
		"bidi",
		...BIDI.map((b) => `evil${b}txt.exe`),
		...BIDI,
		...BIDI.map((b) => `${b}dir/file.txt`),
		"invoice\u202efdp.exe",
		"photo\u202egnp.scr",
		"\u2067\u202ex\u2069.txt",
		"a\u2028b.txt",
		"a\u2029b.txt",
	);
	add(
		"reserved",
		...RESERVED,
		...RESERVED.map((r) => `${r}.txt`),
		...RESERVED.map((r) => r.toLowerCase()),
		...RESERVED.slice(0, 8).map((r) => `${r[0]}${r.slice(1).toLowerCase()}.tar.gz`),
		"con .txt",
		"CON .txt",
		"nul.",
		"NUL ",
		"aux.  ",
		"CON/x.txt",
		"x/PRN",
		"x/com1.log/y",
		"COM1:",
		"LPT1.",
		"CONIN$.txt",
		"con\u0000",
	);
	add(
		"trailing",
		"a.",
		"a..",
		"a ",
		"a  ",
		"a . .",
		"a. . . ",
		"   ",
		" ",
		"dir./x",
		"dir /x",
		"dir. /x",
		"x.txt.",
		"x.txt ",
		"x.txt. .",
		" x",
		"x\u3000",
		"x\u00a0",
	);
	const x = (n: number) => "x".repeat(n);
	add(
		"long",
		x(240),
		x(241),
		x(255),
		x(256),
		x(1000),
		`${x(300)}.txt`,
		`${x(252)}.txt`,
		`${x(300)}.${"e".repeat(40)}`,
		`${x(300)}.tar.gz`,
		"é".repeat(128),
		"é".repeat(200),
		`${"é".repeat(150)}.txt`,
		"🎉".repeat(70),
		`${"🎉".repeat(70)}.png`,
		`${"漢".repeat(100)}.txt`,
		"e\u0301".repeat(100),
		`${"a\u0301\u0302\u0303".repeat(40)}.txt`,
		`${x(239)}é`,
		`${x(238)}🎉.txt`,
		`${x(300)} .txt`,
		`${x(300)}.`,
		`${x(235)}.p2p-part`,
		`dir/${x(256)}/file`,
		Array.from({ length: 4 }, () => x(250)).join("/"),
		Array.from({ length: 5 }, () => x(200)).join("/"),
		Array.from({ length: 400 }, () => "a").join("/"),
		Array.from({ length: 513 }, () => "a").join("/"),
		x(1024),
		x(1025),
		x(4096),
		"é".repeat(513),
		`${x(1020)}/a`,
	);
	add(
		"normalisation-case",
		"Café.txt",
		"Cafe\u0301.txt",
		"CAFÉ.TXT",
		"CAFE\u0301.TXT",
		"café.txt",
		"A.txt",
		"a.txt",
		"Dir/File.txt",
		"dir/file.txt",
		"DIR/FILE.TXT",
		"straße.txt",
		"STRASSE.txt",
		"\u212b.txt",
		"\u00c5.txt",
		"A\u030a.txt",
		"\u212a.txt",
		"K.txt",
		"\ufb01le.txt",
		"file.txt",
		"\u1100\u1161\u11a8.txt",
		"\uac01.txt",
		"\u0130stanbul.txt",
		"i\u0307stanbul.txt",
		"\u0958.txt",
		"\u2126.txt",
		"\u03a9.txt",
	);
	add(
		"transfer-suffix",
		"x.p2p-part",
		"x.p2p-resume",
		"x.p2p-resume.tmp",
		"x.P2P-PART",
		".p2p-part",
		"dir.p2p-part/x",
		"x.txt.p2p-part",
	);
	add(
		"surrogates",
		"\ud800",
		"\udc00",
		"a\ud800b.txt",
		"a\udc00b.txt",
		"\udc00\ud800",
		"ok\ud83c.txt",
	);
	add(
		"misc",
		'<>|?*".txt',
		"%00.txt",
		"\ufeffbom.txt",
		"zero\u200bwidth.txt",
		"\u200d",
		"-rf",
		"--help",
		"$(reboot)",
		"`id`",
		"; rm -rf ~",
		"*",
		"?",
		".bashrc",
		".",
		"a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z",
		"\u0085next-line.txt",
		"tab\there.txt",
		"new\nline.txt",
		"carriage\rreturn.txt",
		"\ufffd.txt",
		"\uffff.txt",
		"\ufdd0.txt",
		"\ue000private.txt",
		"\u{10ffff}.txt",
		"\u{1f4a9}/\u{1f4a9}.txt",
	);

	// Combinations: one to three segments of dangerous fragments.
	const fragments = [
		"..",
		".",
		"CON",
		"a",
		"\u001b[2J",
		"\u202e",
		"C:",
		"\\",
		" ",
		"\u0000",
		"é",
		"x.",
		"",
	];
	for (const a of fragments) {
		add("combination", a);
		for (const b of fragments) {
			add("combination", `${a}/${b}`, `${a}${b}`);
		}
	}
	for (const a of ["..", "CON", "\u001b[2J", "\u202e", "C:"])
		for (const b of ["..", ".", "\\", "x."])
			for (const c of ["..", "CON.txt", "a\u0000b", "\u202etxt.exe"])
				add("combination", `${a}/${b}/${c}`);

	const seen = new Set<string>();
	return out.filter((entry) => {
		if (seen.has(entry.name)) return false;
		seen.add(entry.name);
		return true;
	});
}

/** The corpus as committed: JSON, one entry a line. */
export function corpusText(): string {
	const lines = adversarialNames().map((entry) => JSON.stringify(entry));
	return `[\n${lines.join(",\n")}\n]\n`;
}

// Run directly: write the fixture.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
	const file = path.join(root, CORPUS_PATH);
	fs.writeFileSync(file, corpusText());
	process.stdout.write(`${adversarialNames().length} names written to ${file}\n`);
}
