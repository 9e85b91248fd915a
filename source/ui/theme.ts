/**
 * Colours that carry meaning, and the switch that removes them all: `NO_COLOR`
 * (https://no-color.org: set and not empty means no colour). Components read the palette
 * from {@link PaletteContext} and pass its entries as ink's `color` props; with no colour
 * every entry is `undefined`, so ink writes no colour escape at all (bold, dim and inverse
 * are not colours and stay, so selection and focus still show).
 */

import { createContext, useContext } from "react";

/** What a colour means on screen. */
export interface Palette {
	/** Border and title of the focused pane. */
	focus: string | undefined;
	/** Borders of the other panes. */
	blur: string | undefined;
	/** Progress made (filled part of a progress bar). */
	progress: string | undefined;
	/** Done well (complete downloads). */
	ok: string | undefined;
	/** Needs attention (paused, waiting for peers, indexing, messages). */
	warn: string | undefined;
	/** Broken (failed downloads, banned peers, errors). */
	error: string | undefined;
	/** Characters a search matched. */
	match: string | undefined;
}

/** The colours used when colour is allowed. */
export const COLORS: Palette = {
	focus: "cyan",
	blur: "gray",
	progress: "green",
	ok: "green",
	warn: "yellow",
	error: "red",
	match: "yellow",
};

/** No colour at all (`NO_COLOR`). */
export const NO_COLORS: Palette = {
	focus: undefined,
	blur: undefined,
	progress: undefined,
	ok: undefined,
	warn: undefined,
	error: undefined,
	match: undefined,
};

/**
 * Whether the user asked for no colour: `NO_COLOR` set to a non-empty value.
 *
 * @param env - the environment (default `process.env`)
 * @returns true when colours must not be written
 */
export function noColorRequested(env: NodeJS.ProcessEnv = process.env): boolean {
	return env.NO_COLOR !== undefined && env.NO_COLOR !== "";
}

/** The palette components draw with; the app provides it. */
export const PaletteContext = createContext<Palette>(COLORS);

/**
 * The palette in force.
 *
 * @returns {@link COLORS}, or {@link NO_COLORS} under `NO_COLOR`
 */
export function usePalette(): Palette {
	return useContext(PaletteContext);
}
