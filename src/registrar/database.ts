/*
 * What the Registrar remembers (RFC 8995 §5.5-§5.9 leaves storage to it): devices it has seen,
 * voucher requests and their outcome, vouchers, enrollments (LDevIDs issued) and an audit log. The
 * interface is synchronous, as better-sqlite3 is; each write that changes several records is one
 * call so that an implementation can make it one transaction (a process killed mid-enrollment
 * leaves either the whole enrollment or none of it). The in-memory implementation serves the
 * simulator and the suites; sqlite-database.ts is the Node one.
 */

/** Where a device stands, as far as the Registrar knows (the last event wins). */
export type DeviceState =
	| "refused"
	| "voucher-requested"
	| "voucher-issued"
	| "voucher-accepted"
	| "voucher-rejected"
	| "enrolled"
	| "enroll-confirmed"
	| "enroll-failed";

export interface DeviceRecord {
	serialNumber: string;
	/** Manufacturer policy name ("" when the device's manufacturer is not known). */
	manufacturer: string;
	state: DeviceState;
	/** Wall-clock ms. */
	firstSeen: number;
	lastSeen: number;
}

export interface VoucherRequestRecord {
	id: number;
	serialNumber: string;
	at: number;
	/** The PVR as received (COSE_Sign1). */
	pvr: Uint8Array;
	/** The RVR we signed; absent when the PVR was refused before one was built. */
	rvr: Uint8Array | undefined;
	/** The CoAP code answered for it ("2.04", "4.04", ...) once known. */
	outcome: string;
	reason: string;
}

export interface VoucherRecord {
	serialNumber: string;
	at: number;
	voucherRequestId: number;
	/** As passed to the pledge (unprotected certificates stripped). */
	voucher: Uint8Array;
}

export interface EnrollmentRecord {
	serialNumber: string;
	at: number;
	/** "sen" (first enrollment) or "sren" (re-enrollment). */
	kind: "sen" | "sren";
	certificate: Uint8Array;
	/** Certificate serial number, lower-case hex. */
	certificateSerial: string;
	notAfter: number;
}

export interface AuditRecord {
	at: number;
	serialNumber: string;
	event: string;
	detail: string;
}

export interface DeviceSeen {
	serialNumber: string;
	manufacturer: string;
	at: number;
}

export interface RegistrarDatabase {
	/** A refused or accepted PVR: the device (created or updated) and the request, one transaction. Returns the request's id. */
	recordVoucherRequest(device: DeviceSeen, request: { pvr: Uint8Array; rvr?: Uint8Array; outcome: string; reason: string; state: DeviceState }): number;
	/** The MASA's answer for request `id`: its outcome, and the voucher when there is one (state voucher-issued). */
	recordVoucherOutcome(id: number, outcome: { code: string; reason: string; voucher?: Uint8Array; at: number }): void;
	/** An LDevID issued: enrollment, device state "enrolled" and an audit line, one transaction. */
	recordEnrollment(device: DeviceSeen, enrollment: Omit<EnrollmentRecord, "serialNumber" | "at">): void;
	/** Telemetry or another event about a device; `state` updates the device when it is known. */
	audit(record: AuditRecord, state?: DeviceState): void;
	device(serialNumber: string): DeviceRecord | undefined;
	devices(): DeviceRecord[];
	voucherRequests(serialNumber: string): VoucherRequestRecord[];
	vouchers(serialNumber: string): VoucherRecord[];
	enrollments(serialNumber: string): EnrollmentRecord[];
	auditLog(serialNumber?: string): AuditRecord[];
	/** Idempotent. */
	close(): void;
}

/** Everything in memory: the simulator's and the suites' database. */
export class MemoryRegistrarDatabase implements RegistrarDatabase {
	readonly #devices = new Map<string, DeviceRecord>();
	readonly #requests: VoucherRequestRecord[] = [];
	readonly #vouchers: VoucherRecord[] = [];
	readonly #enrollments: EnrollmentRecord[] = [];
	readonly #audit: AuditRecord[] = [];

	#seen(d: DeviceSeen, state: DeviceState): void {
		const known = this.#devices.get(d.serialNumber);
		if (known === undefined) this.#devices.set(d.serialNumber, { serialNumber: d.serialNumber, manufacturer: d.manufacturer, state, firstSeen: d.at, lastSeen: d.at });
		else Object.assign(known, { state, lastSeen: d.at, manufacturer: d.manufacturer || known.manufacturer });
	}

	recordVoucherRequest(device: DeviceSeen, r: { pvr: Uint8Array; rvr?: Uint8Array; outcome: string; reason: string; state: DeviceState }): number {
		this.#seen(device, r.state);
		const id = this.#requests.length + 1;
		this.#requests.push({ id, serialNumber: device.serialNumber, at: device.at, pvr: r.pvr.slice(), rvr: r.rvr?.slice(), outcome: r.outcome, reason: r.reason });
		return id;
	}

	recordVoucherOutcome(id: number, o: { code: string; reason: string; voucher?: Uint8Array; at: number }): void {
		const r = this.#requests[id - 1];
		if (r === undefined) return;
		r.outcome = o.code;
		r.reason = o.reason;
		if (o.voucher !== undefined) {
			this.#vouchers.push({ serialNumber: r.serialNumber, at: o.at, voucherRequestId: id, voucher: o.voucher.slice() });
			const d = this.#devices.get(r.serialNumber);
			if (d !== undefined) Object.assign(d, { state: "voucher-issued", lastSeen: o.at });
		}
	}

	recordEnrollment(device: DeviceSeen, e: Omit<EnrollmentRecord, "serialNumber" | "at">): void {
		this.#seen(device, "enrolled");
		this.#enrollments.push({ ...e, certificate: e.certificate.slice(), serialNumber: device.serialNumber, at: device.at });
		this.#audit.push({ at: device.at, serialNumber: device.serialNumber, event: e.kind, detail: `LDevID ${e.certificateSerial} issued` });
	}

	audit(record: AuditRecord, state?: DeviceState): void {
		this.#audit.push({ ...record });
		const d = this.#devices.get(record.serialNumber);
		if (state !== undefined && d !== undefined) Object.assign(d, { state, lastSeen: record.at });
	}

	device(serialNumber: string): DeviceRecord | undefined {
		const d = this.#devices.get(serialNumber);
		return d === undefined ? undefined : { ...d };
	}

	devices(): DeviceRecord[] {
		return [...this.#devices.values()].map((d) => ({ ...d }));
	}

	voucherRequests(serialNumber: string): VoucherRequestRecord[] {
		return this.#requests.filter((r) => r.serialNumber === serialNumber).map((r) => ({ ...r }));
	}

	vouchers(serialNumber: string): VoucherRecord[] {
		return this.#vouchers.filter((r) => r.serialNumber === serialNumber).map((r) => ({ ...r }));
	}

	enrollments(serialNumber: string): EnrollmentRecord[] {
		return this.#enrollments.filter((r) => r.serialNumber === serialNumber).map((r) => ({ ...r }));
	}

	auditLog(serialNumber?: string): AuditRecord[] {
		return this.#audit.filter((r) => serialNumber === undefined || r.serialNumber === serialNumber).map((r) => ({ ...r }));
	}

	close(): void {}
}
