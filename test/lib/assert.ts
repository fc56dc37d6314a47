/* Assertions that run on XS as well as Node (node:assert is not available on XS). */

export class AssertionError extends Error {
	// A field, not `this.name =`: Error.prototype is frozen on a preloaded device (override mistake).
	override readonly name = "AssertionError";
}

function show(v: unknown): string {
	if (v instanceof Uint8Array) {
		let s = "";
		for (let i = 0; i < Math.min(v.length, 64); i++) s += (v[i]! < 16 ? "0" : "") + v[i]!.toString(16);
		return `bytes(${v.length})[${s}${v.length > 64 ? "…" : ""}]`;
	}
	try {
		return typeof v === "string" ? JSON.stringify(v) : typeof v === "bigint" ? `${v}n` : JSON.stringify(v) ?? String(v);
	} catch {
		return String(v);
	}
}

export function ok(cond: unknown, message = "expected a truthy value"): asserts cond {
	if (!cond) throw new AssertionError(message);
}

export function equal<T>(actual: T, expected: T, message?: string): void {
	if (!Object.is(actual, expected)) {
		throw new AssertionError(`${message ? message + ": " : ""}expected ${show(expected)}, got ${show(actual)}`);
	}
}

function deepEq(a: unknown, b: unknown): boolean {
	if (Object.is(a, b)) return true;
	if (a instanceof Uint8Array && b instanceof Uint8Array) {
		if (a.length !== b.length) return false;
		for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
		return true;
	}
	if (Array.isArray(a) && Array.isArray(b)) {
		return a.length === b.length && a.every((x, i) => deepEq(x, b[i]));
	}
	if (a instanceof Map && b instanceof Map) {
		if (a.size !== b.size) return false;
		for (const [k, v] of a) if (!b.has(k) || !deepEq(v, b.get(k))) return false;
		return true;
	}
	if (a && b && typeof a === "object" && typeof b === "object") {
		if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
		const ka = Object.keys(a);
		const kb = Object.keys(b);
		if (ka.length !== kb.length) return false;
		return ka.every((k) => deepEq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
	}
	return false;
}

export function deepEqual(actual: unknown, expected: unknown, message?: string): void {
	if (!deepEq(actual, expected)) {
		throw new AssertionError(`${message ? message + ": " : ""}expected ${show(expected)}, got ${show(actual)}`);
	}
}

type ErrorClass = abstract new (...args: never[]) => Error;

export function throws(fn: () => unknown, errorClass: ErrorClass, message?: string): Error {
	try {
		fn();
	} catch (e) {
		if (e instanceof errorClass) return e;
		throw new AssertionError(`${message ? message + ": " : ""}expected ${errorClass.name}, got ${String(e)}`);
	}
	throw new AssertionError(`${message ? message + ": " : ""}expected ${errorClass.name}, nothing was thrown`);
}

export async function rejects(promise: Promise<unknown>, errorClass: ErrorClass, message?: string): Promise<Error> {
	try {
		await promise;
	} catch (e) {
		if (e instanceof errorClass) return e;
		throw new AssertionError(`${message ? message + ": " : ""}expected ${errorClass.name}, got ${String(e)}`);
	}
	throw new AssertionError(`${message ? message + ": " : ""}expected rejection with ${errorClass.name}`);
}
