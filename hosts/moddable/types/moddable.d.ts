/*
 * The parts of Moddable's runtime that hosts/moddable uses, for this repo's own type check (tsc -p
 * tsconfig.xs.json). A device build type-checks against the SDK's typings instead (mcconfig maps
 * "timer", "time", "preference" and the XS globals itself); these declarations follow them
 * ($MODDABLE/typings/{timer,preference}.d.ts, xs/includes/xs.d.ts).
 */

declare function trace(...text: (string | number)[]): void;
/** XS: a host function named by a string literal (compiled by xsc, not called at run time). */
declare function native(name: string): (...args: any[]) => any;
/** XS: a constructor of host objects whose native destructor is `name`. */
declare function Native(name: string): new (...args: any[]) => any;

declare module "timer" {
	class Timer {
		private constructor();
		static set(callback: (timer: Timer) => void, interval?: number, repeat?: number): Timer;
		static repeat(callback: (timer: Timer) => void, interval: number): Timer;
		static schedule(timer: Timer, interval?: number, repeat?: number): void;
		static clear(timer: Timer | undefined | null): void;
		private brand: boolean;
	}
	export { Timer as default };
}

declare module "preference" {
	const Preference: {
		set(domain: string, key: string, value: string | boolean | number | ArrayBuffer): void;
		get(domain: string, key: string): string | boolean | number | ArrayBuffer | undefined;
		delete(domain: string, key: string): void;
		keys(domain: string): string[];
	};
	export { Preference as default };
}

declare module "mc/config" {
	const config: Readonly<Record<string, unknown>>;
	export { config as default };
}

declare module "crypt" {
	export class Digest {
		constructor(type: "SHA1" | "SHA256");
		write(message: ArrayBuffer): void;
		close(): ArrayBuffer;
		reset(): void;
	}
}

declare module "time" {
	const Time: {
		/** Milliseconds from an arbitrary origin. */
		readonly ticks: number;
	};
	export { Time as default };
}

declare module "text/encoder" {
	class TextEncoder {
		encode(text: string): Uint8Array;
	}
	export { TextEncoder as default };
}

declare module "instrumentation" {
	const Instrumentation: {
		get(what: number | undefined): number | undefined;
		map(name: string): number | undefined;
	};
	export { Instrumentation as default };
}
