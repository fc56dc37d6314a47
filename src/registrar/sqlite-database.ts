/*
 * The Registrar's database on SQLite (better-sqlite3, synchronous). WAL journal with synchronous=FULL:
 * a committed write survives a crash or SIGKILL, and every multi-record write is one transaction,
 * so an enrollment is either all there (certificate, device state, audit line) or not at all.
 */

import Database from "better-sqlite3";
import type { AuditRecord, DeviceRecord, DeviceSeen, DeviceState, EnrollmentRecord, RegistrarDatabase, VoucherRecord, VoucherRequestRecord } from "./database.js";

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (
	serial_number TEXT PRIMARY KEY,
	manufacturer TEXT NOT NULL,
	state TEXT NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS voucher_requests (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	serial_number TEXT NOT NULL REFERENCES devices(serial_number),
	at INTEGER NOT NULL,
	pvr BLOB NOT NULL,
	rvr BLOB,
	outcome TEXT NOT NULL,
	reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS vouchers (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	serial_number TEXT NOT NULL REFERENCES devices(serial_number),
	at INTEGER NOT NULL,
	voucher_request_id INTEGER NOT NULL REFERENCES voucher_requests(id),
	voucher BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS enrollments (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	serial_number TEXT NOT NULL REFERENCES devices(serial_number),
	at INTEGER NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('sen', 'sren')),
	certificate BLOB NOT NULL,
	certificate_serial TEXT NOT NULL,
	not_after INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	at INTEGER NOT NULL,
	serial_number TEXT NOT NULL,
	event TEXT NOT NULL,
	detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS voucher_requests_serial ON voucher_requests(serial_number);
CREATE INDEX IF NOT EXISTS enrollments_serial ON enrollments(serial_number);
CREATE INDEX IF NOT EXISTS audit_serial ON audit_log(serial_number);
`;

type Row = Record<string, unknown>;

const bytes = (v: unknown): Uint8Array => new Uint8Array(v as Buffer);

export class SqliteRegistrarDatabase implements RegistrarDatabase {
	readonly #db: Database.Database;
	readonly #upsertDevice: Database.Statement;
	readonly #setState: Database.Statement;
	readonly #insertRequest: Database.Statement;
	readonly #updateRequest: Database.Statement;
	readonly #insertVoucher: Database.Statement;
	readonly #insertEnrollment: Database.Statement;
	readonly #insertAudit: Database.Statement;
	#closed = false;

	/** Opens (creating if needed) the database file; ":memory:" for a throwaway one. */
	constructor(file: string) {
		this.#db = new Database(file);
		this.#db.pragma("journal_mode = WAL");
		this.#db.pragma("synchronous = FULL");
		this.#db.pragma("foreign_keys = ON");
		const version = this.#db.pragma("user_version", { simple: true }) as number;
		if (version !== 0 && version !== SCHEMA_VERSION) throw new Error(`${file}: registrar database schema ${version}, this code knows ${SCHEMA_VERSION}`);
		this.#db.exec(SCHEMA);
		this.#db.pragma(`user_version = ${SCHEMA_VERSION}`);
		this.#upsertDevice = this.#db.prepare(
			`INSERT INTO devices (serial_number, manufacturer, state, first_seen, last_seen) VALUES (@serialNumber, @manufacturer, @state, @at, @at)
			 ON CONFLICT(serial_number) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen,
			 manufacturer = CASE WHEN excluded.manufacturer = '' THEN devices.manufacturer ELSE excluded.manufacturer END`,
		);
		this.#setState = this.#db.prepare("UPDATE devices SET state = ?, last_seen = ? WHERE serial_number = ?");
		this.#insertRequest = this.#db.prepare("INSERT INTO voucher_requests (serial_number, at, pvr, rvr, outcome, reason) VALUES (?, ?, ?, ?, ?, ?)");
		this.#updateRequest = this.#db.prepare("UPDATE voucher_requests SET outcome = ?, reason = ? WHERE id = ?");
		this.#insertVoucher = this.#db.prepare("INSERT INTO vouchers (serial_number, at, voucher_request_id, voucher) VALUES (?, ?, ?, ?)");
		this.#insertEnrollment = this.#db.prepare("INSERT INTO enrollments (serial_number, at, kind, certificate, certificate_serial, not_after) VALUES (?, ?, ?, ?, ?, ?)");
		this.#insertAudit = this.#db.prepare("INSERT INTO audit_log (at, serial_number, event, detail) VALUES (?, ?, ?, ?)");
	}

	recordVoucherRequest(device: DeviceSeen, r: { pvr: Uint8Array; rvr?: Uint8Array; outcome: string; reason: string; state: DeviceState }): number {
		return this.#db.transaction(() => {
			this.#upsertDevice.run({ ...device, state: r.state });
			return Number(this.#insertRequest.run(device.serialNumber, device.at, r.pvr, r.rvr ?? null, r.outcome, r.reason).lastInsertRowid);
		})();
	}

	recordVoucherOutcome(id: number, o: { code: string; reason: string; voucher?: Uint8Array; at: number }): void {
		this.#db.transaction(() => {
			this.#updateRequest.run(o.code, o.reason, id);
			if (o.voucher === undefined) return;
			const row = this.#db.prepare("SELECT serial_number FROM voucher_requests WHERE id = ?").get(id) as Row | undefined;
			if (row === undefined) return;
			const serial = row["serial_number"] as string;
			this.#insertVoucher.run(serial, o.at, id, o.voucher);
			this.#setState.run("voucher-issued", o.at, serial);
		})();
	}

	recordEnrollment(device: DeviceSeen, e: Omit<EnrollmentRecord, "serialNumber" | "at">): void {
		this.#db.transaction(() => {
			this.#upsertDevice.run({ ...device, state: "enrolled" });
			this.#insertEnrollment.run(device.serialNumber, device.at, e.kind, e.certificate, e.certificateSerial, e.notAfter);
			this.#insertAudit.run(device.at, device.serialNumber, e.kind, `LDevID ${e.certificateSerial} issued`);
		})();
	}

	audit(record: AuditRecord, state?: DeviceState): void {
		this.#db.transaction(() => {
			this.#insertAudit.run(record.at, record.serialNumber, record.event, record.detail);
			if (state !== undefined) this.#setState.run(state, record.at, record.serialNumber);
		})();
	}

	device(serialNumber: string): DeviceRecord | undefined {
		const r = this.#db.prepare("SELECT * FROM devices WHERE serial_number = ?").get(serialNumber) as Row | undefined;
		return r === undefined ? undefined : toDevice(r);
	}

	devices(): DeviceRecord[] {
		return (this.#db.prepare("SELECT * FROM devices ORDER BY first_seen, serial_number").all() as Row[]).map(toDevice);
	}

	voucherRequests(serialNumber: string): VoucherRequestRecord[] {
		return (this.#db.prepare("SELECT * FROM voucher_requests WHERE serial_number = ? ORDER BY id").all(serialNumber) as Row[]).map((r) => ({
			id: r["id"] as number,
			serialNumber,
			at: r["at"] as number,
			pvr: bytes(r["pvr"]),
			rvr: r["rvr"] === null ? undefined : bytes(r["rvr"]),
			outcome: r["outcome"] as string,
			reason: r["reason"] as string,
		}));
	}

	vouchers(serialNumber: string): VoucherRecord[] {
		return (this.#db.prepare("SELECT * FROM vouchers WHERE serial_number = ? ORDER BY id").all(serialNumber) as Row[]).map((r) => ({
			serialNumber,
			at: r["at"] as number,
			voucherRequestId: r["voucher_request_id"] as number,
			voucher: bytes(r["voucher"]),
		}));
	}

	enrollments(serialNumber: string): EnrollmentRecord[] {
		return (this.#db.prepare("SELECT * FROM enrollments WHERE serial_number = ? ORDER BY id").all(serialNumber) as Row[]).map((r) => ({
			serialNumber,
			at: r["at"] as number,
			kind: r["kind"] as "sen" | "sren",
			certificate: bytes(r["certificate"]),
			certificateSerial: r["certificate_serial"] as string,
			notAfter: r["not_after"] as number,
		}));
	}

	auditLog(serialNumber?: string): AuditRecord[] {
		const rows = (serialNumber === undefined
			? this.#db.prepare("SELECT * FROM audit_log ORDER BY id").all()
			: this.#db.prepare("SELECT * FROM audit_log WHERE serial_number = ? ORDER BY id").all(serialNumber)) as Row[];
		return rows.map((r) => ({ at: r["at"] as number, serialNumber: r["serial_number"] as string, event: r["event"] as string, detail: r["detail"] as string }));
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#db.close();
	}
}

function toDevice(r: Row): DeviceRecord {
	return {
		serialNumber: r["serial_number"] as string,
		manufacturer: r["manufacturer"] as string,
		state: r["state"] as DeviceState,
		firstSeen: r["first_seen"] as number,
		lastSeen: r["last_seen"] as number,
	};
}
