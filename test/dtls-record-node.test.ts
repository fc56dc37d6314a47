/*
 * modules/dtls/record.ts against Node's OpenSSL AES-CCM: records built here by hand from the RFC
 * definitions (nonce = salt || epoch || seq, RFC 6655 §3; additional data = epoch || seq || type ||
 * version || plaintext length, RFC 5246 §6.2.3.3 with RFC 6347 §4.1.2.1) and sealed with
 * node:crypto must open in our RecordLayer, and our protect must produce the same bytes.
 * Node-only (node:crypto); test/suites/dtls-record.suite.ts carries the rest into XS.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import { SeededRandom } from "../hosts/xs/seeded-random.js";
import { CONTENT_APPLICATION_DATA, CONTENT_HANDSHAKE, DTLS_1_2, RecordLayer, RecordProtection } from "../modules/dtls/record.js";

const TAG = 8;

function u16(n: number): Buffer {
	const b = Buffer.alloc(2);
	b.writeUInt16BE(n);
	return b;
}

function seqNum(epoch: number, seq: number): Buffer {
	const b = Buffer.alloc(8);
	b.writeUInt16BE(epoch, 0);
	b.writeUIntBE(seq, 2, 6);
	return b;
}

/** A whole DTLS 1.2 AES_128_CCM_8 record, the way the RFCs describe it, sealed by OpenSSL. */
function nodeRecord(key: Uint8Array, salt: Uint8Array, type: number, epoch: number, seq: number, plaintext: Uint8Array, explicit = seqNum(epoch, seq)): Uint8Array {
	const nonce = Buffer.concat([salt, explicit]);
	const aad = Buffer.concat([seqNum(epoch, seq), Buffer.from([type]), u16(DTLS_1_2), u16(plaintext.length)]);
	const c = createCipheriv("aes-128-ccm", key, nonce, { authTagLength: TAG });
	c.setAAD(aad, { plaintextLength: plaintext.length });
	const fragment = Buffer.concat([explicit, c.update(plaintext), c.final(), c.getAuthTag()]);
	const header = Buffer.concat([Buffer.from([type]), u16(DTLS_1_2), seqNum(epoch, seq), u16(fragment.length)]);
	return new Uint8Array(Buffer.concat([header, fragment]));
}

function layers(key: Uint8Array, salt: Uint8Array, sequenceStart = 0): { writer: RecordLayer; reader: RecordLayer } {
	const writer = new RecordLayer();
	const reader = new RecordLayer();
	writer.setWriteProtection(1, new RecordProtection({ key, salt }));
	reader.setReadProtection(1, new RecordProtection({ key, salt }));
	// Advance the writer to `sequenceStart` with throwaway records.
	for (let i = 0; i < sequenceStart; i++) writer.protect(CONTENT_APPLICATION_DATA, new Uint8Array(0));
	return { writer, reader };
}

describe("DTLS record protection against node:crypto", () => {
	it("a record sealed by OpenSSL opens in RecordLayer.unprotect, and our protect gives the same bytes", () => {
		const r = new SeededRandom(6655);
		for (let i = 0; i < 50; i++) {
			const key = r.bytes(16);
			const salt = r.bytes(4);
			const start = r.int(4);
			const { writer, reader } = layers(key, salt, start);
			for (let seq = start; seq < start + 3; seq++) {
				const type = seq % 2 === 0 ? CONTENT_APPLICATION_DATA : CONTENT_HANDSHAKE;
				const plaintext = r.bytes(r.int(120) + (type === CONTENT_HANDSHAKE ? 1 : 0));
				const theirs = nodeRecord(key, salt, type, 1, seq, plaintext);
				const ours = writer.protect(type, plaintext);
				assert.deepEqual(ours, theirs, `key ${i}, seq ${seq}: protect`);
				const got = reader.unprotect(theirs);
				assert.equal(got.length, 1, `key ${i}, seq ${seq}: unprotect`);
				assert.deepEqual(got[0], { type, version: DTLS_1_2, epoch: 1, sequence: seq, plaintext });
			}
		}
	});

	it("a sender's own choice of nonce_explicit (RFC 5288 §3) still opens; a wrong key or salt does not", () => {
		const r = new SeededRandom(5288);
		const key = r.bytes(16);
		const salt = r.bytes(4);
		const plaintext = r.bytes(40);
		const { reader } = layers(key, salt);
		const record = nodeRecord(key, salt, CONTENT_APPLICATION_DATA, 1, 7, plaintext, Buffer.from(r.bytes(8)));
		assert.deepEqual(reader.unprotect(record).map((x) => x.plaintext), [plaintext]);
		const otherKey = layers(r.bytes(16), salt).reader;
		assert.equal(otherKey.unprotect(record).length, 0);
		assert.equal(otherKey.stats().dropped.auth, 1);
		const otherSalt = layers(key, r.bytes(4)).reader;
		assert.equal(otherSalt.unprotect(record).length, 0);
		assert.equal(otherSalt.stats().dropped.auth, 1);
	});

	it("large sequence numbers and epochs encode alike (48-bit seq above 2^32)", () => {
		const key = new Uint8Array(16).fill(7);
		const salt = new Uint8Array([1, 2, 3, 4]);
		const prot = new RecordProtection({ key, salt });
		const seq = 2 ** 40 + 12345;
		const plaintext = new Uint8Array([1, 2, 3]);
		const theirs = nodeRecord(key, salt, CONTENT_APPLICATION_DATA, 0x1234, seq, plaintext);
		assert.deepEqual(prot.seal(CONTENT_APPLICATION_DATA, DTLS_1_2, 0x1234, seq, plaintext), theirs.subarray(13));
		assert.deepEqual(prot.open(CONTENT_APPLICATION_DATA, DTLS_1_2, 0x1234, seq, theirs.subarray(13)), plaintext);
	});
});
