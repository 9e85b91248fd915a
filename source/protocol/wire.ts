/**
 * Byte-level primitives for the p2p-tui wire format: a bounds-checked reader that never
 * throws (it latches a failure flag instead) and a writer over one pre-sized buffer.
 * All integers are big-endian (network byte order). See docs/protocol.md.
 */

/** Largest integer a u64 field may carry here: 2^53 - 1, the largest exact JS number. */
export const MAX_U64 = Number.MAX_SAFE_INTEGER;

const TWO_32 = 2 ** 32;

/**
 * Sequential reader over an untrusted buffer. Every read checks bounds; on the first
 * failure `ok` becomes false and later reads return zero values, so a decoder can read a
 * whole message and check `ok` once (the dht-rpc style: decode returns null, never throws).
 */
export class Reader {
	/** Current read position in bytes from the start of `buffer`. */
	offset = 0;
	/** False once any read ran past the end or met an invalid value. */
	ok = true;

	constructor(readonly buffer: Uint8Array) {}

	/** Bytes left to read. */
	get remaining(): number {
		return this.ok ? this.buffer.length - this.offset : 0;
	}

	/** Marks the message invalid (for semantic checks done by the caller). */
	fail(): void {
		this.ok = false;
	}

	private take(n: number): number {
		if (!this.ok || n < 0 || this.offset + n > this.buffer.length) {
			this.ok = false;
			return -1;
		}
		const at = this.offset;
		this.offset += n;
		return at;
	}

	u8(): number {
		const at = this.take(1);
		return at < 0 ? 0 : this.buffer[at];
	}

	u16(): number {
		const at = this.take(2);
		return at < 0 ? 0 : (this.buffer[at] << 8) | this.buffer[at + 1];
	}

	u32(): number {
		const at = this.take(4);
		if (at < 0) return 0;
		const b = this.buffer;
		return ((b[at] << 24) >>> 0) + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);
	}

	/** A u64 that must fit in 53 bits; larger values fail the read. */
	u64(): number {
		const hi = this.u32();
		const lo = this.u32();
		if (hi >= 2 ** 21) {
			this.ok = false;
			return 0;
		}
		return hi * TWO_32 + lo;
	}

	/** A view (not a copy) of the next `n` bytes. */
	bytes(n: number): Uint8Array {
		const at = this.take(n);
		return at < 0 ? new Uint8Array(0) : this.buffer.subarray(at, at + n);
	}

	/** Everything left, as a view. */
	rest(): Uint8Array {
		return this.bytes(this.remaining);
	}

	/** `n` bytes decoded as UTF-8; fails on invalid UTF-8. */
	utf8(n: number): string {
		const raw = this.bytes(n);
		if (!this.ok) return "";
		try {
			return utf8Decoder.decode(raw);
		} catch {
			this.ok = false;
			return "";
		}
	}

	/** True when the read succeeded and consumed the buffer exactly. */
	get done(): boolean {
		return this.ok && this.offset === this.buffer.length;
	}
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Sequential writer over a buffer allocated once at its final size. */
export class Writer {
	offset = 0;
	readonly buffer: Buffer;

	/** @param size - exact encoded size in bytes (compute it before allocating). */
	constructor(size: number) {
		this.buffer = Buffer.allocUnsafe(size);
	}

	/** @throws RangeError when `v` is not an integer in [0, 255] */
	u8(v: number): this {
		this.buffer.writeUInt8(v, this.offset);
		this.offset += 1;
		return this;
	}

	/** @throws RangeError when `v` is not an integer in [0, 65535] */
	u16(v: number): this {
		this.buffer.writeUInt16BE(v, this.offset);
		this.offset += 2;
		return this;
	}

	/** @throws RangeError when `v` is not an integer in [0, 2^32) */
	u32(v: number): this {
		this.buffer.writeUInt32BE(v, this.offset);
		this.offset += 4;
		return this;
	}

	/** @throws RangeError when `v` is not an integer in [0, 2^53). */
	u64(v: number): this {
		if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 out of range: ${v}`);
		this.u32(Math.floor(v / TWO_32));
		return this.u32(v % TWO_32);
	}

	bytes(b: Uint8Array): this {
		this.buffer.set(b, this.offset);
		this.offset += b.length;
		return this;
	}

	/**
	 * Returns the buffer.
	 * @throws Error when fewer or more bytes were written than allocated (a codec bug).
	 */
	finish(): Buffer {
		if (this.offset !== this.buffer.length) {
			throw new Error(`encoder wrote ${this.offset} of ${this.buffer.length} bytes`);
		}
		return this.buffer;
	}
}
