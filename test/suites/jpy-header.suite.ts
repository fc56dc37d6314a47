import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { HEADER_BYTES, JpyHeaderCodec, type PledgeFlow } from "../../modules/jpy/header.js";
import { toHex } from "../../modules/util/hex.js";

function codec(seed: number): JpyHeaderCodec {
	const r = new SeededRandom(seed);
	return new JpyHeaderCodec({ random: (b) => r.fill(b) });
}

function seal(c: JpyHeaderCodec, ifindex: number, port: number, iid: Uint8Array): Uint8Array {
	const out = new Uint8Array(HEADER_BYTES);
	c.seal(ifindex, port, iid, 0, out, 0);
	return out;
}

const flow = (): PledgeFlow => ({ ifindex: -1, port: -1, iid: new Uint8Array(8) });
const IID = new Uint8Array([0x02, 0x12, 0x4b, 0x00, 0x14, 0xaa, 0xbb, 0xcc]);

export default suite("jpy header", (test) => {
	test("seals to 19 bytes and opens to the same interface, port and IID", () => {
		const c = codec(1);
		const h = seal(c, 5, 61616, IID);
		equal(h.length, HEADER_BYTES);
		const f = flow();
		ok(c.open(h, 0, h.length, f));
		deepEqual([f.ifindex, f.port, f.iid], [5, 61616, IID]);
	});

	test("deterministic per flow, distinct across flows, unreadable without the key", () => {
		const c = codec(2);
		equal(toHex(seal(c, 0, 1000, IID)), toHex(seal(c, 0, 1000, IID)));
		const variants = [seal(c, 1, 1000, IID), seal(c, 0, 1001, IID), seal(c, 0, 1000, IID.map((b, i) => (i === 7 ? b ^ 1 : b)))];
		const base = toHex(seal(c, 0, 1000, IID));
		for (const v of variants) ok(toHex(v) !== base);
		// The IID does not appear in the clear.
		ok(!toHex(seal(c, 0, 1000, IID)).includes(toHex(IID).slice(0, 8)));
		const other = codec(3);
		ok(!other.open(seal(c, 0, 1000, IID), 0, HEADER_BYTES, flow()), "another proxy's key does not open it");
	});

	test("every single-bit change of a header is rejected", () => {
		const c = codec(4);
		const h = seal(c, 3, 5684, IID);
		for (let bit = 0; bit < HEADER_BYTES * 8; bit++) {
			const bad = h.slice();
			bad[bit >> 3] = bad[bit >> 3]! ^ (1 << (bit & 7));
			ok(!c.open(bad, 0, bad.length, flow()), `bit ${bit}`);
		}
		ok(!c.open(h, 0, HEADER_BYTES - 1, flow()), "short");
		ok(!c.open(new Uint8Array(HEADER_BYTES + 1), 0, HEADER_BYTES + 1, flow()), "long");
	});

	test("rotation: sealing stays on the previous key until it is dropped; two epochs back never opens; the marker bit flips", () => {
		const c = codec(5);
		const h0 = seal(c, 0, 1, IID);
		equal(h0[0]! >> 7, 0);
		c.rotate();
		equal(c.epoch, 1);
		ok(c.acceptsPrevious);
		equal(c.sealingEpoch, 0);
		equal(toHex(seal(c, 0, 1, IID)), toHex(h0), "through the grace period a flow keeps its header, cached or not");
		ok(c.open(h0, 0, HEADER_BYTES, flow()), "previous epoch still opens");
		c.dropPrevious();
		equal(c.sealingEpoch, 1);
		const h1 = seal(c, 0, 1, IID);
		equal(h1[0]! >> 7, 1);
		ok(toHex(h0) !== toHex(h1));
		ok(!c.open(h0, 0, HEADER_BYTES, flow()), "grace over");
		c.rotate();
		ok(!c.open(h0, 0, HEADER_BYTES, flow()), "epoch 0 has the parity of epoch 2 but not its key");
		ok(c.open(h1, 0, HEADER_BYTES, flow()));
	});

	test("interface index 0..127 and ports 0..65535; others are programming errors", () => {
		const c = codec(6);
		for (const [i, p] of [[0, 0], [127, 65535], [64, 5683]] as const) {
			const f = flow();
			ok(c.open(seal(c, i, p, IID), 0, HEADER_BYTES, f));
			equal(f.ifindex, i);
			equal(f.port, p);
		}
		throws(() => seal(c, 128, 1, IID), RangeError);
		throws(() => seal(c, 0, 65536, IID), RangeError);
	});

	test("property: 20000 random and 5000 mutated headers never open", () => {
		const c = codec(7);
		const r = new SeededRandom(77);
		const f = flow();
		for (let i = 0; i < 20000; i++) ok(!c.open(r.bytes(HEADER_BYTES), 0, HEADER_BYTES, f), `random ${i}`);
		for (let i = 0; i < 5000; i++) {
			const h = seal(c, r.int(128), r.int(65536), r.bytes(8));
			const bad = h.slice();
			const flips = 1 + r.int(8);
			for (let k = 0; k < flips; k++) bad[r.int(HEADER_BYTES)] = r.int(256);
			if (toHex(bad) === toHex(h)) continue;
			ok(!c.open(bad, 0, HEADER_BYTES, f), `mutation ${i}`);
		}
	});
});
