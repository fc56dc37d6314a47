/*
 * The MASA's audit log (RFC 8995 §5.8: the MASA records every voucher it issues, and what it refused
 * and why, so that an owner can later see who claimed a device). One interface, an in-memory
 * implementation for the simulator and tests, and SQLite for `cjp masa` (sqlite-audit-log.ts).
 */

export type MasaOutcome = "issued" | "refused";

export interface MasaAuditEntry {
	/** Wall-clock ms. */
	time: number;
	outcome: MasaOutcome;
	/** HTTP status of the answer. */
	status: number;
	/** Device serial-number, when the request got far enough to name one. */
	serialNumber?: string;
	/** SHA-256 hex of the certificate that signed the RVR (the Registrar), when known. */
	registrar?: string;
	/** SHA-256 hex of the pinned-domain-cert of an issued voucher. */
	pinnedDomain?: string;
	/** Hex of the nonce; absent for nonceless requests. */
	nonce?: string;
	/** Why a request was refused. */
	reason?: string;
}

export interface MasaAuditLog {
	record(entry: MasaAuditEntry): void;
	/** Entries about one device, oldest first (RFC 8995 §5.8 audit-log responses are per device). */
	forDevice(serialNumber: string): MasaAuditEntry[];
	/** The newest `limit` entries, oldest first (also those that never named a device). */
	recent(limit: number): MasaAuditEntry[];
	close(): void;
}

export class MemoryAuditLog implements MasaAuditLog {
	readonly #entries: MasaAuditEntry[] = [];
	readonly #max: number;

	/** Keeps the newest `max` entries (the simulator runs thousands of pledges). */
	constructor(max = 100_000) {
		this.#max = max;
	}

	record(entry: MasaAuditEntry): void {
		this.#entries.push({ ...entry });
		if (this.#entries.length > this.#max) this.#entries.shift();
	}

	forDevice(serialNumber: string): MasaAuditEntry[] {
		return this.#entries.filter((e) => e.serialNumber === serialNumber).map((e) => ({ ...e }));
	}

	recent(limit: number): MasaAuditEntry[] {
		return this.#entries.slice(-limit).map((e) => ({ ...e }));
	}

	close(): void {}
}
