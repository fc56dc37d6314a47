/*
 * A pcap (libpcap 2.4) capture of the simulated air: every frame as transmitted, retransmissions,
 * acknowledgements and collided frames included, with its FCS (LINKTYPE_IEEE802_15_4_WITHFCS, 195).
 * Kept as chunks in memory; the caller writes `bytes()` wherever it likes.
 */

export const LINKTYPE_IEEE802_15_4_WITHFCS = 195;
const MAGIC_MICROSECONDS = 0xa1b2c3d4;

export class PcapWriter {
	readonly #chunks: Uint8Array[] = [];
	#frames = 0;

	constructor(linkType = LINKTYPE_IEEE802_15_4_WITHFCS) {
		const h = new Uint8Array(24);
		const v = new DataView(h.buffer);
		v.setUint32(0, MAGIC_MICROSECONDS, true);
		v.setUint16(4, 2, true);
		v.setUint16(6, 4, true);
		v.setUint32(16, 65535, true); // snaplen
		v.setUint32(20, linkType, true);
		this.#chunks.push(h);
	}

	get frames(): number {
		return this.#frames;
	}

	/** `timeUs`: microseconds since the Unix epoch. */
	record(timeUs: number, frame: Uint8Array): void {
		const r = new Uint8Array(16 + frame.length);
		const v = new DataView(r.buffer);
		v.setUint32(0, Math.floor(timeUs / 1e6), true);
		v.setUint32(4, timeUs % 1e6, true);
		v.setUint32(8, frame.length, true);
		v.setUint32(12, frame.length, true);
		r.set(frame, 16);
		this.#chunks.push(r);
		this.#frames++;
	}

	bytes(): Uint8Array {
		let n = 0;
		for (const c of this.#chunks) n += c.length;
		const out = new Uint8Array(n);
		let p = 0;
		for (const c of this.#chunks) {
			out.set(c, p);
			p += c.length;
		}
		return out;
	}
}
