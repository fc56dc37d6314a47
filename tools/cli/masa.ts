/* `cjp masa --config DIR/masa`: the manufacturer's voucher service over HTTPS with client certificates. */

import { createNodeHost, type LogLevel } from "../../hosts/node/index.js";
import { ConfigError, loadMasaConfig } from "../../src/pki/config.js";
import { startMasaFromConfig } from "../../src/masa/from-config.js";
import { REQUEST_VOUCHER_PATH } from "../../src/masa/https-server.js";
import { untilStopSignal, UsageError, type Command } from "./command.js";

const HELP = `Usage: cjp masa --config DIR/masa [options]

The MASA (RFC 8995 §5.5, cBRSKI): HTTPS POST ${REQUEST_VOUCHER_PATH} taking COSE-signed
Registrar voucher requests (application/voucher+cose) from Registrars that authenticate with a TLS
client certificate chaining to the configured anchors. It verifies the Registrar's signature
(id-kp-cmcRA), the pledge's signature on the embedded voucher request, serial, nonce and proximity,
applies its ownership policy (the serials it sold) and answers with a voucher pinning the
Registrar's domain CA. Every answer is written to the SQLite audit log first.

Options:
  --config PATH        masa/config.json or its folder (written by cjp pki init)
  --port N             override the configured port
  --log-level LEVEL    debug | info | warn | error (default info)

Stops on SIGINT/SIGTERM within 2 s. A bad configuration prints one line and exits 2.
`;

export const masaCommand: Command = {
	name: "masa",
	summary: "the MASA: vouchers over HTTPS with mutual TLS",
	help: HELP,
	options: { config: { type: "string" }, port: { type: "string" }, "log-level": { type: "string" } },
	async run(values) {
		const path = values["config"];
		if (typeof path !== "string") throw new UsageError("--config is required");
		const level = (values["log-level"] ?? "info") as LogLevel;
		if (!["debug", "info", "warn", "error"].includes(level)) throw new UsageError(`--log-level must be debug, info, warn or error`);
		let config;
		try {
			config = loadMasaConfig(path);
		} catch (e) {
			if (e instanceof ConfigError) throw new UsageError(e.message);
			throw e;
		}
		if (values["port"] !== undefined) {
			const port = Number(values["port"]);
			if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer in 0..65535`);
			config.listen.port = port;
		}
		const host = createNodeHost({ logLevel: level });
		const masa = await startMasaFromConfig(config, (l, m) => host.log(l, m));
		host.log("info", `masa: listening on https://[${config.listen.address}]:${masa.https.port}${REQUEST_VOUCHER_PATH}, ${config.serials.length} devices, audit log ${config.database}`);
		const signal = await untilStopSignal();
		host.log("info", `masa: ${signal}, stopping`);
		await masa.close();
		return 0;
	},
};
