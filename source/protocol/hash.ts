/**
 * The one BLAKE3 interface of p2p-tui. Every digest is the standard 32-byte BLAKE3 hash as the
 * BLAKE3 specification defines it (default hash mode: unkeyed, no context string, 32 bytes of
 * output), so a whole-content hash equals what `b3sum` prints for the same bytes.
 *
 * Two implementations sit behind the same functions:
 * - `native`: the `@napi-rs/blake-hash` N-API binding (Rust `blake3` crate with SIMD), loaded from
 *   a prebuilt platform package; several GB/s on one core.
 * - `wasm`: the `blake3` package's WebAssembly build, about six times slower, which works on
 *   every platform Node runs on.
 *
 * The native one is preferred; it is loaded with `require` inside try/catch and checked against a
 * known digest, so a missing or broken platform binary never crashes, it just selects `wasm`.
 * Setting the environment variable `P2P_TUI_BLAKE3=wasm` before this module loads forces `wasm`.
 */
import { createRequire } from "node:module";

/** Incremental hasher: feed bytes in order, then take the 32-byte digest once. */
export interface Hasher {
	/**
	 * Appends `bytes` to the hashed input. The bytes are consumed before the call returns, so the
	 * caller may reuse the buffer afterwards.
	 * @throws Error when called after {@link Hasher.digest}
	 */
	update(bytes: Uint8Array): void;
	/**
	 * The 32-byte digest of everything passed to `update`, as a new buffer; the hasher must not
	 * be used afterwards.
	 * @throws Error when called a second time
	 */
	digest(): Buffer;
}

/** One BLAKE3 implementation: the one-shot and the incremental form of the same hash. */
export interface Blake3Backend {
	/** BLAKE3 of `bytes` (any length, including 0): a new 32-byte buffer. */
	hash(bytes: Uint8Array): Buffer;
	/** A fresh incremental BLAKE3 hasher. */
	createHasher(): Hasher;
	/** BLAKE3 `derive_key` mode (spec section 2.6): a new 32-byte key. */
	deriveKey(context: string, material: Uint8Array): Buffer;
}

/** Which implementation is in use: the N-API binding or the WebAssembly fallback. */
export type HashBackendName = "native" | "wasm";

/** The environment variable that, set to `wasm`, forces the WebAssembly fallback. */
export const HASH_BACKEND_ENV = "P2P_TUI_BLAKE3";

const require = createRequire(import.meta.url);

/** The part of `@napi-rs/blake-hash` used here. */
interface NativeBinding {
	blake3(input: Uint8Array): Buffer;
	Blake3Hasher: {
		new (): {
			update(input: Uint8Array): unknown;
			digestBuffer(): Buffer;
		};
		deriveKey(context: string, material: Uint8Array): Buffer;
	};
}

/** The part of the `blake3` package used here. */
interface WasmBinding {
	hash(input: Uint8Array): Uint8Array;
	createHash(): {
		update(input: Uint8Array): unknown;
		digest(): Uint8Array;
		dispose(): void;
	};
	deriveKey(context: string, material: Uint8Array): Uint8Array;
}

/**
 * Largest slice handed to the WebAssembly hasher at once. The `blake3` package copies its input
 * into WebAssembly memory, which grows to fit and never shrinks: slicing bounds that memory at
 * this size instead of the largest buffer ever hashed, at no cost in speed.
 */
const WASM_SLICE = 1 << 20;

/** BLAKE3("abc"), from the reference implementation's test vectors; checks a loaded binding. */
const ABC_DIGEST = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";

/** The context string of the BLAKE3 test vectors (test_vectors.json). */
export const VECTOR_CONTEXT = "BLAKE3 2019-12-27 16:29:52 test vectors context";
/** `derive_key` of the empty input under {@link VECTOR_CONTEXT}, first 32 bytes (test vectors). */
const EMPTY_DERIVED = "2cc39783c223154fea8dfb7c1b1660f2ac2dcbd1c1de8277b0b0dd39b7e50d7d";

/** Wraps an incremental hasher so that use after `digest` throws the same way everywhere. */
function guarded(update: (bytes: Uint8Array) => void, finish: () => Buffer): Hasher {
	let done = false;
	return {
		update(bytes) {
			if (done) throw new Error("BLAKE3 hasher used after digest()");
			update(bytes);
		},
		digest() {
			if (done) throw new Error("BLAKE3 hasher digest() called twice");
			done = true;
			return finish();
		},
	};
}

