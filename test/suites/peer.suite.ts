import { suite } from "../lib/harness.js";
import { deepEqual, equal } from "../lib/assert.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { parsePeer, peerKey } from "../../modules/util/peer.js";
import { formatIPv6 } from "../../modules/util/ipv6.js";

export default suite("peer text", (test) => {
	test("parsePeer reads peerKey's form, %25 zones and unscoped global addresses", () => {
		deepEqual(parsePeer("[fe80::a%pl0]:5684"), { address: "fe80::a", port: 5684, zone: "pl0" });
		deepEqual(parsePeer("[fe80::a%25wpan0]:7684"), { address: "fe80::a", port: 7684, zone: "wpan0" });
		deepEqual(parsePeer("[2001:db8::1]:1"), { address: "2001:db8::1", port: 1, zone: "" });
	});

	test("parsePeer refuses other text, ports outside 1..65535 and link-local addresses without a zone", () => {
		for (const bad of ["", "fe80::a%pl0:5684", "[fe80::a%pl0]", "[fe80::a%pl0]:0", "[fe80::a%pl0]:65536", "[fe80::a]:5684", "[fe80::a%]:5684", "[fe80::a%a%b]:5684", "[x::1]:5", "[::1]:5 ", "[::1]:123456"]) {
			equal(parsePeer(bad), undefined, bad);
		}
	});

	test("seeded: parsePeer(peerKey(p)) is p for random addresses, zones and ports; mutated texts parse or are refused, never throw", () => {
		const r = new SeededRandom(0x9ee);
		const chars = "[]%:.0123456789abcdefxz";
		for (let i = 0; i < 500; i++) {
			const bytes = r.bytes(16);
			if (i % 2 === 0) bytes.set([0xfe, 0x80, 0, 0, 0, 0, 0, 0]);
			const p = { address: formatIPv6(bytes), port: 1 + r.int(65535), zone: i % 2 === 0 || r.int(2) === 0 ? `if${r.int(100)}` : "" };
			const text = peerKey(p);
			deepEqual(parsePeer(text), p, text);
			const mutated = text.split("");
			mutated[r.int(mutated.length)] = chars[r.int(chars.length)]!;
			const back = parsePeer(mutated.join(""));
			if (back !== undefined) equal(back.port > 0 && back.port < 65536, true);
		}
	});
});
