import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { AesCcm } from "../../modules/crypto/aes-ccm.js";
import {
	CONTENT_ALERT,
	CONTENT_APPLICATION_DATA,
	CONTENT_CHANGE_CIPHER_SPEC,
	CONTENT_HANDSHAKE,
	DTLS_1_0,
	DTLS_1_2,
	MAX_FRAGMENT,
	MAX_SEQUENCE,
	RECORD_HEADER_BYTES,
	RecordLayer,
	RecordLayerClosedError,
	RecordProtection,
	ReplayWindow,
	SequenceExhaustedError,
	parseDatagram,
	parseRecords,
	recordLength,
	writeRecord,
	type UnprotectedRecord,
} from "../../modules/dtls/record.js";
import { fromHex, toHex } from "../../modules/util/hex.js";
import { concatBytes } from "../../modules/util/hex.js";

const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

/*
 * Two directions of one association: A writes with key/salt "a", B reads with the same; and back.
 * Fixed bytes so that failures print reproducible records.
 */
const KEY_A = fromHex("000102030405060708090a0b0c0d0e0f");
const SALT_A = fromHex("a0a1a2a3");
const KEY_B = fromHex("f0e0d0c0b0a090807060504030201000");
const SALT_B = fromHex("b0b1b2b3");

const protA = (): RecordProtection => new RecordProtection({ key: KEY_A, salt: SALT_A });
const protB = (): RecordProtection => new RecordProtection({ key: KEY_B, salt: SALT_B });

/** A (client) and B (server), both already in epoch 1 both ways. */
function pair(options: { maxAuthFailures?: number; maxRecordSize?: number } = {}): { a: RecordLayer; b: RecordLayer } {
	const a = new RecordLayer(options);
	const b = new RecordLayer(options);
	a.setWriteProtection(1, protA());
	b.setReadProtection(1, protA());
	b.setWriteProtection(1, protB());
	a.setReadProtection(1, protB());
	return { a, b };
}

function bytes(...values: number[]): Uint8Array {
	return Uint8Array.from(values);
}

function text(s: string): Uint8Array {
	const out = new Uint8Array(s.length);
	for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
	return out;
}

function totalDropped(layer: RecordLayer): number {
	const d = layer.stats().dropped;
	return d.malformed + d.epoch + d.replay + d.auth + d.oversized + d.closed;
}

