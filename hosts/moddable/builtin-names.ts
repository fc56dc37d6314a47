/*
 * xsl runs preloaded module bodies in a machine whose built-in constructors have no own `name` yet,
 * and cbor-x's decode.js reads each typed array constructor's name while it loads
 * (registerTypedArray), so preloading it fails with "cannot coerce undefined to object". Preloaded
 * ahead of cbor-x (manifest_host.json lists it first), this module gives those constructors their
 * standard names (ECMA-262 §23.2.7: a TypedArray constructor's `name` is its own name) where they
 * are missing, and does nothing where they are present.
 */

const TYPED_ARRAYS = Object.freeze([
	[Uint8Array, "Uint8Array"],
	[Uint8ClampedArray, "Uint8ClampedArray"],
	[Uint16Array, "Uint16Array"],
	[Uint32Array, "Uint32Array"],
	[BigUint64Array, "BigUint64Array"],
	[Int8Array, "Int8Array"],
	[Int16Array, "Int16Array"],
	[Int32Array, "Int32Array"],
	[BigInt64Array, "BigInt64Array"],
	[Float32Array, "Float32Array"],
	[Float64Array, "Float64Array"],
] as const);

for (const [constructor, name] of TYPED_ARRAYS) {
	if (typeof constructor.name !== "string") Object.defineProperty(constructor, "name", { value: name, configurable: true });
}
