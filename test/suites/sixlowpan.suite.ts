import { suite } from "../lib/harness.js";
import { deepEqual, equal, ok, throws } from "../lib/assert.js";
import { SeededRandom } from "../../hosts/xs/seeded-random.js";
import { ManualClock } from "../../hosts/xs/manual-clock.js";
import { fromHex, toHex } from "../../modules/util/hex.js";
import { parseIPv6Into } from "../../modules/util/ipv6.js";
import { airtimeUs, decodeFrame, encodeFrame, fcs16, FrameError, maxPayload } from "../../modules/ieee802154/frame.js";
import { compressHeader, decompressHeader, iidFromLinkAddress, linkAddressFromIid, LowpanError } from "../../modules/sixlowpan/iphc.js";
import { decodeUnfragmented, encodeDatagram, Reassembler } from "../../modules/sixlowpan/adaptation.js";
import { buildUdpPacket, checksumValid, NEXT_HEADER_ICMPV6, writeIpv6Header } from "../../modules/sixlowpan/ipv6-packet.js";

const MAC_A = fromHex("0012740000000001");
const MAC_B = fromHex("0012740000000002");
const LINK = { src: MAC_A, dst: MAC_B };
const MESH_PREFIX = fromHex("20010db800010000");

function ip(text: string): Uint8Array {
	const out = new Uint8Array(16);
	ok(parseIPv6Into(text, out), text);
	return out;
}

function linkLocalOf(mac: Uint8Array, prefix = fromHex("fe80000000000000")): Uint8Array {
	const a = new Uint8Array(16);
	a.set(prefix);
	iidFromLinkAddress(mac, a, 8);
	return a;
}

function udp(src: Uint8Array, dst: Uint8Array, sp: number, dp: number, payload: Uint8Array, hopLimit = 64, trafficClass = 0, flowLabel = 0): Uint8Array {
	return buildUdpPacket({ src, dst, hopLimit, trafficClass, flowLabel }, sp, dp, payload);
}

function roundTrip(packet: Uint8Array, link = LINK, contexts = [MESH_PREFIX]): Uint8Array {
	const { header, consumed } = compressHeader(packet, link, contexts);
	const datagram = new Uint8Array(header.length + packet.length - consumed);
	datagram.set(header);
	datagram.set(packet.subarray(consumed), header.length);
	return decodeUnfragmented(datagram, link, contexts);
}

function randomAddress(r: SeededRandom, mac: Uint8Array): Uint8Array {
	switch (r.int(7)) {
		case 0: return linkLocalOf(mac);
		case 1: return linkLocalOf(mac, MESH_PREFIX);
		case 2: { const a = ip("fe80::ff:fe00:0"); a[14] = r.int(256); a[15] = r.int(256); return a; }
		case 3: { const a = r.bytes(16); a.set(fromHex("fe80000000000000")); return a; }
		case 4: { const a = r.bytes(16); a.set(MESH_PREFIX); return a; }
		case 5: return new Uint8Array(16);
		default: return r.bytes(16);
	}
}

function randomDestination(r: SeededRandom, mac: Uint8Array): Uint8Array {
	if (r.int(3) > 0) {
		const a = randomAddress(r, mac);
		if (a[0] === 0xff || a.every((b) => b === 0)) a[0] = 0x20;
		return a;
	}
	const m = new Uint8Array(16);
	m[0] = 0xff;
	m[1] = [0x02, 0x05, 0x1e][r.int(3)]!;
	const tail = [1, 3, 5, 14][r.int(4)]!;
	m.set(r.bytes(tail), 16 - tail);
	return m;
}