export default suite("dtls record", (test) => {
	test("header round trip: every field at its extremes, written and parsed back", () => {
		const fragment = text("hello");
		const cases: [number, number, number, number][] = [
			[CONTENT_HANDSHAKE, DTLS_1_0, 0, 0],
			[CONTENT_APPLICATION_DATA, DTLS_1_2, 1, 1],
			[CONTENT_ALERT, DTLS_1_2, 0xffff, MAX_SEQUENCE],
			[CONTENT_CHANGE_CIPHER_SPEC, DTLS_1_2, 0x1234, 0x0102_0304_0506],
			[CONTENT_HANDSHAKE, DTLS_1_2, 7, 2 ** 32],
			[CONTENT_HANDSHAKE, DTLS_1_2, 7, 2 ** 32 - 1],
		];
		for (const [type, version, epoch, sequence] of cases) {
			const out = new Uint8Array(recordLength(fragment.length) + 2);
			equal(writeRecord(out, 2, type, version, epoch, sequence, fragment), RECORD_HEADER_BYTES + fragment.length);
			const views = parseRecords(out.subarray(2));
			equal(views.length, 1);
			deepEqual(views[0], { type, version, epoch, sequence, offset: RECORD_HEADER_BYTES, length: fragment.length });
		}
		// The wire layout of RFC 6347 §4.1, byte for byte.
		const out = new Uint8Array(recordLength(2));
		writeRecord(out, 0, CONTENT_HANDSHAKE, DTLS_1_2, 0x0102, 0x0304_0506_0708, bytes(0xaa, 0xbb));
		equal(toHex(out), "16" + "fefd" + "0102" + "030405060708" + "0002" + "aabb");
		throws(() => writeRecord(new Uint8Array(14), 0, CONTENT_HANDSHAKE, DTLS_1_2, 0, 0, bytes(1, 2)), RangeError, "buffer too small");
		throws(() => writeRecord(new Uint8Array(20), 0, CONTENT_HANDSHAKE, DTLS_1_2, 0x10000, 0, bytes(1)), RangeError, "epoch above 16 bits");
		throws(() => writeRecord(new Uint8Array(20), 0, CONTENT_HANDSHAKE, DTLS_1_2, 0, 2 ** 48, bytes(1)), RangeError, "sequence above 48 bits");
	});

	test("several records in one datagram (RFC 6347 §4.1.1), including an empty fragment", () => {
		const frags = [text("first"), new Uint8Array(0), text("the third one")];
		const parts: Uint8Array[] = [];
		for (let i = 0; i < frags.length; i++) {
			const r = new Uint8Array(recordLength(frags[i]!.length));
			writeRecord(r, 0, CONTENT_HANDSHAKE, DTLS_1_2, 0, 10 + i, frags[i]!);
			parts.push(r);
		}
		const datagram = concatBytes([...parts]);
		const parsed = parseDatagram(datagram);
		equal(parsed.invalid, undefined);
		equal(parsed.invalidOffset, datagram.length);
		equal(parsed.records.length, 3);
		let expectOffset = RECORD_HEADER_BYTES;
		for (let i = 0; i < 3; i++) {
			const v = parsed.records[i]!;
			equal(v.sequence, 10 + i);
			equal(v.offset, expectOffset);
			deepEqual(datagram.subarray(v.offset, v.offset + v.length), frags[i]);
			expectOffset += frags[i]!.length + RECORD_HEADER_BYTES;
		}
		deepEqual(parseDatagram(new Uint8Array(0)), { records: [], invalid: undefined, invalidOffset: 0 });
	});

	test("truncated and oversized records: what framed is kept, the rest reported, nothing thrown", () => {
		const one = new Uint8Array(recordLength(4));
		writeRecord(one, 0, CONTENT_HANDSHAKE, DTLS_1_2, 0, 1, bytes(1, 2, 3, 4));
		// A header cut short after a good record.
		let p = parseDatagram(concatBytes([one, one.subarray(0, 12)]));
		equal(p.records.length, 1);
		equal(p.invalid, "truncated");
		equal(p.invalidOffset, one.length);
		// A length running one byte past the end.
		p = parseDatagram(concatBytes([one, one.subarray(0, one.length - 1)]));
		equal(p.records.length, 1);
		equal(p.invalid, "truncated");
		// Only a partial record.
		p = parseDatagram(one.subarray(0, 5));
		equal(p.records.length, 0);
		equal(p.invalid, "truncated");
		equal(p.invalidOffset, 0);
		// Length above 2^14 + 2048 (RFC 5246 §6.2.3), even though the bytes are there.
		const big = new Uint8Array(RECORD_HEADER_BYTES + MAX_FRAGMENT + 1);
		big[0] = CONTENT_APPLICATION_DATA;
		big[1] = 0xfe;
		big[2] = 0xfd;
		big[11] = (MAX_FRAGMENT + 1) >> 8;
		big[12] = (MAX_FRAGMENT + 1) & 0xff;
		p = parseDatagram(concatBytes([one, big]));
		equal(p.records.length, 1);
		equal(p.invalid, "oversized");
		equal(p.invalidOffset, one.length);
		// Exactly 2^14 + 2048 is still a record.
		big[12] = MAX_FRAGMENT & 0xff;
		equal(parseRecords(big.subarray(0, RECORD_HEADER_BYTES + MAX_FRAGMENT)).length, 1);
		throws(() => writeRecord(new Uint8Array(MAX_FRAGMENT + 20), 0, CONTENT_HANDSHAKE, DTLS_1_2, 0, 0, new Uint8Array(MAX_FRAGMENT + 1)), RangeError);
	});

	test("replay window: in order, reordered within 64, exactly 64 behind, too old, duplicates", () => {
		const w = new ReplayWindow();
		equal(w.highest, -1);
		for (let s = 0; s < 10; s++) {
			ok(w.check(s), `fresh ${s}`);
			w.accept(s);
			ok(!w.check(s), `duplicate ${s}`);
		}
		equal(w.highest, 9);
		// Reordering: 100 first, then older ones inside the window.
		w.accept(100);
		ok(w.check(99));
		ok(w.check(37), "100 - 63 is the window's left edge");
		ok(!w.check(36), "100 - 64 is just outside");
		ok(!w.check(9), "accepted long ago and now outside");
		w.accept(37);
		ok(!w.check(37));
		w.accept(70);
		ok(!w.check(70));
		ok(w.check(71));
		// check never moves the window; accept of something too old is ignored.
		w.accept(5);
		ok(!w.check(5));
		equal(w.highest, 100);
		// Not a sequence number at all.
		ok(!w.check(-1));
		ok(!w.check(1.5));
		ok(!w.check(2 ** 48));
	});

	test("replay window: jumps of 1, 31, 32, 33, 63, 64 and far ahead keep exactly the right bits", () => {
		for (const jump of [1, 31, 32, 33, 63, 64, 65, 1000, 2 ** 40]) {
			const w = new ReplayWindow();
			for (let s = 0; s < 64; s++) w.accept(s);
			const top = 63 + jump;
			w.accept(top);
			for (let s = 0; s < 64; s++) {
				const inWindow = top - s < 64;
				// Seen and inside: duplicate; outside: too old. Either way not fresh.
				ok(!w.check(s), `jump ${jump}: ${s} is ${inWindow ? "a duplicate" : "too old"}`);
			}
			for (let s = 64; s < top; s++) {
				if (top - s >= 64) {
					ok(!w.check(s), `jump ${jump}: ${s} too old`);
					s = top - 64; // skip the long stretch of old numbers
				} else ok(w.check(s), `jump ${jump}: ${s} never seen, in window`);
			}
			ok(!w.check(top));
			ok(w.check(top + 1));
		}
		const last = new ReplayWindow();
		last.accept(MAX_SEQUENCE);
		ok(!last.check(MAX_SEQUENCE));
		ok(last.check(MAX_SEQUENCE - 63));
		ok(!last.check(MAX_SEQUENCE - 64));
	});

	test("replay window against a naive model: 3000 random accepts and checks", () => {
		const r = new SeededRandom(6347);
		const w = new ReplayWindow();
		const seen = new Set<number>();
		let top = -1;
		let base = 0;
		for (let i = 0; i < 3000; i++) {
			// Mostly near the top, sometimes far ahead, sometimes far behind.
			const pick = r.int(20);
			if (pick === 0) base += 50 + r.int(200);
			const s = Math.max(0, base + r.int(90) - 70);
			const fresh = s > top || (top - s < 64 && !seen.has(s));
			equal(w.check(s), fresh, `step ${i}: check ${s} (top ${top})`);
			if (fresh && r.int(4) !== 0) {
				w.accept(s);
				seen.add(s);
				if (s > top) top = s;
			}
		}
	});

	test("record protection: nonce and additional data exactly as RFC 6655 §3 / RFC 5246 §6.2.3.3 build them", () => {
		const prot = protA();
		equal(prot.overhead, 16);
		const plaintext = text("GET /.well-known/brski");
		const epoch = 0x0001;
		const seq = 0x0000_0102_0304;
		const fragment = prot.seal(CONTENT_APPLICATION_DATA, DTLS_1_2, epoch, seq, plaintext);
		// Independently: nonce = salt || epoch || seq; aad = epoch || seq || type || version || length.
		const nonce = fromHex("a0a1a2a3" + "0001" + "000001020304");
		const aad = fromHex("0001" + "000001020304" + "17" + "fefd" + "0016");
		equal(plaintext.length, 0x16);
		const ccm = new AesCcm(KEY_A, 8, 12);
		const expected = concat(fromHex("0001000001020304"), ccm.seal(nonce, aad, plaintext));
		equal(toHex(fragment), toHex(expected));
		deepEqual(prot.open(CONTENT_APPLICATION_DATA, DTLS_1_2, epoch, seq, fragment), plaintext);
		// Every header field is bound: change any and it no longer opens.
		equal(prot.open(CONTENT_HANDSHAKE, DTLS_1_2, epoch, seq, fragment), undefined, "type");
		equal(prot.open(CONTENT_APPLICATION_DATA, DTLS_1_0, epoch, seq, fragment), undefined, "version");
		equal(prot.open(CONTENT_APPLICATION_DATA, DTLS_1_2, 2, seq, fragment), undefined, "epoch");
		equal(prot.open(CONTENT_APPLICATION_DATA, DTLS_1_2, epoch, seq + 1, fragment), undefined, "sequence");
		equal(prot.open(CONTENT_APPLICATION_DATA, DTLS_1_2, epoch, seq, fragment.subarray(0, 15)), undefined, "shorter than nonce + tag");
		// A sender is free to choose another nonce_explicit (RFC 5288 §3): we open with what it sent.
		const explicit = fromHex("8877665544332211");
		const other = concat(explicit, ccm.seal(concatBytes([SALT_A, explicit]), aad, plaintext));
		deepEqual(prot.open(CONTENT_APPLICATION_DATA, DTLS_1_2, epoch, seq, other), plaintext);
		throws(() => new RecordProtection({ key: KEY_A, salt: new Uint8Array(12) }), RangeError, "salt is 4 bytes");
	});

	test("protect and unprotect: epoch 0 in the clear, then protected records both ways", () => {
		const a = new RecordLayer();
		const b = new RecordLayer();
		const hello = text("ClientHello");
		const r0 = a.protect(CONTENT_HANDSHAKE, hello);
		equal(toHex(r0.subarray(0, RECORD_HEADER_BYTES)), "16fefd0000000000000000000b");
		deepEqual(r0.subarray(RECORD_HEADER_BYTES), hello, "epoch 0 is plaintext");
		deepEqual(b.unprotect(r0), [{ type: CONTENT_HANDSHAKE, version: DTLS_1_2, epoch: 0, sequence: 0, plaintext: hello }]);
		// ChangeCipherSpec both ways.
		a.protect(CONTENT_CHANGE_CIPHER_SPEC, bytes(1));
		a.setWriteProtection(1, protA());
		b.setReadProtection(1, protA());
		b.setWriteProtection(1, protB());
		a.setReadProtection(1, protB());
		equal(a.writeEpoch, 1);
		equal(b.readEpoch, 1);
		const msg = text("Finished, then application data");
		const r1 = a.protect(CONTENT_HANDSHAKE, msg);
		equal(r1.length, RECORD_HEADER_BYTES + 8 + msg.length + 8);
		equal(a.overhead(), RECORD_HEADER_BYTES + 16);
		equal(a.overhead(0), RECORD_HEADER_BYTES);
		equal(toHex(r1.subarray(0, RECORD_HEADER_BYTES)), "16fefd0001000000000000" + (msg.length + 16).toString(16).padStart(4, "0"));
		equal(toHex(r1.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + 8)), "0001000000000000", "nonce_explicit = epoch || seq");
		ok(toHex(r1).indexOf(toHex(msg)) < 0, "encrypted");
		deepEqual(b.unprotect(r1), [{ type: CONTENT_HANDSHAKE, version: DTLS_1_2, epoch: 1, sequence: 0, plaintext: msg }]);
		const back = b.protect(CONTENT_APPLICATION_DATA, text("pong"));
		deepEqual(a.unprotect(back).map((r) => r.plaintext), [text("pong")]);
		// Empty application data is allowed (RFC 5246 §6.2.1 forbids it only for the other types).
		const empty = a.protect(CONTENT_APPLICATION_DATA, new Uint8Array(0));
		equal(b.unprotect(empty).length, 1);
		equal(a.stats().sent, 4);
		equal(b.stats().received, 3);
		equal(totalDropped(b), 0);
	});

	test("sequence numbers rise by one per record and restart at 0 in each new epoch", () => {
		const a = new RecordLayer();
		const seqOf = (r: Uint8Array): number => parseRecords(r)[0]!.sequence;
		for (let i = 0; i < 5; i++) equal(seqOf(a.protect(CONTENT_HANDSHAKE, bytes(i))), i);
		equal(a.nextWriteSequence(0), 5);
		a.setWriteProtection(1, protA());
		equal(a.nextWriteSequence(1), 0);
		for (let i = 0; i < 3; i++) equal(seqOf(a.protect(CONTENT_APPLICATION_DATA, bytes(i))), i);
		// The previous epoch keeps its own counter (retransmissions continue it).
		equal(seqOf(a.protectEpoch(0, CONTENT_HANDSHAKE, bytes(9))), 5);
		equal(seqOf(a.protect(CONTENT_APPLICATION_DATA, bytes(9))), 3);
		throws(() => a.setWriteProtection(3, protA()), RangeError, "epochs go up by one");
		throws(() => a.setWriteProtection(1, protA()), RangeError, "not back to the same epoch");
		a.discardPreviousWriteEpoch();
		equal(a.nextWriteSequence(0), undefined);
		throws(() => a.protectEpoch(0, CONTENT_HANDSHAKE, bytes(1)), RangeError, "epoch 0 forgotten");
	});

	test("a flight spanning epochs 0 and 1 retransmits with fresh sequence numbers; old protected copies are replays, plaintext ones are left to the handshake layer", () => {
		const a = new RecordLayer();
		const b = new RecordLayer();
		const flight = (): Uint8Array => concat(
			a.protectEpoch(0, CONTENT_HANDSHAKE, text("ClientKeyExchange")),
			a.protectEpoch(0, CONTENT_CHANGE_CIPHER_SPEC, bytes(1)),
			a.protectEpoch(1, CONTENT_HANDSHAKE, text("Finished")),
		);
		a.setWriteProtection(1, protA());
		const first = flight();
		b.setReadProtection(1, protA());
		const got = b.unprotect(first);
		deepEqual(got.map((r) => [r.epoch, r.sequence, r.type]), [[0, 0, 22], [0, 1, 20], [1, 0, 22]]);
		const again = flight();
		deepEqual(b.unprotect(again).map((r) => [r.epoch, r.sequence]), [[0, 2], [0, 3], [1, 1]], "retransmission accepted");
		// Epoch 0 is not authenticated, so its record numbers cannot be trusted to move a window (a late
		// flight of a previous association would make the current one's records look like replays).
		deepEqual(b.unprotect(first).map((r) => [r.epoch, r.sequence]), [[0, 0], [0, 1]]);
		equal(b.stats().dropped.replay, 1);
		const late = new RecordLayer({ initialWriteSequence: 1000 });
		b.unprotect(late.protectEpoch(0, CONTENT_HANDSHAKE, text("stale")));
		deepEqual(b.unprotect(a.protectEpoch(0, CONTENT_CHANGE_CIPHER_SPEC, bytes(1))).map((r) => r.sequence), [4], "a far-ahead plaintext record moves nothing");
		// Once the handshake is over, epoch 0 records are no longer wanted.
		b.discardPreviousReadEpoch();
		equal(b.unprotect(a.protectEpoch(0, CONTENT_HANDSHAKE, text("late"))).length, 0);
		equal(b.stats().dropped.epoch, 1);
	});

	test("several protected records in one datagram come back in order", () => {
		const { a, b } = pair();
		const msgs = [text("one"), text("two"), text("three"), text("four")];
		const datagram = concat(...msgs.map((m) => a.protect(CONTENT_APPLICATION_DATA, m)));
		const got = b.unprotect(datagram);
		deepEqual(got.map((r) => r.plaintext), msgs);
		deepEqual(got.map((r) => r.sequence), [0, 1, 2, 3]);
		// A broken tail after good records: the good ones still count.
		const tail = concat(a.protect(CONTENT_APPLICATION_DATA, text("five")), bytes(23, 0xfe, 0xfd, 0));
		equal(b.unprotect(tail).length, 1);
		equal(b.stats().dropped.malformed, 1);
	});

	test("tampering with any byte of a protected record: dropped, counted, nothing returned", () => {
		const { a } = pair();
		const record = a.protect(CONTENT_APPLICATION_DATA, text("tamper-proof"));
		for (let i = 0; i < record.length; i++) {
			for (const mask of [0x01, 0x80]) {
				const b = new RecordLayer();
				b.setReadProtection(1, protA());
				// Without epoch 0: a flipped epoch bit must not turn the record into "cleartext".
				b.discardPreviousReadEpoch();
				const bad = record.slice();
				bad[i] = bad[i]! ^ mask;
				equal(b.unprotect(bad).length, 0, `byte ${i} ^ ${mask}`);
				ok(totalDropped(b) >= 1, `byte ${i} ^ ${mask}: counted`);
				equal(b.stats().received, 0);
				// The window did not move: the genuine record is still accepted.
				equal(b.unprotect(record).length, 1, `byte ${i} ^ ${mask}: genuine record afterwards`);
			}
		}
	});

	test("drops by reason: unknown epoch, unknown type or version, replay, oversized, empty handshake", () => {
		const { a, b } = pair();
		// Epoch 2 does not exist yet for B; epoch 1 records to a layer still in epoch 0 neither.
		const fresh = new RecordLayer();
		equal(fresh.unprotect(a.protect(CONTENT_APPLICATION_DATA, text("early"))).length, 0);
		equal(fresh.stats().dropped.epoch, 1);
		const r = new Uint8Array(recordLength(3));
		writeRecord(r, 0, CONTENT_HANDSHAKE, DTLS_1_2, 2, 0, bytes(1, 2, 3));
		equal(b.unprotect(r).length, 0);
		equal(b.stats().dropped.epoch, 1);
		writeRecord(r, 0, 24, DTLS_1_2, 0, 0, bytes(1, 2, 3)); // heartbeat (RFC 6520): not ours
		equal(b.unprotect(r).length, 0);
		writeRecord(r, 0, CONTENT_HANDSHAKE, 0x0303, 0, 0, bytes(1, 2, 3)); // TLS 1.2, not DTLS
		equal(b.unprotect(r).length, 0);
		writeRecord(r, 0, CONTENT_APPLICATION_DATA, DTLS_1_2, 0, 0, bytes(1, 2, 3)); // cleartext app data
		equal(b.unprotect(r).length, 0);
		equal(b.stats().dropped.epoch, 2, "application data in epoch 0 is an injection");
		throws(() => new RecordLayer().protect(CONTENT_APPLICATION_DATA, bytes(1)), RangeError, "and is never sent");
		const empty = new Uint8Array(recordLength(0));
		writeRecord(empty, 0, CONTENT_HANDSHAKE, DTLS_1_2, 0, 5, new Uint8Array(0));
		equal(b.unprotect(empty).length, 0);
		const short = new Uint8Array(recordLength(15));
		writeRecord(short, 0, CONTENT_APPLICATION_DATA, DTLS_1_2, 1, 5, new Uint8Array(15));
		equal(b.unprotect(short).length, 0, "too short for nonce + tag");
		equal(b.stats().dropped.malformed, 4);
		equal(b.stats().dropped.auth, 0, "malformed records are not authentication failures");
		const rec = a.protect(CONTENT_APPLICATION_DATA, text("once"));
		equal(b.unprotect(rec).length, 1);
		equal(b.unprotect(rec).length, 0);
		equal(b.stats().dropped.replay, 1);
		// maxRecordSize (RFC 6066 max_fragment_length 2^9): both directions.
		a.maxRecordSize = 512;
		b.maxRecordSize = 512;
		throws(() => a.protect(CONTENT_APPLICATION_DATA, new Uint8Array(513)), RangeError);
		throws(() => { a.maxRecordSize = 0; }, RangeError);
		equal(b.unprotect(a.protect(CONTENT_APPLICATION_DATA, new Uint8Array(512))).length, 1);
		a.maxRecordSize = 1024;
		equal(b.unprotect(a.protect(CONTENT_APPLICATION_DATA, new Uint8Array(513))).length, 0);
		equal(b.stats().dropped.oversized, 1);
		throws(() => a.protect(99, bytes(1)), RangeError, "unknown content type");
	});

	test("maxAuthFailures forged records close the layer: failed, later records dropped, protect refused", () => {
		const { a, b } = pair({ maxAuthFailures: 3 });
		const genuine = a.protect(CONTENT_APPLICATION_DATA, text("real"));
		for (let i = 0; i < 3; i++) {
			ok(!b.failed, `not yet after ${i}`);
			const forged = a.protect(CONTENT_APPLICATION_DATA, text("forged"));
			forged[forged.length - 1] = forged[forged.length - 1]! ^ 0x40;
			equal(b.unprotect(forged).length, 0);
		}
		ok(b.failed);
		equal(b.stats().dropped.auth, 3);
		equal(b.unprotect(genuine).length, 0, "closed: even a genuine record is dropped");
		equal(b.stats().dropped.closed, 1);
		throws(() => b.protect(CONTENT_ALERT, bytes(2, 20)), RecordLayerClosedError);
		// Failures within one datagram count too, and stop the walk at the limit.
		const { a: a2, b: b2 } = pair({ maxAuthFailures: 2 });
		const f = (): Uint8Array => {
			const x = a2.protect(CONTENT_APPLICATION_DATA, text("x"));
			x[RECORD_HEADER_BYTES + 8] = x[RECORD_HEADER_BYTES + 8]! ^ 1;
			return x;
		};
		equal(b2.unprotect(concat(f(), f(), a2.protect(CONTENT_APPLICATION_DATA, text("after")))).length, 0);
		ok(b2.failed);
		throws(() => new RecordLayer({ maxAuthFailures: 0 }), RangeError);
	});

	test("the 48-bit write sequence never wraps; the first epoch-0 number can be set (RFC 6347 §4.2.1)", () => {
		const a = new RecordLayer({ initialWriteSequence: MAX_SEQUENCE - 1, version: DTLS_1_0 });
		const r = a.protect(CONTENT_HANDSHAKE, bytes(1));
		equal(toHex(r.subarray(0, 11)), "16feff0000fffffffffffe");
		equal(parseRecords(a.protect(CONTENT_HANDSHAKE, bytes(2)))[0]!.sequence, MAX_SEQUENCE);
		throws(() => a.protect(CONTENT_HANDSHAKE, bytes(3)), SequenceExhaustedError);
		throws(() => a.protect(CONTENT_HANDSHAKE, bytes(3)), SequenceExhaustedError, "and stays refused");
		// DTLS 1.0 records (HelloVerifyRequest, RFC 6347 §4.2.1) are read in epoch 0 too.
		const b = new RecordLayer();
		equal(b.unprotect(r)[0]!.version, DTLS_1_0);
		throws(() => new RecordLayer({ initialWriteSequence: 2 ** 48 }), RangeError);
	});

	test("property: 5000 random and mutated datagrams never throw and yield only authentic records", () => {
		const r = new SeededRandom(7925);
		const sender = new RecordLayer();
		sender.setWriteProtection(1, protA());
		const readProt = protA();
		/* Every record sealed, by sequence number: what a returned record must equal. */
		const sealed = new Map<number, { type: number; plaintext: Uint8Array }>();
		const TYPES = [CONTENT_HANDSHAKE, CONTENT_APPLICATION_DATA, CONTENT_ALERT, CONTENT_CHANGE_CIPHER_SPEC];
		// A pool to mutate copies of: sealing afresh each time would cost XS more than the checks.
		const pool: Uint8Array[] = [];
		for (let i = 0; i < 64; i++) {
			const parts: Uint8Array[] = [];
			const n = 1 + r.int(3);
			for (let k = 0; k < n; k++) {
				const type = TYPES[r.int(TYPES.length)]!;
				const plaintext = r.bytes(1 + r.int(12));
				sealed.set(sender.nextWriteSequence(1)!, { type, plaintext });
				parts.push(sender.protect(type, plaintext));
			}
			pool.push(concatBytes([...parts]));
		}
		const receiver = (): RecordLayer => {
			const layer = new RecordLayer({ maxAuthFailures: Infinity });
			layer.setReadProtection(1, readProt);
			layer.discardPreviousReadEpoch(); // only protected records: nothing in the clear passes as authentic
			return layer;
		};
		let returned = 0;
		let shared = receiver();
		for (let i = 0; i < 5000; i++) {
			let datagram: Uint8Array;
			const kind = r.int(4);
			if (kind === 0) {
				datagram = r.bytes(r.int(80));
			} else if (kind === 1) {
				// Well framed, plausible header, random body: gets as far as authentication.
				const body = r.bytes(r.int(40));
				datagram = new Uint8Array(recordLength(body.length));
				writeRecord(datagram, 0, TYPES[r.int(4)]!, r.int(2) === 0 ? DTLS_1_2 : DTLS_1_0, r.int(3), r.int(300), body);
			} else {
				datagram = pool[r.int(pool.length)]!.slice();
				const mutations = 1 + r.int(4);
				for (let k = 0; k < mutations; k++) {
					const m = r.int(6);
					if (m === 0 && datagram.length > 1) datagram = datagram.subarray(0, r.int(datagram.length));
					else if (m === 1) datagram = concat(datagram, r.bytes(1 + r.int(20)));
					else if (m === 2) datagram = concatBytes([datagram, pool[r.int(pool.length)]!]);
					else if (datagram.length > 0) datagram[r.int(datagram.length)] = r.int(256);
				}
			}
			// Now and then a fresh receiver (no replay state); mostly a long-lived one, renewed every 100.
			if (i % 100 === 0) shared = receiver();
			const layer = r.int(4) === 0 ? receiver() : shared;
			let got: UnprotectedRecord[] = [];
			try {
				got = layer.unprotect(datagram);
			} catch (e) {
				ok(false, `datagram ${i} (${toHex(datagram)}): threw ${String(e)}`);
			}
			for (const rec of got) {
				const orig = sealed.get(rec.sequence);
				ok(orig !== undefined && rec.epoch === 1, `datagram ${i}: record ${rec.epoch}/${rec.sequence} was never sent`);
				equal(rec.type, orig.type, `datagram ${i}`);
				equal(toHex(rec.plaintext), toHex(orig.plaintext), `datagram ${i}`);
			}
			returned += got.length;
		}
		ok(returned > 500, `untouched records of mutated datagrams still come through (${returned})`);
	});
});
