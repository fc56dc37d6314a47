/* The shape of a `cjp` subcommand, and the one way options are parsed and usage errors reported. */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { linkLocalAddressOf } from "../../hosts/node/index.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export interface Command {
	name: string;
	summary: string;
	/** Full --help text (usage line, options, examples). */
	help: string;
	options: OptionSpec;
	/** Resolves with the exit code once the command is done (servers: once stopped by a signal). */
	run(values: Record<string, string | boolean | string[] | boolean[] | undefined>, positionals: string[]): Promise<number>;
}

/** A mistake in how the command was called: reported in one line with a pointer to --help, exit 2. */
export class UsageError extends Error {
	override readonly name = "UsageError";
}

export function parse(command: Command, argv: string[]): { values: Record<string, string | boolean | string[] | boolean[] | undefined>; positionals: string[]; help: boolean } {
	try {
		const { values, positionals } = parseArgs({
			args: argv,
			options: { ...command.options, help: { type: "boolean", short: "h" } },
			allowPositionals: true,
			strict: true,
		});
		return { values, positionals, help: values["help"] === true };
	} catch (e) {
		// parseArgs messages name the option ("Unknown option '--x'"); keep only the first sentence.
		throw new UsageError(String((e as Error).message).split(". ")[0]!);
	}
}

export function intOption(value: unknown, name: string, min: number, max: number): number | undefined {
	if (value === undefined) return undefined;
	const n = Number(value);
	if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}, got "${String(value)}"`);
	return n;
}

/** Resolves when SIGINT or SIGTERM arrives (servers run until then). */
export function untilSignal(): Promise<string> {
	return new Promise((resolve) => {
		const done = (sig: string): void => {
			process.off("SIGINT", onInt);
			process.off("SIGTERM", onTerm);
			resolve(sig);
		};
		const onInt = (): void => done("SIGINT");
		const onTerm = (): void => done("SIGTERM");
		process.on("SIGINT", onInt);
		process.on("SIGTERM", onTerm);
	});
}

/**
 * For servers: resolves with the first SIGINT/SIGTERM, after which the process ends within
 * `deadlineMs` whatever close() leaves pending (sends stuck behind a full kernel buffer, say), and a
 * second signal ends it at once (issue 7: exit within 2 s of SIGTERM in every case).
 */
export async function untilStopSignal(deadlineMs = STOP_DEADLINE_MS): Promise<string> {
	const signal = await untilSignal();
	setTimeout(() => process.exit(0), deadlineMs).unref();
	const now = (): never => process.exit(0);
	process.once("SIGINT", now);
	process.once("SIGTERM", now);
	return signal;
}

/** How long a server command may take to exit after SIGINT/SIGTERM. */
export const STOP_DEADLINE_MS = 1000;

/** The link-local address of interface `zone`; a usage error when it has none. */
export function linkLocalAddress(zone: string): string {
	const address = linkLocalAddressOf(zone);
	if (address === undefined) throw new UsageError(`interface "${zone}" has no IPv6 link-local address`);
	return address;
}
