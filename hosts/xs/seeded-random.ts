/*
 * Deterministic pseudo-random bytes (xoshiro128**) for the test lane and the simulator, where a
 * run must be repeatable from its seed. NOT cryptographically secure: real hosts use the platform RNG.
 */

export class SeededRandom {
	#s = new Uint32Array(4);

	constructor(seed: number) {
		// splitmix32 expands the seed so that nearby seeds give unrelated streams.
		let x = seed >>> 0;
		for (let i = 0; i < 4; i++) {
			x = (x + 0x9e3779b9) >>> 0;
			let z = x;
			z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
			z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
			this.#s[i] = (z ^ (z >>> 16)) >>> 0;
		}
		if ((this.#s[0]! | this.#s[1]! | this.#s[2]! | this.#s[3]!) === 0) this.#s[0] = 1;
	}

	/** Next 32-bit unsigned value. */
	next(): number {
		const s = this.#s;
		let s0 = s[0]!, s1 = s[1]!, s2 = s[2]!, s3 = s[3]!;
		const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
		const t = s1 << 9;
		s2 ^= s0;
		s3 ^= s1;
		s1 ^= s2;
		s0 ^= s3;
		s2 ^= t;
		s3 = rotl(s3, 11);
		s[0] = s0;
		s[1] = s1;
		s[2] = s2;
		s[3] = s3;
		return result;
	}

	/** Uniform integer in [0, n). */
	int(n: number): number {
		return Math.floor((this.next() / 0x100000000) * n);
	}

	/** Uniform float in [0, 1). */
	float(): number {
		return this.next() / 0x100000000;
	}

	fill(bytes: Uint8Array): Uint8Array {
		for (let i = 0; i < bytes.length; i += 4) {
			let v = this.next();
			for (let k = 0; k < 4 && i + k < bytes.length; k++, v >>>= 8) bytes[i + k] = v & 0xff;
		}
		return bytes;
	}

	bytes(n: number): Uint8Array {
		return this.fill(new Uint8Array(n));
	}
}

function rotl(x: number, k: number): number {
	return ((x << k) | (x >>> (32 - k))) >>> 0;
}