/** A Buffer view of a Uint8Array without copying. */
function asBuffer(bytes: Uint8Array): Buffer {
	return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** The native backend over a loaded binding. Its input is read in place: no copy. */
function nativeBackend(binding: NativeBinding): Blake3Backend {
	return {
		hash(bytes) {
			return binding.blake3(bytes);
		},
		createHasher() {
			const h = new binding.Blake3Hasher();
			return guarded(
				(bytes) => {
					h.update(bytes);
				},
				() => h.digestBuffer(),
			);
		},
		deriveKey(context, material) {
			return binding.Blake3Hasher.deriveKey(context, material);
		},
	};
}

/** The WebAssembly backend; the `blake3` package is loaded on first use. */
function wasmBackend(): Blake3Backend {
	let binding: WasmBinding | undefined;
	const load = (): WasmBinding => {
		binding ??= require("blake3") as WasmBinding;
		return binding;
	};
	const feed = (h: ReturnType<WasmBinding["createHash"]>, bytes: Uint8Array) => {
		for (let at = 0; at < bytes.length; at += WASM_SLICE) {
			h.update(bytes.subarray(at, at + WASM_SLICE));
		}
	};
	return {
		hash(bytes) {
			const wasm = load();
			if (bytes.length <= WASM_SLICE) return asBuffer(wasm.hash(bytes));
			const h = wasm.createHash();
			try {
				feed(h, bytes);
				return asBuffer(h.digest());
			} finally {
				h.dispose();
			}
		},
		createHasher() {
			const h = load().createHash();
			return guarded(
				(bytes) => feed(h, bytes),
				() => {
					try {
						return asBuffer(h.digest());
					} finally {
						h.dispose();
					}
				},
			);
		},
		deriveKey(context, material) {
			return asBuffer(load().deriveKey(context, material));
		},
	};
}

/** The native backend, or undefined when its binary cannot be loaded or gives a wrong digest. */
function loadNative(): Blake3Backend | undefined {
	try {
		const backend = nativeBackend(require("@napi-rs/blake-hash") as NativeBinding);
		if (backend.hash(Buffer.from("abc")).toString("hex") !== ABC_DIGEST) return undefined;
		const derived = backend.deriveKey(VECTOR_CONTEXT, Buffer.alloc(0)).toString("hex");
		if (derived !== EMPTY_DERIVED) return undefined;
		return backend;
	} catch {
		return undefined;
	}
}

/**
 * Both implementations, for tests and benchmarks that compare them. `native` is absent when the
 * binding cannot be loaded on this machine; `wasm` is always present (it loads on first use and
 * throws then if the `blake3` package is missing).
 */
export const backends: { readonly native?: Blake3Backend; readonly wasm: Blake3Backend } = {
	native: loadNative(),
	wasm: wasmBackend(),
};

/**
 * The implementation behind {@link hash} and {@link createHasher}: `native` when the binding
 * loaded and `P2P_TUI_BLAKE3` is not `wasm`, else `wasm`. Fixed when this module loads.
 */
export const hashBackend: HashBackendName =
	backends.native && process.env[HASH_BACKEND_ENV] !== "wasm" ? "native" : "wasm";

const selected: Blake3Backend =
	hashBackend === "native" && backends.native ? backends.native : backends.wasm;

/**
 * BLAKE3 of `bytes` (BLAKE3 spec, default unkeyed mode).
 * @param bytes the input, any length including 0; read in place, not modified
 * @returns a new 32-byte buffer: the digest `b3sum` prints in hex for the same bytes
 */
export function hash(bytes: Uint8Array): Buffer {
	return selected.hash(bytes);
}

/**
 * A fresh incremental BLAKE3 hasher (BLAKE3 spec, default unkeyed mode): any split of the input
 * across `update` calls gives the digest {@link hash} gives for the whole input.
 * @returns a hasher whose `digest()` is a new 32-byte buffer
 */
export function createHasher(): Hasher {
	return selected.createHasher();
}

/**
 * BLAKE3 in `derive_key` mode (BLAKE3 spec section 2.6 and its test vectors): a key derived
 * from key material under a context string, so keys derived for different purposes from the
 * same material are independent.
 * @param context - a hardcoded, globally unique, application-specific string (never secret
 *   or variable: the spec asks for e.g. "[application] [commit timestamp] [purpose]")
 * @param material - the input key material, any length
 * @returns a new 32-byte key
 */
export function deriveKey(context: string, material: Uint8Array): Buffer {
	return selected.deriveKey(context, material);
}

/**
 * Lowercase hex of bytes (ids, hashes).
 * @param bytes any bytes
 * @returns 2 characters per byte, `[0-9a-f]`
 */
export function toHex(bytes: Uint8Array): string {
	return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * Parses lowercase or uppercase hex of exactly `size` bytes.
 * @param text the hex text, `size * 2` characters
 * @param size the expected length in bytes
 * @returns the bytes (a new `size`-byte buffer), or null when `text` is not such hex
 */
export function fromHex(text: string, size: number): Buffer | null {
	if (text.length !== size * 2 || !/^[0-9a-fA-F]*$/.test(text)) return null;
	return Buffer.from(text, "hex");
}
