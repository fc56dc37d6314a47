/*
 * A device app's settings: values in its Preference domain (written at provisioning or in the
 * field; keys ≤ 15 characters) take precedence over the manifest's `config` section (build time;
 * mcconfig key=value overrides). Text settings may come from either; byte values (certificates,
 * keys) only from Preference, which stores ArrayBuffers (NVS blobs of ≤ 4000 bytes on ESP32).
 *
 * `Preference` is passed in: on lin it reads its file when loaded, so preloaded modules must not
 * import it.
 */

import type Preference from "preference";

/** Most numbered values read by `list` (prefix0, prefix1, ...): a chain or an anchor set is short. */
export const MAX_LIST = 8;

export class AppSettings {
	readonly #preference: typeof Preference;
	readonly #domain: string;
	readonly #built: Readonly<Record<string, unknown>>;

	constructor(preference: typeof Preference, domain: string, built: Readonly<Record<string, unknown>> | undefined) {
		this.#preference = preference;
		this.#domain = domain;
		this.#built = built ?? {};
	}

	/** The setting as text; "" when unset. */
	text(name: string): string {
		const stored = this.#preference.get(this.#domain, name);
		if (stored !== undefined && !(stored instanceof ArrayBuffer)) return String(stored);
		const built = this.#built[name];
		return built === undefined ? "" : String(built);
	}

	/** The setting's space-separated words. */
	words(name: string): string[] {
		return this.text(name).split(" ").filter((w) => w !== "");
	}

	/** A byte value from Preference; undefined when absent or not bytes. */
	bytes(name: string): Uint8Array | undefined {
		const stored = this.#preference.get(this.#domain, name);
		return stored instanceof ArrayBuffer ? new Uint8Array(stored.slice(0)) : undefined;
	}

	/** The byte values `prefix0`, `prefix1`, ... up to the first absent one (at most MAX_LIST). */
	list(prefix: string): Uint8Array[] {
		const out: Uint8Array[] = [];
		for (let i = 0; i < MAX_LIST; i++) {
			const value = this.bytes(`${prefix}${i}`);
			if (value === undefined) break;
			out.push(value);
		}
		return out;
	}
}
Object.freeze(AppSettings.prototype);
