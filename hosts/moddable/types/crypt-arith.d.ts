/*
 * The SDK's EC arithmetic ($MODDABLE/modules/crypt/arith), which ships no typings: affine points
 * over BigInts, with the multiplications native (ec.c). Points returned by mul/mul2 are normalised
 * to affine. Used by both type checks: this repo's (tsc -p tsconfig.xs.json) and the device build's
 * (manifest_crypto.json adds this file to the build's `types`).
 */
declare module "ecp" {
	class ECPoint {
		constructor(x: bigint, y: bigint, identity?: boolean);
		readonly X: bigint;
		readonly Y: bigint;
		isZero(): boolean;
	}
	export { ECPoint as default };
}

declare module "ec" {
	import type ECPoint from "ecp";
	class EC {
		constructor(a: bigint, b: bigint, m: bigint);
		mul(point: ECPoint, k: bigint): ECPoint;
		/** k1 * p1 + k2 * p2 (Shamir's trick). */
		mul2(p1: ECPoint, k1: bigint, p2: ECPoint, k2: bigint): ECPoint;
	}
	export { EC as default };
}

declare module "modular" {
	class Modular {
		constructor(m: bigint);
		readonly m: bigint;
		mulinv(a: bigint): bigint;
	}
	export { Modular as default };
}

