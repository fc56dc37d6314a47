/* The MASA audit log in SQLite (better-sqlite3): every answer is one row, written before the answer leaves. */

import Database from "better-sqlite3";
import type { MasaAuditEntry, MasaAuditLog, MasaOutcome } from "./audit-log.js";

interface Row {
	time: number;
	outcome: MasaOutcome;
	status: number;
	serial_number: string | null;
	registrar: string | null;
	pinned_domain: string | null;
	nonce: string | null;
	reason: string | null;
}

export class SqliteAuditLog implements MasaAuditLog {
	readonly #db: Database.Database;
	readonly #insert: Database.Statement;
	readonly #select: Database.Statement<[string], Row>;
	readonly #recent: Database.Statement<[number], Row>;
	#closed = false;

	constructor(file: string) {
		this.#db = new Database(file);
		this.#db.pragma("journal_mode = WAL");
		this.#db.exec(`CREATE TABLE IF NOT EXISTS audit (
			id INTEGER PRIMARY KEY,
			time INTEGER NOT NULL,
			outcome TEXT NOT NULL CHECK (outcome IN ('issued', 'refused')),
			status INTEGER NOT NULL,
			serial_number TEXT,
			registrar TEXT,
			pinned_domain TEXT,
			nonce TEXT,
			reason TEXT
		);
		CREATE INDEX IF NOT EXISTS audit_serial ON audit (serial_number, id);`);
		this.#insert = this.#db.prepare(
			"INSERT INTO audit (time, outcome, status, serial_number, registrar, pinned_domain, nonce, reason) VALUES (@time, @outcome, @status, @serialNumber, @registrar, @pinnedDomain, @nonce, @reason)",
		);
		this.#select = this.#db.prepare<[string], Row>("SELECT * FROM audit WHERE serial_number = ? ORDER BY id");
		this.#recent = this.#db.prepare<[number], Row>("SELECT * FROM (SELECT * FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id");
	}

	record(e: MasaAuditEntry): void {
		this.#insert.run({
			time: e.time,
			outcome: e.outcome,
			status: e.status,
			serialNumber: e.serialNumber ?? null,
			registrar: e.registrar ?? null,
			pinnedDomain: e.pinnedDomain ?? null,
			nonce: e.nonce ?? null,
			reason: e.reason ?? null,
		});
	}

	forDevice(serialNumber: string): MasaAuditEntry[] {
		return this.#select.all(serialNumber).map(entry);
	}

	recent(limit: number): MasaAuditEntry[] {
		return this.#recent.all(limit).map(entry);
	}

	/** Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#db.close();
	}
}

function entry(r: Row): MasaAuditEntry {
	const e: MasaAuditEntry = { time: r.time, outcome: r.outcome, status: r.status };
	if (r.serial_number !== null) e.serialNumber = r.serial_number;
	if (r.registrar !== null) e.registrar = r.registrar;
	if (r.pinned_domain !== null) e.pinnedDomain = r.pinned_domain;
	if (r.nonce !== null) e.nonce = r.nonce;
	if (r.reason !== null) e.reason = r.reason;
	return e;
}
