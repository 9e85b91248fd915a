/**
 * The limits form (`L`): four text fields (max download and upload rate in KB/s, empty
 * for unlimited; most active downloads; the network key, shown masked), their editing and
 * their parsing into the `set-limits` and `set-network-key` intents. Pure data, no React.
 */

import type { Limits } from "../peer/types.js";
import type { UiAction } from "./keymap.js";

/** Bytes in one KB as the command line and the form count them (SI, like `--max-down`). */
export const KB = 1000;

/** Highest number of active downloads the form accepts. */
export const MAX_ACTIVE_LIMIT = 1000;

/** The fields, in Tab order. */
export const LIMIT_FIELDS = [
	{ label: "Max download", unit: "KB/s (empty = unlimited)" },
	{ label: "Max upload", unit: "KB/s (empty = unlimited)" },
	{ label: "Active downloads", unit: "at once (more wait, queued)" },
	{ label: "Network key", unit: "empty: unchanged · - : none" },
] as const;

/** Index of the network key field (its text is a secret: shown masked, never prefilled). */
export const KEY_FIELD = 3;

/** Longest text of a rate or count field, and of the key field, in characters. */
const FIELD_CHARS = 12;
const KEY_CHARS = 1024;

/** The form's state: the text of each field, the field being edited, the last error. */
export interface LimitsForm {
	/** Text of the download, upload, active and network key fields. */
	values: [string, string, string, string];
	/** Index of the field being edited (0 to 3). */
	field: number;
	/** A network key is in force (the key field's text is never the key in force). */
	keyed?: boolean;
	/** Why the last Enter was refused, if it was. */
	error?: string;
}

/** A rate in bytes/s as the KB/s a field shows: `""` for unlimited, no trailing `.0`. */
function rateField(bytesPerSecond: number | null): string {
	if (bytesPerSecond === null) return "";
	return String(Math.round((bytesPerSecond / KB) * 10) / 10);
}

/**
 * The form filled with the limits in force, the download field first.
 *
 * @param limits - the snapshot's limits
 * @returns a fresh form
 */
export function openLimitsForm(limits: Limits, keyed?: boolean): LimitsForm {
	const form: LimitsForm = {
		values: [rateField(limits.maxDown), rateField(limits.maxUp), String(limits.maxActive), ""],
		field: 0,
	};
	if (keyed !== undefined) form.keyed = keyed;
	return form;
}

/**
 * Applies an editing action to the form: typing, erasing, moving between fields (wrapping
 * around). Other actions leave it as it is. Any edit clears the error.
 *
 * @param form - the current form
 * @param action - `type`, `erase`, `erase-all` or `field`
 * @returns the next form (the same object when nothing changes)
 */
export function editLimitsForm(form: LimitsForm, action: UiAction): LimitsForm {
	const values = [...form.values] as LimitsForm["values"];
	const current = values[form.field];
	const next = (field: number): LimitsForm =>
		form.keyed === undefined ? { values, field } : { values, field, keyed: form.keyed };
	switch (action.type) {
		case "type":
			values[form.field] = (current + action.text).slice(
				0,
				form.field === KEY_FIELD ? KEY_CHARS : FIELD_CHARS,
			);
			return next(form.field);
		case "erase":
			values[form.field] = current.slice(0, -1);
			return next(form.field);
		case "erase-all":
			values[form.field] = "";
			return next(form.field);
		case "field": {
			const count = LIMIT_FIELDS.length;
			return next((((form.field + action.delta) % count) + count) % count);
		}
		default:
			return form;
	}
}

/** The outcome of {@link parseLimitsForm}. */
export type ParsedLimits =
	| {
			ok: true;
			limits: Limits;
			/** The network key typed (`null`: none, from `-`); absent when left empty. */
			networkKey?: string | null;
	  }
	| { ok: false; field: number; error: string };

/** A rate field: empty is unlimited, else a positive number of KB/s. */
function parseRate(text: string): number | null | undefined {
	const trimmed = text.trim();
	if (trimmed === "") return null;
	if (!/^(\d+(\.\d*)?|\.\d+)$/.test(trimmed)) return undefined;
	const bytes = Math.round(Number(trimmed) * KB);
	return bytes > 0 ? bytes : undefined;
}

/**
 * Reads the form's fields as limits.
 *
 * @param form - the form
 * @returns the limits in bytes/s (`null` for unlimited) and the active count, or the first
 *   field that is wrong with a one-line reason
 */
export function parseLimitsForm(form: LimitsForm): ParsedLimits {
	const maxDown = parseRate(form.values[0]);
	if (maxDown === undefined) {
		return { ok: false, field: 0, error: "max download: a rate above 0 KB/s, or empty for none" };
	}
	const maxUp = parseRate(form.values[1]);
	if (maxUp === undefined) {
		return { ok: false, field: 1, error: "max upload: a rate above 0 KB/s, or empty for none" };
	}
	const active = form.values[2].trim();
	const maxActive = Number(active);
	if (!/^\d+$/.test(active) || maxActive < 1 || maxActive > MAX_ACTIVE_LIMIT) {
		return {
			ok: false,
			field: 2,
			error: `active downloads: a whole number from 1 to ${MAX_ACTIVE_LIMIT}`,
		};
	}
	const key = form.values[KEY_FIELD];
	if (key === "") return { ok: true, limits: { maxDown, maxUp, maxActive } };
	if (Buffer.byteLength(key) > MAX_KEY_BYTES)
		return { ok: false, field: KEY_FIELD, error: `network key: at most ${MAX_KEY_BYTES} bytes` };
	return {
		ok: true,
		limits: { maxDown, maxUp, maxActive },
		networkKey: key === "-" ? null : key,
	};
}

/** Longest network key, in bytes of UTF-8 (the seal's `MAX_SECRET_BYTES`). */
const MAX_KEY_BYTES = 4096;
