/*
 * What an enrolled pledge keeps in host storage: its LDevID, the LDevID's private key and the
 * domain trust anchors, then the `enrolled` marker, written last. A pledge that restarts part way
 * through finds no marker and clears whatever an earlier attempt left (RFC 8995 §5: onboarding
 * starts only when unconfigured, and then from a clean state).
 *
 * Moddable's NVS preferences limit keys to 15 characters and values to 4000 bytes, so every key
 * here is short and each certificate has a key of its own.
 */

import type { Storage } from "../../hosts/host.js";
import { PledgeError } from "./errors.js";

/** Moddable NVS (Preference) limits: key length and value size. */
export const STORAGE_MAX_KEY_CHARS = 15;
export const STORAGE_MAX_VALUE_BYTES = 4000;
/** Most domain trust anchors kept (cBRSKI §6.7: /crts SHOULD hold 1-3). */
export const MAX_TRUST_ANCHORS = 8;

const PREFIX = "cbrski.";
export const StorageKey = Object.freeze({
	ldevid: `${PREFIX}ldevid`,
	ldevidKey: `${PREFIX}key`,
	/** Followed by the index 0..MAX_TRUST_ANCHORS-1. */
	anchor: `${PREFIX}ta`,
	enrolled: `${PREFIX}enrolled`,
});

export interface Enrollment {
	/** DER LDevID. */
	ldevid: Uint8Array;
	/** 32-byte P-256 scalar. */
	privateKey: Uint8Array;
	/** DER domain trust anchors. */
	anchors: Uint8Array[];
}

const ENROLLED_VALUE = new Uint8Array([1]);

export class CredentialStore {
	readonly #storage: Storage;

	constructor(storage: Storage) {
		this.#storage = storage;
	}

	get enrolled(): boolean {
		return this.#storage.get(StorageKey.enrolled) !== undefined;
	}

	/** The stored enrollment, when the marker says it is complete. */
	load(): Enrollment | undefined {
		if (!this.enrolled) return undefined;
		const ldevid = this.#storage.get(StorageKey.ldevid);
		const privateKey = this.#storage.get(StorageKey.ldevidKey);
		if (ldevid === undefined || privateKey === undefined) return undefined;
		const anchors: Uint8Array[] = [];
		for (let i = 0; i < MAX_TRUST_ANCHORS; i++) {
			const a = this.#storage.get(`${StorageKey.anchor}${i}`);
			if (a === undefined) break;
			anchors.push(a);
		}
		return { ldevid, privateKey, anchors };
	}

	/** Removes every key of ours, marker first (so a crash half way leaves "not enrolled"). */
	clear(): void {
		this.#storage.delete(StorageKey.enrolled);
		for (const k of this.#storage.keys()) if (k.startsWith(PREFIX)) this.#storage.delete(k);
	}

	/** Writes the credentials, then the marker. Throws PledgeError("storage") before writing anything that does not fit. */
	save(e: Enrollment): void {
		if (e.anchors.length === 0 || e.anchors.length > MAX_TRUST_ANCHORS) throw new PledgeError("storage", `1..${MAX_TRUST_ANCHORS} trust anchors can be stored, not ${e.anchors.length}`);
		const entries: [string, Uint8Array][] = [
			[StorageKey.ldevidKey, e.privateKey],
			[StorageKey.ldevid, e.ldevid],
		];
		e.anchors.forEach((a, i) => entries.push([`${StorageKey.anchor}${i}`, a]));
		for (const [k, v] of entries) {
			if (v.length > STORAGE_MAX_VALUE_BYTES) throw new PledgeError("storage", `${k} is ${v.length} bytes, over the ${STORAGE_MAX_VALUE_BYTES}-byte storage limit`);
		}
		this.clear();
		for (const [k, v] of entries) this.#storage.set(k, v);
		this.#storage.set(StorageKey.enrolled, ENROLLED_VALUE);
	}
}
