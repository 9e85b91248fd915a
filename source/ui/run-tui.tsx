/**
 * Runs the full-screen TUI over a peer: alternate screen on, render, wait for `q`,
 * then stop the peer (leave message) and restore the terminal. While ink draws, stray
 * console and stderr output is kept off the screen (see {@link guardConsole}).
 */
import { render } from "ink";
import type { Peer } from "../peer/peer.js";
import { createPeerStore } from "../peer/store.js";
import { App, MAX_FPS } from "./app.js";
import { type GuardedLine, guardConsole } from "./console-guard.js";
import { steadyFrames } from "./steady-frames.js";
import { alertSequence, clipboardSequence } from "./terminal-alerts.js";

const ENTER_ALT_SCREEN = "\u001B[?1049h\u001B[H";
const LEAVE_ALT_SCREEN = "\u001B[?1049l";

/** Options of {@link runTui}. */
export interface TuiOptions {
	/**
	 * Gets every line written with `console.*` or to stderr while the TUI runs (e.g. to
	 * put it in the log file). Without it, the lines are printed to stderr once the
	 * terminal is restored.
	 */
	log?: (line: GuardedLine) => void;
}

/**
 * Renders the TUI until the user quits.
 * @param peer - the running peer to show and drive
 * @param options - where stray output goes, see {@link TuiOptions}
 * @returns after the peer said goodbye and the terminal is restored
 */
export async function runTui(peer: Peer, options: TuiOptions = {}): Promise<void> {
	const stdout = process.stdout;
	stdout.write(ENTER_ALT_SCREEN);
	let restored = false;
	const guard = guardConsole(options.log);
	const unsteady = steadyFrames(stdout);
	const restore = () => {
		if (restored) return;
		restored = true;
		guard.restore();
		unsteady();
		stdout.write(LEAVE_ALT_SCREEN);
	};
	process.once("exit", restore);
	const store = createPeerStore(peer, () => {});
	// ink's own console patch would print the output above the frame: the guard keeps it off.
	// Bell, notification and clipboard sequences do not move the cursor: written as they come.
	const app = render(
		<App
			store={store}
			notify={(title, body) => stdout.write(alertSequence(title, body))}
			copy={(text) => stdout.write(clipboardSequence(text))}
		/>,
		{
			exitOnCtrlC: false,
			patchConsole: false,
			maxFps: MAX_FPS,
		},
	);
	const stop = () => app.unmount();
	process.once("SIGTERM", stop);
	try {
		await app.waitUntilExit();
	} finally {
		process.off("SIGTERM", stop);
		process.off("exit", restore);
		store.close();
		app.cleanup();
		restore();
		if (!options.log) {
			for (const line of guard.lines) process.stderr.write(`${line.text}\n`);
		}
		await peer.stop();
	}
}
