/**
 * Network names: the sanitiser's rules, the adversarial corpus (fixtures/adversarial-names.json)
 * through the sanitiser, the download path and a real downloads folder, a property test over
 * 100,000 random names, and the display sanitiser on every name the TUI and the CLI print.
 */
import assert from "node:assert/strict";
import fs, { constants as fsConstants } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { prepareTarget } from "../../source/library/confine.js";
import { downloadTarget, MAX_PATH_BYTES, PARTIAL_SUFFIX } from "../../source/library/paths.js";
import {
	collisionKey,
	isSafeName,
	jsonText,
	MAX_NAME_BYTES,
	MAX_SAFE_SEGMENT_BYTES,
	numberedSafeName,
	printable,
	printableLines,
	SUFFIX_ROOM_BYTES,
	sanitizeName,
} from "../../source/protocol/names.js";
import { segmentsText } from "../../source/ui/format.js";
import {
	fileListRow,
	fileRow,
	folderTransferRow,
	peerLines,
	statusLineText,
	transferRow,
} from "../../source/ui/rows.js";
import {
	type AdversarialName,
	adversarialNames,
	CORPUS_PATH,
} from "../helpers/adversarial-names.js";
import { fixturesDir, tempDir } from "../helpers/net.js";
import { file, folderTransfer, peer, snapshot, transfer } from "../helpers/ui.js";

/** Every character that must never reach a terminal raw. */
const DANGEROUS =
	// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
	/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** The same, but tab and newline (whole lines of CLI output). */
const DANGEROUS_IN_LINES =
	// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
	/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The committed corpus. */
function corpus(): AdversarialName[] {
	const text = fs.readFileSync(path.join(fixturesDir(), "..", CORPUS_PATH), "utf8");
	return JSON.parse(text) as AdversarialName[];
}

