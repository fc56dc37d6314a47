/* The part of @agoric/xsnap 0.15 (untyped JS) that tools/xs-lane uses. */
declare module "@agoric/xsnap" {
	export interface MeterUsage {
		compute: number;
		allocate: number;
		currentHeapCount: number;
	}
	export interface XSnapWorker {
		evaluate(source: string): Promise<{ meterUsage: MeterUsage }>;
		close(): Promise<void>;
		terminate(): Promise<void>;
	}
	export function xsnap(options: Record<string, unknown>): Promise<XSnapWorker>;
}
