/**
 * Runs the full-screen TUI over a peer: alternate screen on, render, wait for `q`,
 * then stop the peer (leave message) and restore the terminal.
 */
import { render } from "ink";
import type { Peer } from "../peer/peer.js";
import { createPeerStore } from "../peer/store.js";
import { App } from "./app.js";

const ENTER_ALT_SCREEN = "\u001B[?1049h\u001B[H";
const LEAVE_ALT_SCREEN = "\u001B[?1049l";

/**
 * Renders the TUI until the user quits.
 * @returns after the peer said goodbye and the terminal is restored
 */
export async function runTui(peer: Peer): Promise<void> {
	const stdout = process.stdout;
	stdout.write(ENTER_ALT_SCREEN);
	let restored = false;
	const restore = () => {
		if (restored) return;
		restored = true;
		stdout.write(LEAVE_ALT_SCREEN);
	};
	process.once("exit", restore);
	const store = createPeerStore(peer, () => {});
	const app = render(<App store={store} />, { exitOnCtrlC: false, patchConsole: true });
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
		await peer.stop();
	}
}