export default suite("IEEE 802.15.4 and 6LoWPAN codecs", (test) => {
	test("FCS is CRC-16/ITU-T (KERMIT check value 0x2189); frames round-trip and a flipped bit fails the FCS", () => {
		equal(fcs16(new Uint8Array([0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39])), 0x2189);
		const f = { kind: "data" as const, seq: 7, ackRequest: true, panId: 0xabcd, dst: MAC_B, src: MAC_A, payload: fromHex("7e33f012abcd") };
		const bytes = encodeFrame(f);
		equal(bytes.length, 21 + 6 + 2, "21-byte header, payload, 2-byte FCS");
		// FCF 0x cc61: data, AR, PAN ID compression, both addresses extended; addresses sent LSB first
		equal(toHex(bytes.subarray(0, 13)), "61cc07cdab0200000000741200");
		deepEqual(decodeFrame(bytes), f);
		bytes[9] = bytes[9]! ^ 4;
		throws(() => decodeFrame(bytes), FrameError);
		deepEqual(decodeFrame(encodeFrame({ kind: "ack", seq: 200 })), { kind: "ack", seq: 200 });
		equal(encodeFrame({ kind: "ack", seq: 1 }).length, 5);
		equal(maxPayload(8, 8), 104);
		equal(maxPayload(2, 8), 110);
		equal(airtimeUs(127), 4256, "133 octets at 32 µs");
		throws(() => encodeFrame({ ...f, payload: new Uint8Array(105) }), FrameError);
	});

	test("link-local UDP between derived addresses compresses to 6 bytes (RFC 6282 §3.1.1, §4.3.3 4-bit ports)", () => {
		const p = udp(linkLocalOf(MAC_A), linkLocalOf(MAC_B), 0xf0b1, 0xf0b2, fromHex("68656c6c6f"));
		const { header, consumed } = compressHeader(p, LINK);
		equal(consumed, 48);
		// 011 TF=11 NH=1 HLIM=10 | CID=0 SAC=0 SAM=11 M=0 DAC=0 DAM=11 | NHC 11110 C=0 P=11 | ports | checksum
		equal(toHex(header.subarray(0, 4)), "7e33f312");
		equal(toHex(header.subarray(4)), toHex(p.subarray(46, 48)));
		deepEqual(roundTrip(p), p);
	});

	test("address modes: 16-bit IIDs, inline IIDs, context 0, the unspecified address, multicast 8/32/48/128 bits", () => {
		const cases: [string, string, string, number][] = [
			// [source, destination, expected first two IPHC bytes, compressed header length]
			["fe80::ff:fe00:1234", "fe80::ff:fe00:abcd", "7e22", 2 + 2 + 2 + 1 + 4 + 2],
			["fe80::1", "fe80::2", "7e11", 2 + 8 + 8 + 1 + 4 + 2],
			["2001:db8:1::212:7400:0:1", "2001:db8:1::212:7400:0:2", "7e77", 2 + 1 + 4 + 2],
			["::", "ff02::1", "7e4b", 2 + 1 + 1 + 4 + 2],
			["fe80::212:7400:0:1", "ff05::fd", "7e3a", 2 + 4 + 1 + 4 + 2],
			["fe80::212:7400:0:1", "ff05::1:2:3", "7e39", 2 + 6 + 1 + 4 + 2],
			["fe80::212:7400:0:1", "ff05:1::1", "7e38", 2 + 16 + 1 + 4 + 2],
			["2001:db8::2", "2001:db8:1::212:7400:0:2", "7e07", 2 + 16 + 1 + 4 + 2],
		];
		for (const [s, d, first, length] of cases) {
			const p = udp(ip(s), ip(d), 5683, 5684, fromHex("01"));
			const { header } = compressHeader(p, LINK, [MESH_PREFIX]);
			equal(toHex(header.subarray(0, 2)), first, `${s} → ${d}`);
			equal(header.length, length, `${s} → ${d} length`);
			deepEqual(roundTrip(p), p, `${s} → ${d} round trip`);
		}
		deepEqual(linkAddressFromIid(linkLocalOf(MAC_A)), MAC_A);
	});

	test("traffic class and flow label forms, hop limits, ICMPv6 carried inline, contexts other than 0 (CID byte)", () => {
		for (const [tc, fl] of [[0, 0], [0xb8, 0], [0x01, 0x12345], [0xbb, 0xfffff]] as const) {
			for (const hop of [1, 64, 255, 17]) {
				const p = udp(linkLocalOf(MAC_A), linkLocalOf(MAC_B), 1234, 61616, fromHex("aabb"), hop, tc, fl);
				deepEqual(roundTrip(p), p, `tc ${tc} fl ${fl} hop ${hop}`);
			}
		}
		const icmp = new Uint8Array(48);
		writeIpv6Header(icmp, { trafficClass: 0, flowLabel: 0, nextHeader: NEXT_HEADER_ICMPV6, hopLimit: 255, src: linkLocalOf(MAC_A), dst: ip("ff02::1") }, 8);
		icmp[40] = 128;
		deepEqual(roundTrip(icmp), icmp);
		const other = fromHex("fd00000000000000");
		const p = udp(linkLocalOf(MAC_A, other), ip("2001:db8:1::5"), 1, 2, new Uint8Array(0));
		const { header } = compressHeader(p, LINK, [MESH_PREFIX, other]);
		equal(header[1]! & 0x80, 0x80, "CID bit");
		equal(header[2], 0x10, "SCI 1, DCI 0");
		deepEqual(roundTrip(p, LINK, [MESH_PREFIX, other]), p);
		throws(() => decompressHeader(header, LINK, [MESH_PREFIX]), LowpanError);
	});

	test("an elided UDP checksum (C=1) is recomputed on decoding", () => {
		const p = udp(linkLocalOf(MAC_A), linkLocalOf(MAC_B), 0xf0b1, 0xf0b2, fromHex("0102030405"));
		const elided = fromHex("7e33f7120102030405");
		deepEqual(decodeUnfragmented(elided, LINK, []), p);
		ok(checksumValid(p));
	});

	test("seeded property: random packets round-trip byte for byte, unfragmented and fragmented, fragments in any order", () => {
		const r = new SeededRandom(6282);
		const clock = new ManualClock();
		const rx = new Reassembler({ clock, contexts: [MESH_PREFIX] });
		for (let i = 0; i < 400; i++) {
			const link = r.int(4) === 0 ? { src: fromHex("1234"), dst: MAC_B } : LINK;
			const sp = [0xf0b3, 0xf012, 5683, r.int(65536)][r.int(4)]!;
			const dp = [0xf0bc, 0xf0ff, 5684, r.int(65536)][r.int(4)]!;
			const p = udp(randomAddress(r, link.src), randomDestination(r, link.dst), sp, dp, r.bytes(r.int(1200)), [1, 64, 255, r.int(256)][r.int(4)]!, r.int(4) === 0 ? r.int(256) : 0, r.int(4) === 0 ? r.int(1 << 20) : 0);
			const frames = encodeDatagram(p, link, [MESH_PREFIX], maxPayload(8, 8), i);
			for (const f of frames) ok(f.length <= maxPayload(8, 8));
			// shuffle (Fisher-Yates on a copy)
			const order = frames.slice();
			for (let k = order.length - 1; k > 0; k--) {
				const j = r.int(k + 1);
				const t = order[k]!;
				order[k] = order[j]!;
				order[j] = t;
			}
			let out: Uint8Array | undefined;
			for (const f of order) {
				const got = rx.accept(f, link);
				if (got !== undefined) {
					equal(out, undefined, "completes once");
					out = got;
				}
			}
			deepEqual(out, p, `packet ${i} (${frames.length} frames)`);
		}
		equal(rx.pending, 0);
		equal(rx.counters.dropped, 0);
	});

	test("a lost fragment loses the whole datagram, freed after the 60 s reassembly timeout (RFC 4944 §5.3)", () => {
		const clock = new ManualClock();
		const rx = new Reassembler({ clock });
		const p = udp(linkLocalOf(MAC_A), linkLocalOf(MAC_B), 5683, 5684, new Uint8Array(500).fill(7));
		const frames = encodeDatagram(p, LINK, [], maxPayload(8, 8), 99);
		equal(frames.length, 6);
		for (let i = 0; i < frames.length; i++) if (i !== 3) equal(rx.accept(frames[i]!, LINK), undefined);
		equal(rx.pending, 1);
		clock.advance(59_999);
		equal(rx.pending, 1);
		clock.advance(1);
		equal(rx.pending, 0);
		equal(rx.counters.timedOut, 1);
		equal(rx.accept(frames[3]!, LINK), undefined, "the late fragment starts a new, never completed datagram");
		// a different tag is a different datagram; the same tag from another link source is too
		const again = encodeDatagram(p, LINK, [], maxPayload(8, 8), 100);
		let done: Uint8Array | undefined;
		for (const f of again) done = rx.accept(f, LINK) ?? done;
		deepEqual(done, p);
		rx.close();
	});

	test("seeded fuzz: mutated and random payloads never crash the decoder or the reassembler", () => {
		const r = new SeededRandom(4944);
		const clock = new ManualClock();
		const rx = new Reassembler({ clock, contexts: [MESH_PREFIX], maxPending: 4 });
		const seeds: Uint8Array[] = [];
		for (let i = 0; i < 20; i++) seeds.push(...encodeDatagram(udp(randomAddress(r, MAC_A), randomDestination(r, MAC_B), r.int(65536), 0xf0b1, r.bytes(r.int(300))), LINK, [MESH_PREFIX], maxPayload(8, 8), i));
		for (let i = 0; i < 20_000; i++) {
			let input: Uint8Array;
			if (r.int(4) === 0) input = r.bytes(r.int(110));
			else {
				input = seeds[r.int(seeds.length)]!.slice();
				for (let k = r.int(4); k >= 0; k--) if (input.length > 0) input[r.int(input.length)] = r.int(256);
				if (r.int(4) === 0) input = input.subarray(0, r.int(input.length + 1));
			}
			try {
				const out = rx.accept(input, LINK);
				if (out !== undefined) ok(out.length >= 40);
			} catch (e) {
				ok(e instanceof LowpanError, `input ${toHex(input)}: ${String(e)}`);
			}
			if (i % 1000 === 0) clock.advance(61_000);
		}
		ok(rx.pending <= 4);
	});
});
