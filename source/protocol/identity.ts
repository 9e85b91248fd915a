/**
 * Peer identities: an Ed25519 key pair (RFC 8032, through `node:crypto`), the peer id derived
 * from its public key, and the signing and checking of the two discovery messages (announce
 * and leave, docs/protocol.md §3 and §14). Pure: no files and no sockets; the key file in the
 * settings folder and its lock are `source/cli/identity-file.ts`'s.
 *
 * The peer id is the first 16 bytes of the BLAKE3 hash (default mode, as `b3sum` prints it)
 * of the raw 32-byte public key, so an id is proved by a signature of its key and cannot be
 * claimed by anyone else.
 */
import {
	createPrivateKey,
	createPublicKey,
	generateKeyPairSync,
	type KeyObject,
	sign,
	verify,
} from "node:crypto";
import { hash, toHex } from "./hash.js";
import {
	type Announce,
	encodeMessage,
	type Leave,
	PEER_ID_SIZE,
	PUBLIC_KEY_SIZE,
	SIGNATURE_SIZE,
	type SignedMessage,
	signedPart,
} from "./messages.js";

/** DER prefix of an Ed25519 PKCS #8 private key (RFC 8410 section 7): the 32-byte seed follows it. */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 section 4): the raw key follows it. */
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const ZERO_SIGNATURE = new Uint8Array(SIGNATURE_SIZE);

/**
 * The peer id of a public key: BLAKE3 of the raw 32-byte key, its first 16 bytes.
 * @param publicKey - a raw Ed25519 public key (32 bytes)
 * @returns 16 bytes
 */
export function peerIdOf(publicKey: Uint8Array): Buffer {
	return hash(publicKey).subarray(0, PEER_ID_SIZE);
}

/**
 * The short fingerprint people compare by eye: the first 8 bytes of a peer id (which is
 * itself a hash of the key), as four groups of four hex digits, e.g. `3f2a 9c01 77de 0b12`.
 * @param id - a peer id as hex (32 characters)
 */
export function fingerprint(id: string): string {
	return (id.slice(0, 16).match(/.{1,4}/g) ?? []).join(" ");
}

/** The fields of an announce its sender chooses (the identity fills in the rest). */
export type AnnounceFields = Pick<
	Announce,
	"basePort" | "revision" | "fileCount" | "interval" | "name"
>;

/**
 * One peer's identity: its Ed25519 key pair, and the clock its discovery messages are
 * stamped with (strictly increasing, so two messages of one process never share a stamp).
 */
export class Identity {
	/** Raw Ed25519 public key, 32 bytes. */
	readonly publicKey: Buffer;
	/** The peer id: first 16 bytes of BLAKE3(`publicKey`). */
	readonly peerId: Buffer;
	/** Hex of `peerId` (32 characters). */
	readonly id: string;
	private lastStamp = 0;

	/**
	 * @param privateKey - an Ed25519 private key
	 * @param ephemeral - true for an identity that lives only as long as this process
	 * @throws TypeError when the key is not an Ed25519 private key
	 */
	constructor(
		private readonly privateKey: KeyObject,
		readonly ephemeral = false,
	) {
		if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ed25519")
			throw new TypeError("not an Ed25519 private key");
		const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
		this.publicKey = Buffer.from(spki.subarray(spki.length - PUBLIC_KEY_SIZE));
		this.peerId = peerIdOf(this.publicKey);
		this.id = toHex(this.peerId);
	}

	/** A fresh random identity (`generateKeyPairSync('ed25519')`). */
	static generate(ephemeral = false): Identity {
		return new Identity(generateKeyPairSync("ed25519").privateKey, ephemeral);
	}

	/**
	 * The identity of a 32-byte Ed25519 seed (RFC 8032 §5.1.5): the same seed always gives
	 * the same keys and, Ed25519 being deterministic, the same signatures (tests, fuzzing).
	 * @throws RangeError when the seed is not 32 bytes
	 */
	static fromSeed(seed: Uint8Array, ephemeral = true): Identity {
		if (seed.length !== 32) throw new RangeError("an Ed25519 seed is 32 bytes");
		const der = Buffer.concat([PKCS8_PREFIX, seed]);
		return new Identity(createPrivateKey({ key: der, format: "der", type: "pkcs8" }), ephemeral);
	}

	/**
	 * The identity kept in a PEM file (PKCS #8, as {@link Identity.toPem} writes it).
	 * @throws Error when the text is not an Ed25519 private key
	 */
	static fromPem(pem: string): Identity {
		return new Identity(createPrivateKey({ key: pem, format: "pem" }));
	}

