/*
 * The Host on Moddable's runtime (lin build and devices): IPv6 UDP from our native module
 * (udp.ts), timers on the `timer` module, a monotonic clock and the platform's cryptographic RNG
 * (platform.ts), storage on `Preference`, logs through `trace`. No ICMPv6: sending it needs a raw
 * socket the device build does not open, so the join proxy counts refusals it cannot signal.
 *
 * `Preference` is passed in by the app rather than imported: this module is preloaded, and on lin
 * Preference reads its file in a static initializer, which preloading would run at build time.
 */

import Timer from "timer";
import type Preference from "preference";
import type { Clock, Host, Storage, Timer as HostTimer } from "../host.js";
import { fillRandom, monotonicMs } from "./platform.js";
import { Interfaces, ModdableUdp } from "./udp.js";

/** ESP32 NVS limits, applied on every platform so that what works on lin works on the device. */
export const MAX_KEY_LENGTH = 15;
export const MAX_VALUE_BYTES = 4000;

const LEVELS = Object.freeze({ debug: 0, info: 1, warn: 2, error: 3 });
type Level = keyof typeof LEVELS;

/** A log level from a setting's text; "info" for "" or anything unknown. */
export function logLevel(text: string): Level {
	return Object.hasOwn(LEVELS, text) ? (text as Level) : "info";
}

/**
 * A re-armable one-shot timer. Re-arming a pending timer reschedules it (Timer.schedule, nothing
 * allocated); a timer that fired or was cancelled is released to the runtime and a new one is set
 * on the next arm, so idle Host timers hold no runtime timer.
 */
class ModdableTimer implements HostTimer {
	readonly #callback: () => void;
	#timer: Timer | undefined;

	constructor(callback: () => void) {
		this.#callback = callback;
	}

	get armed(): boolean {
		return this.#timer !== undefined;
	}

	arm(delayMs: number): void {
		const delay = Math.max(0, Math.ceil(delayMs));
		if (this.#timer !== undefined) Timer.schedule(this.#timer, delay);
		else this.#timer = Timer.set(() => this.#fire(), delay);
	}

	cancel(): void {
		if (this.#timer === undefined) return;
		Timer.clear(this.#timer);
		this.#timer = undefined;
	}

	#fire(): void {
		this.#timer = undefined; // a one-shot Timer clears itself once it has fired
		this.#callback();
	}
}
Object.freeze(ModdableTimer.prototype);

export class ModdableClock implements Clock {
	now(): number {
		return monotonicMs();
	}

	wallTime(): number {
		return Date.now();
	}

	timer(callback: () => void): HostTimer {
		return new ModdableTimer(callback);
	}
}
Object.freeze(ModdableClock.prototype);

/** Storage in one Preference domain; keys and values within NVS limits (RangeError beyond). */
export class PreferenceStorage implements Storage {
	readonly #domain: string;
	readonly #preference: typeof Preference;

	constructor(preference: typeof Preference, domain: string) {
		this.#preference = preference;
		if (domain.length === 0 || domain.length > MAX_KEY_LENGTH) throw new RangeError(`storage domain must be 1..${MAX_KEY_LENGTH} characters`);
		this.#domain = domain;
	}

	get(key: string): Uint8Array | undefined {
		const value = this.#preference.get(this.#domain, checkKey(key));
		return value instanceof ArrayBuffer ? new Uint8Array(value.slice(0)) : undefined;
	}

	set(key: string, value: Uint8Array): void {
		if (value.length > MAX_VALUE_BYTES) throw new RangeError(`storage value for "${key}" is ${value.length} bytes; at most ${MAX_VALUE_BYTES}`);
		this.#preference.set(this.#domain, checkKey(key), value.slice().buffer);
	}

	delete(key: string): void {
		this.#preference.delete(this.#domain, checkKey(key));
	}

	keys(): string[] {
		return this.#preference.keys(this.#domain);
	}
}
Object.freeze(PreferenceStorage.prototype);

function checkKey(key: string): string {
	if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw new RangeError(`storage key "${key}" must be 1..${MAX_KEY_LENGTH} characters`);
	return key;
}

export interface ModdableHostOptions {
	/** The runtime's `preference` module (see above). */
	preference: typeof Preference;
	/** Lines below this level are dropped (default "info"). */
	logLevel?: Level;
	/** Preference domain of the Host's storage (default "cjp"). */
	storageDomain?: string;
}

export function createModdableHost(options: ModdableHostOptions): Host {
	const threshold = LEVELS[options.logLevel ?? "info"];
	return {
		udp: new ModdableUdp(new Interfaces()),
		clock: new ModdableClock(),
		random(bytes: Uint8Array): Uint8Array {
			fillRandom(bytes);
			return bytes;
		},
		storage: new PreferenceStorage(options.preference, options.storageDomain ?? "cjp"),
		log(level, message) {
			if (LEVELS[level] >= threshold) trace(`${level}: ${message}\n`);
		},
	};
}
