/*
 * `cjp`: the one command-line entry point. Each role adds its subcommand here as it lands
 * (joinproxy, registrar, masa, pledge, pki, sim).
 */

import { coapCommand } from "./coap.js";
import { joinproxyCommand } from "./joinproxy.js";
import { jpyBridgeCommand } from "./jpy-bridge.js";
import { pkiCommand } from "./pki.js";
import { masaCommand } from "./masa.js";
import { pledgeCommand } from "./pledge.js";
import { registrarCommand } from "./registrar.js";
import { simCommand } from "./sim.js";
import { parse, UsageError, type Command } from "./command.js";

const commands: Command[] = [coapCommand, joinproxyCommand, jpyBridgeCommand, pkiCommand, masaCommand, registrarCommand, pledgeCommand, simCommand];

const HELP = `cjp: constrained Join Proxy, cBRSKI pledge, Registrar and MASA

Usage: cjp <command> [options]     (cjp <command> --help for its options)

Commands:
${commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join("\n")}
`;

export async function main(argv: string[]): Promise<number> {
	const [name, ...rest] = argv;
	if (name === undefined || name === "--help" || name === "-h" || name === "help") {
		process.stdout.write(HELP);
		return name === undefined ? 2 : 0;
	}
	const command = commands.find((c) => c.name === name);
	try {
		if (command === undefined) throw new UsageError(`unknown command "${name}"`);
		const { values, positionals, help } = parse(command, rest);
		if (help) {
			process.stdout.write(command.help);
			return 0;
		}
		return await command.run(values, positionals);
	} catch (e) {
		if (e instanceof UsageError) {
			process.stderr.write(`cjp${command ? " " + command.name : ""}: ${e.message}\nTry 'cjp ${command ? command.name + " " : ""}--help'.\n`);
			return 2;
		}
		process.stderr.write(`cjp${command ? " " + command.name : ""}: ${e instanceof Error ? e.message : String(e)}\n`);
		return 1;
	}
}