	/** The private key as PEM (PKCS #8): what the key file holds. */
	toPem(): string {
		return this.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
	}

	/** The short fingerprint of this identity (see {@link fingerprint}). */
	get fingerprint(): string {
		return fingerprint(this.id);
	}

	/**
	 * The next timestamp: the wall clock in ms, or one more than the last one when the clock
	 * has not moved on (or went back).
	 */
	nextTimestamp(now = Date.now()): number {
		this.lastStamp = Math.max(Math.floor(now), this.lastStamp + 1);
		return this.lastStamp;
	}

	/**
	 * A signed announce, ready to send (before any network-key seal).
	 * @throws RangeError when a field is out of its bounds
	 */
	announce(fields: AnnounceFields, now?: number): Buffer {
		return this.sign({ type: "announce", ...this.signer(now), ...fields });
	}

	/** A signed leave, ready to send. */
	leave(now?: number): Buffer {
		return this.sign({ type: "leave", ...this.signer(now) });
	}

	private signer(now?: number) {
		return { peerId: this.peerId, publicKey: this.publicKey, timestamp: this.nextTimestamp(now) };
	}

	/**
	 * Signs any bytes with this identity's key (Ed25519, RFC 8032): the §16 messages.
	 * @returns the 64-byte signature
	 */
	signBytes(bytes: Uint8Array): Buffer {
		return sign(null, bytes, this.privateKey);
	}

	/**
	 * Encodes a discovery message and signs it with this identity's key. The message's own
	 * `peerId`, `publicKey` and `timestamp` are used as given (tests forge with them).
	 * @throws RangeError when a field is out of its bounds
	 */
	sign(message: Omit<Announce, "signature"> | Omit<Leave, "signature">): Buffer {
		const datagram = encodeMessage({ ...message, signature: ZERO_SIGNATURE } as SignedMessage);
		const signature = sign(null, signedPart(datagram), this.privateKey);
		signature.copy(datagram, datagram.length - SIGNATURE_SIZE);
		return datagram;
	}
}

/** Most public keys kept parsed (a known peer's refresh then skips the DER import). */
const MAX_CACHED_KEYS = 2_048;
const parsedKeys = new Map<string, KeyObject>();

/**
 * The key object of a raw Ed25519 public key, from a bounded cache (emptied when full: a
 * flood of forged keys costs imports, never memory).
 * @throws Error when the bytes are not a valid Ed25519 public key
 */
function publicKeyObject(raw: Uint8Array): KeyObject {
	const hex = toHex(raw);
	let key = parsedKeys.get(hex);
	if (!key) {
		key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
		if (parsedKeys.size >= MAX_CACHED_KEYS) parsedKeys.clear();
		parsedKeys.set(hex, key);
	}
	return key;
}

/** Why a signed discovery message was not believed, or `ok`. */
export type SignatureCheck = "ok" | "wrong-id" | "bad-signature";

/**
 * Checks a decoded announce or leave against the datagram it came from: its peer id must
 * be its key's, and its signature must verify (Ed25519, RFC 8032 §5.1.7) over the datagram's
 * bytes before the signature. Never throws.
 * @param message - what `decodeMessage(datagram)` returned
 * @param datagram - the plain datagram (inside any network-key seal)
 */
export function checkSigned(message: SignedMessage, datagram: Uint8Array): SignatureCheck {
	if (!peerIdOf(message.publicKey).equals(message.peerId)) return "wrong-id";
	try {
		const key = publicKeyObject(message.publicKey);
		return verify(null, signedPart(datagram), key, message.signature) ? "ok" : "bad-signature";
	} catch {
		// Not a point on the curve: no key, so no valid signature.
		return "bad-signature";
	}
}

/**
 * Checks a §16 message's signature (docs/protocol.md §16): `peerId` must be BLAKE3 of
 * `publicKey` (first 16 bytes) and `signature` must verify over `signed`. Never throws.
 */
export function checkPeerSignature(
	peerId: Uint8Array,
	publicKey: Uint8Array,
	signed: Uint8Array,
	signature: Uint8Array,
): SignatureCheck {
	if (!peerIdOf(publicKey).equals(peerId)) return "wrong-id";
	try {
		return verify(null, signed, publicKeyObject(publicKey), signature) ? "ok" : "bad-signature";
	} catch {
		return "bad-signature";
	}
}
