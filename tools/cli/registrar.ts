/* `cjp registrar --config DIR/registrar`: the cBRSKI Registrar (CoAPS and JPY, EST, MASA client, SQLite). */

import { networkInterfaces } from "node:os";
import { createNodeHost, type LogLevel } from "../../hosts/node/index.js";
import { ConfigError, loadRegistrarConfig } from "../../src/pki/config.js";
import { startNodeRegistrar } from "../../src/registrar/node-registrar.js";
import { untilStopSignal, UsageError, type Command } from "./command.js";

const HELP = `Usage: cjp registrar --config DIR/registrar [options]

The cBRSKI Registrar (draft-ietf-anima-constrained-voucher, RFC 8995, RFC 9148): one DTLS server
serving CoAPS on the configured port (stateful Join Proxies, pledges one hop away) and JPY on the
configured JPY port (stateless Join Proxies) at the same time. Pledges authenticate with an IDevID
chaining to an accepted manufacturer (expired IDevIDs accepted) or an LDevID from the domain CA.
Resources: /.well-known/brski/rv (voucher via the MASA named in the IDevID, HTTPS with mutual TLS),
/.well-known/brski/vs and /es (status telemetry), /.well-known/est/crts, /sen and /sren (LDevIDs
from the domain CA). Devices, voucher requests, vouchers, enrollments and an audit log are kept in
the configured SQLite database. Every refusal is logged with the pledge, the reason and the code.

Options:
  --config PATH            registrar/config.json or its folder (written by cjp pki init)
  --discovery-iface IFACE  answer rt=brski and rt=brski.rjp discovery at ff05::fd on IFACE,
                           advertising IFACE's first global IPv6 address
  --log-level LEVEL        debug | info | warn | error (default info)

Stops on SIGINT/SIGTERM within 2 s. A bad configuration prints one line and exits 2.
`;

/** The first non-link-local IPv6 address of `iface` (what a Join Proxy beyond the link can reach). */
function globalAddressOf(iface: string): string {
	const list = networkInterfaces()[iface];
	if (list === undefined) throw new UsageError(`no interface "${iface}"`);
	const a = list.find((i) => i.family === "IPv6" && !i.address.toLowerCase().startsWith("fe80:") && i.address !== "::1");
	if (a === undefined) throw new UsageError(`interface "${iface}" has no routable IPv6 address to advertise`);
	return a.address;
}

export const registrarCommand: Command = {
	name: "registrar",
	summary: "the cBRSKI Registrar: CoAPS + JPY, vouchers via the MASA, EST enrollment",
	help: HELP,
	options: { config: { type: "string" }, "discovery-iface": { type: "string" }, "log-level": { type: "string" } },
	async run(values, positionals) {
		if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
		const path = values["config"];
		if (typeof path !== "string") throw new UsageError("--config is required");
		const level = (values["log-level"] ?? "info") as LogLevel;
		if (!["debug", "info", "warn", "error"].includes(level)) throw new UsageError("--log-level must be debug, info, warn or error");
		let config;
		try {
			config = loadRegistrarConfig(path);
		} catch (e) {
			if (e instanceof ConfigError) throw new UsageError(e.message);
			throw e;
		}
		const iface = values["discovery-iface"];
		const discovery = typeof iface === "string" ? { zone: iface, address: globalAddressOf(iface) } : undefined;
		const host = createNodeHost({ logLevel: level });
		let running;
		try {
			running = await startNodeRegistrar(config, host, discovery !== undefined ? { discovery } : {});
		} catch (e) {
			// Unreadable certificates or keys named by a well-formed configuration are configuration errors too.
			if (e instanceof Error && /ENOENT|EACCES|PEM|certificate|key/i.test(e.message)) throw new UsageError(`${config.file}: ${e.message}`);
			throw e;
		}
		host.log("info", `registrar: database ${config.database}, ${config.manufacturers.length} manufacturer(s)`);
		const signal = await untilStopSignal();
		host.log("info", `registrar: ${signal}, stopping`);
		running.close();
		return 0;
	},
};