/** A short printable label for a test name. */
function shown(name: string): string {
	const json = JSON.stringify(name.length > 40 ? `${name.slice(0, 30)}…` : name);
	return json.replace(DANGEROUS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Checks, independently of the sanitiser's code, that a name is safe to join under a folder
 * on every platform.
 */
function assertSafeName(name: string, from: string): void {
	const why = `${shown(name)} (from ${shown(from)})`;
	assert.ok(name.length > 0, why);
	assert.ok(Buffer.byteLength(name) <= MAX_NAME_BYTES, why);
	assert.equal(name, name.normalize("NFC"), `not NFC: ${why}`);
	assert.ok(!LONE_SURROGATE.test(name), why);
	assert.ok(!name.startsWith("/"), why);
	for (const segment of name.split("/")) {
		assert.ok(segment !== "" && segment !== "." && segment !== "..", why);
		assert.ok(Buffer.byteLength(segment) <= MAX_SAFE_SEGMENT_BYTES, `long: ${why}`);
		assert.ok(!DANGEROUS.test(segment), `control or bidi: ${why}`);
		assert.ok(!/[\\:]/.test(segment), `separator: ${why}`);
		assert.ok(!/[. ]$/.test(segment), `trailing dot or space: ${why}`);
		const base = segment.split(".")[0].replace(/ +$/, "").toUpperCase();
		const reserved = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"];
		for (const digit of "0123456789¹²³") reserved.push(`COM${digit}`, `LPT${digit}`);
		assert.ok(!reserved.includes(base), `reserved: ${why}`);
		assert.ok(!/\.p2p-(part|resume|resume\.tmp)$/i.test(segment), `our suffix: ${why}`);
	}
}

/** Whether a relative path (from `path.relative`) names something strictly inside its root. */
function strictlyInside(rel: string, rules: path.PlatformPath): boolean {
	const first = rel.split(rules.sep)[0];
	return rel !== "" && first !== ".." && !rules.isAbsolute(rel);
}

/**
 * Checks that a destination lies strictly inside `root`, with both POSIX and Windows path
 * rules (so a segment that means something to Windows, `C:` or `..\`, is caught too).
 */
function assertInside(root: string, target: string, segments: string[]): void {
	const rel = path.relative(root, path.resolve(target));
	assert.ok(strictlyInside(rel, path.posix), target);
	const winRoot = "C:\\downloads";
	const winTarget = path.win32.resolve(winRoot, ...segments);
	const winRel = path.win32.relative(winRoot, winTarget);
	assert.ok(strictlyInside(winRel, path.win32), `escapes on Windows: ${winTarget}`);
	assert.equal(winRel.split("\\").length, segments.length, `split on Windows: ${winTarget}`);
}

describe("network name sanitiser: rules", () => {
	const ok = (raw: string) => {
		const verdict = sanitizeName(raw);
		assert.ok(verdict.ok, `${shown(raw)} refused: ${verdict.ok ? "" : verdict.reason}`);
		return verdict.name;
	};
	const refused = (raw: unknown) => {
		const verdict = sanitizeName(raw);
		assert.ok(!verdict.ok, `${shown(String(raw))} accepted as ${verdict.ok ? verdict.name : ""}`);
		return verdict.reason;
	};

	it("refuses hostile structure: .. and . anywhere, absolute, drive, UNC and device paths, empty segments", () => {
		for (const name of ["..", "../x", "a/..", "a/../b", ".", "./a", "a/./b", "a//b", "a/", "/a"])
			refused(name);
		assert.equal(refused("/etc/passwd"), "an absolute path");
		assert.equal(refused("C:\\Windows"), "a drive-letter path");
		assert.equal(refused("c:x"), "a drive-letter path");
		assert.equal(refused("\\\\?\\C:\\x"), "a rooted, UNC or device path");
		assert.equal(refused("\\\\server\\share"), "a rooted, UNC or device path");
		assert.equal(refused("a/../b"), "a .. segment");
		assert.equal(refused(""), "empty");
		assert.equal(refused(42), "not a string");
		assert.equal(refused("x".repeat(MAX_NAME_BYTES + 1)), "over 1024 bytes");
		assert.equal(refused("é".repeat(513)), "over 1024 bytes");
		// Exactly 1,024 bytes: accepted.
		const longest = [...Array.from({ length: 4 }, () => "x".repeat(240)), "y".repeat(60)].join("/");
		assert.equal(Buffer.byteLength(longest), MAX_NAME_BYTES);
		assert.equal(ok(longest), longest);
	});

	it("rewrites control, escape and bidirectional characters, backslashes and colons to _", () => {
		assert.equal(ok("a\u0000b"), "a_b");
		assert.equal(ok("\u001b[2Jx"), "_[2Jx");
		assert.equal(ok("\u009b31mred"), "_31mred");
		assert.equal(ok("invoice\u202efdp.exe"), "invoice_fdp.exe");
		assert.equal(ok("a\u2066b\u2069\u061c\u200e\u200f"), "a_b____");
		assert.equal(ok("..\\..\\windows"), ".._.._windows");
		assert.equal(ok("file.txt:Zone.Identifier"), "file.txt_Zone.Identifier");
		assert.equal(ok("a\u2028b"), "a_b");
		assert.equal(ok("tab\there"), "tab_here");
	});

	it("drops trailing dots and spaces; a segment left empty is _", () => {
		assert.equal(ok("a."), "a");
		assert.equal(ok("a . ."), "a");
		assert.equal(ok("dir. /x.txt "), "dir/x.txt");
		assert.equal(ok("..."), "_");
		assert.equal(ok(" .."), "_");
		assert.equal(ok("   "), "_");
		assert.equal(ok(" x"), " x");
	});

	it("prefixes Windows reserved names in any case, with any extension", () => {
		for (const name of ["CON", "con", "Prn.txt", "aux.tar.gz", "NUL", "COM1", "com9.log", "LPT1"])
			assert.equal(ok(name), `_${name}`);
		assert.equal(ok("COM¹.txt"), "_COM¹.txt");
		assert.equal(ok("con .txt"), "_con .txt");
		assert.equal(ok("nul."), "_nul");
		assert.equal(ok("CON/x"), "_CON/x");
		assert.equal(ok("x/lpt3"), "x/_lpt3");
		for (const name of ["CONSOLE", "COM10", "COM", "LPT", "xCON", "CON_"])
			assert.equal(ok(name), name);
	});

	it("keeps our transfer suffixes for our own files", () => {
		assert.equal(ok("x.p2p-part"), "x.p2p-part_");
		assert.equal(ok("x.P2P-Resume"), "x.P2P-Resume_");
		assert.equal(ok("x.p2p-resume.tmp"), "x.p2p-resume.tmp_");
		assert.equal(ok("x.p2p-partial"), "x.p2p-partial");
	});

	it("cuts segments over 240 bytes on a code point boundary, keeping the extension", () => {
		assert.equal(ok(`${"x".repeat(300)}.txt`), `${"x".repeat(236)}.txt`);
		assert.equal(ok("é".repeat(200)), "é".repeat(120));
		assert.equal(ok(`${"x".repeat(239)}é`), "x".repeat(239));
		const emoji = ok(`${"🎉".repeat(70)}.png`);
		assert.equal(emoji, `${"🎉".repeat(59)}.png`);
		// An extension too long to be one is not kept.
		assert.equal(ok(`${"x".repeat(300)}.${"e".repeat(40)}`), "x".repeat(240));
		// A cut that ends on a space or a dot is trimmed.
		assert.equal(ok(`${"x".repeat(238)}  ${"y".repeat(30)}`), "x".repeat(238));
		// Our suffix exposed by the cut is caught too.
		const suffixed = ok(`${"x".repeat(231)}.p2p-part${"y".repeat(40)}`);
		assert.ok(!/\.p2p-part$/.test(suffixed), suffixed);
	});

	it("normalises to NFC, and lone surrogates to U+FFFD", () => {
		assert.equal(ok("Cafe\u0301.txt"), "Café.txt");
		assert.equal(ok("\u212b"), "\u00c5");
		assert.equal(ok("a\ud800b"), "a\ufffdb");
		assert.equal(ok("\udc00"), "\ufffd");
		assert.equal(ok("Café.txt"), "Café.txt");
	});

	it("keeps ordinary names as they are", () => {
		for (const name of [
			"a.txt",
			"docs/nested/deep notes.txt",
			"Café – résumé ü.txt",
			"漢字/写真.jpg",
			".bashrc",
			"-rf",
			"a b",
			'<>|?*".txt',
			"👨‍👩‍👧.png",
		]) {
			assert.equal(ok(name), name);
			assert.ok(isSafeName(name));
		}
		assert.ok(!isSafeName("a\u0000"));
		assert.ok(!isSafeName("../a"));
	});

	it("refuses a destination whose whole path (with our longest suffix) would pass PATH_MAX", () => {
		const name = ["a".repeat(240), "b".repeat(240), "c".repeat(240)].join("/");
		const fits = `/${"d".repeat(MAX_PATH_BYTES - Buffer.byteLength(name) - 2 - SUFFIX_ROOM_BYTES)}`;
		const target = downloadTarget(fits, name);
		assert.ok(target);
		assert.equal(Buffer.byteLength(target) + SUFFIX_ROOM_BYTES, MAX_PATH_BYTES);
		assert.equal(downloadTarget(`${fits}d`, name), null);
	});

	it("gives colliding names keys that match across case and normalisation", () => {
		assert.equal(collisionKey("Café.TXT"), collisionKey("cafe\u0301.txt"));
		assert.equal(collisionKey("A/B.txt"), collisionKey("a/b.txt"));
		assert.notEqual(collisionKey("a.txt"), collisionKey("b.txt"));
	});

	it("numbers a safe name within the segment limit", () => {
		assert.equal(numberedSafeName("dir/a.txt", 1), "dir/a (1).txt");
		assert.equal(numberedSafeName("README", 12), "README (12)");
		const long = ok(`${"x".repeat(300)}.txt`);
		const numbered = numberedSafeName(long, 7);
		assert.equal(Buffer.byteLength(numbered), MAX_SAFE_SEGMENT_BYTES);
		assert.ok(numbered.endsWith(" (7).txt"));
		assert.ok(isSafeName(numbered));
		const names = new Set(Array.from({ length: 50 }, (_, n) => numberedSafeName(long, n + 1)));
		assert.equal(names.size, 50);
	});
});

describe("adversarial name corpus", () => {
	const entries = corpus();
	const root = tempDir("p2p-names-");
	after(() => fs.rmSync(root, { recursive: true, force: true }));

	it("is the committed output of its generator, over 500 names in every category", () => {
		assert.deepEqual(entries, adversarialNames());
		assert.ok(entries.length >= 500, `${entries.length} names`);
		const categories = new Set(entries.map((e) => e.category));
		for (const category of [
			"dot-dot",
			"dot",
			"absolute",
			"drive-unc-device",
			"backslash",
			"c0",
			"nul",
			"del",
			"c1",
			"escape",
			"bidi",
			"reserved",
			"trailing",
			"long",
			"normalisation-case",
			"combination",
		])
			assert.ok(categories.has(category), category);
		assert.equal(new Set(entries.map((e) => e.name)).size, entries.length);
	});

	it("every name is refused or made safe, stably, and its destination lies inside the downloads folder", () => {
		const downloads = "/srv/downloads";
		let refused = 0;
		for (const { name } of entries) {
			const verdict = sanitizeName(name);
			const target = downloadTarget(downloads, name);
			if (!verdict.ok) {
				refused++;
				assert.equal(target, null, shown(name));
				continue;
			}
			assertSafeName(verdict.name, name);
			assert.deepEqual(sanitizeName(verdict.name), { ...verdict, changed: false }, shown(name));
			assert.ok(target, shown(name));
			assertInside(downloads, target, verdict.segments);
			assert.equal(target, path.join(downloads, ...verdict.segments));
		}
		// Both outcomes are exercised.
		assert.ok(refused > 50 && refused < entries.length - 300, `${refused} refused`);
	});

	it("every accepted name, created on disk as a download would be, has its real path inside the downloads folder", async () => {
		const outside = path.join(root, "outside");
		fs.mkdirSync(outside);
		let created = 0;
		const createOne = async (index: number, name: string) => {
			// A downloads folder per name: a file of one name cannot stand in another's way.
			const downloads = path.join(root, "dl", String(index));
			const target = downloadTarget(downloads, name);
			if (!target) return;
			const folder = await prepareTarget(downloads, target);
			// As the download does: the partial file first (never through a link), then the
			// final name by link + unlink.
			const partial = target + PARTIAL_SUFFIX;
			const handle = await fsp.open(
				partial,
				fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW,
			);
			await handle.write(Buffer.from(name));
			await handle.close();
			await fsp.link(partial, target);
			await fsp.unlink(partial);
			assert.equal(fs.realpathSync(path.dirname(target)), folder);
			const rel = path.relative(fs.realpathSync(downloads), fs.realpathSync(target));
			assert.ok(strictlyInside(rel, path), shown(name));
			assert.equal(fs.readFileSync(target, "utf8"), Buffer.from(name).toString("utf8"));
			created++;
		};
		for (let at = 0; at < entries.length; at += 32)
			await Promise.all(entries.slice(at, at + 32).map(({ name }, i) => createOne(at + i, name)));
		assert.ok(created > 500, `${created} created`);
		assert.deepEqual(fs.readdirSync(outside), []);
		// Nothing landed beside the downloads folders.
		assert.deepEqual(fs.readdirSync(root).sort(), ["dl", "outside"]);
	});
});

describe("network names: property over 100,000 random names", () => {
	const dangerous = fc.constantFrom(
		"..",
		".",
		"/",
		"//",
		"\\",
		"\\\\?\\",
		":",
		"C:",
		"c:",
		"\u0000",
		"\u001b",
		"\u001b[2J",
		"\u001b]0;x\u0007",
		"\u009b",
		"\u0085",
		"\u007f",
		"\u202e",
		"\u2066",
		"\u200f",
		"\u061c",
		"\u2028",
		"CON",
		"nul",
		"Com1",
		"LPT9",
		"aux.txt",
		"conin$",
		" ",
		"...",
		". .",
		"a",
		"é",
		"e\u0301",
		"\u212b",
		"\ud800",
		"\udc00",
		"🎉",
		"~",
		".p2p-part",
		"x".repeat(120),
		"é".repeat(70),
	);
	const nameArb = fc.oneof(
		fc.string({ unit: "binary", maxLength: 40 }),
		fc.string({ unit: "grapheme", maxLength: 40 }),
		fc.array(dangerous, { minLength: 1, maxLength: 10 }).map((parts) => parts.join("")),
		fc
			.array(fc.oneof(dangerous, fc.string({ unit: "binary", maxLength: 6 })), {
				minLength: 1,
				maxLength: 8,
			})
			.map((parts) => parts.join("")),
		fc
			.array(
				fc.array(dangerous, { maxLength: 4 }).map((p) => p.join("")),
				{ maxLength: 5 },
			)
			.map((segments) => segments.join("/")),
	);
	const downloads = "/srv/downloads";

	it("every destination path stays inside the downloads folder (pure path computation)", () => {
		let accepted = 0;
		fc.assert(
			fc.property(nameArb, (name) => {
				const target = downloadTarget(downloads, name);
				const verdict = sanitizeName(name);
				if (!verdict.ok) {
					assert.equal(target, null);
					return;
				}
				accepted++;
				assert.ok(target);
				assertSafeName(verdict.name, name);
				assertInside(downloads, target, verdict.segments);
				assert.equal(sanitizeName(verdict.name).ok && isSafeName(verdict.name), true);
			}),
			{ numRuns: 100_000 },
		);
		assert.ok(accepted > 20_000, `${accepted} accepted`);
	});

	it("on a real downloads folder, every created file's real path stays inside it (1,000 names)", async (t) => {
		const root = tempDir("p2p-names-fs-");
		t.after(() => fs.rmSync(root, { recursive: true, force: true }));
		let run = 0;
		await fc.assert(
			fc.asyncProperty(nameArb, async (name) => {
				const dl = path.join(root, "dl", String(run++));
				const target = downloadTarget(dl, name);
				if (!target) return;
				await prepareTarget(dl, target);
				const handle = await fsp.open(
					target + PARTIAL_SUFFIX,
					fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW,
				);
				await handle.close();
				// The real path of the folder it was created in, and its name there.
				const partial = target + PARTIAL_SUFFIX;
				const real = path.join(fs.realpathSync(path.dirname(partial)), path.basename(partial));
				const rel = path.relative(fs.realpathSync(dl), real);
				assert.ok(strictlyInside(rel, path), target);
			}),
			{ numRuns: 1_000 },
		);
		assert.deepEqual(fs.readdirSync(root), ["dl"]);
	});
});

describe("display sanitiser: what the TUI and the CLI print", () => {
	const entries = corpus();

	it("printable and printableLines leave no control, escape or bidi character, keeping UTF-16 indices", () => {
		for (const { name } of entries) {
			const text = printable(name);
			assert.ok(!DANGEROUS.test(text), shown(name));
			assert.equal(text.length, name.length);
			assert.ok(!DANGEROUS_IN_LINES.test(printableLines(`${name}\t${name}\n`)), shown(name));
		}
		assert.equal(printable("a\u001b[2Jb"), "a\ufffd[2Jb");
		assert.equal(printable("x\u009by\u202ez\u0007\u061c"), "x\ufffdy\ufffdz\ufffd\ufffd");
		assert.equal(printableLines("a\tb\nc\u001b"), "a\tb\nc\ufffd");
	});

	it("jsonText parses back to the same value and carries no raw control or bidi character", () => {
		for (const { name } of entries) {
			const line = jsonText({ name, names: [name] });
			assert.ok(!DANGEROUS.test(line), shown(name));
			assert.deepEqual(JSON.parse(line), { name, names: [name] });
		}
		assert.equal(jsonText(undefined), "null");
	});

	it("every TUI row that shows a name, for every corpus name, is free of them", () => {
		for (const { name } of entries) {
			const texts = [
				...peerLines(peer(name), Date.now(), 40, true),
				fileRow(file(name), 60, false),
				segmentsText(
					fileListRow(
						{
							kind: "file",
							label: name,
							ranges: [[0, 2]],
							indent: 2,
							glyph: "",
							info: name,
							size: "1 KiB",
							peers: 1,
						},
						60,
						true,
					),
				),
				transferRow(transfer(name), 100, true),
				transferRow(
					transfer(name, { status: "failed", error: `cannot write ${name}` }),
					100,
					false,
				),
				transferRow(transfer("x"), 100, false, { label: name, prefix: "├ " }),
				folderTransferRow(folderTransfer(name), [transfer(name)], 100, false),
				...Object.values(
					statusLineText(
						snapshot({
							self: { ...snapshot().self, name, shareDir: `/s/${name}` },
							message: `saved ${name}`,
						}),
						120,
					),
				),
			];
			for (const text of texts) assert.ok(!DANGEROUS.test(text), `${shown(name)}: ${shown(text)}`);
		}
	});
});
