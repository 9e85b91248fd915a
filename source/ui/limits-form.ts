/**
 * The limits form (`L`): three text fields (max download and upload rate in KB/s, empty
 * for unlimited; most active downloads), their editing and their parsing into the
 * `set-limits` intent. Pure data, no React.
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
] as const;

/** The form's state: the text of each field, the field being edited, the last error. */
export interface LimitsForm {
	/** Text of the download, upload and active fields. */
	values: [string, string, string];
	/** Index of the field being edited (0 to 2). */
	field: number;
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
export function openLimitsForm(limits: Limits): LimitsForm {
	return {
		values: [rateField(limits.maxDown), rateField(limits.maxUp), String(limits.maxActive)],
		field: 0,
	};
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
	switch (action.type) {
		case "type":
			values[form.field] = (current + action.text).slice(0, 12);
			return { values, field: form.field };
		case "erase":
			values[form.field] = current.slice(0, -1);
			return { values, field: form.field };
		case "erase-all":
			values[form.field] = "";
			return { values, field: form.field };
		case "field": {
			const count = LIMIT_FIELDS.length;
			return { values, field: (((form.field + action.delta) % count) + count) % count };
		}
		default:
			return form;
	}
}

/** The outcome of {@link parseLimitsForm}. */
export type ParsedLimits =
	| { ok: true; limits: Limits }
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
	return { ok: true, limits: { maxDown, maxUp, maxActive } };
}
