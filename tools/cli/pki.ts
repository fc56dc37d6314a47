/* `cjp pki init DIR`: the manufacturer, domain and pledge certificates and the config files of the other commands. */

import { DEFAULT_MASA_AUTHORITY, DEFAULT_PLEDGES, initPki } from "../../src/pki/init.js";
import { intOption, UsageError, type Command } from "./command.js";

const HELP = `Usage: cjp pki init DIR [options]

Creates a test PKI in DIR, all P-256/ES256 (layout and config schema: src/pki/config.ts):
  DIR/masa/            manufacturer (IDevID) CA, voucher CA and signer, HTTPS certificate, config.json (cjp masa --config)
  DIR/registrar/       domain CA, Registrar certificate (cmcRA, serverAuth, clientAuth), config.json
  DIR/pledges/SERIAL/  IDevID (serialNumber, MASA URL extension, no expiry), MASA trust anchor, config.json
Private keys are written with mode 0600.

Options:
  --pledges N          number of pledge identities (default ${DEFAULT_PLEDGES}: PLEDGE-0001 ...)
  --masa-url AUTHORITY MASA URL put in the IDevIDs (default ${DEFAULT_MASA_AUTHORITY}), e.g. masa.example:9443
  --force              replace the PKI in a DIR that is not empty
`;

export const pkiCommand: Command = {
	name: "pki",
	summary: "create the test PKI and config files (cjp pki init DIR)",
	help: HELP,
	options: {
		pledges: { type: "string" },
		"masa-url": { type: "string" },
		force: { type: "boolean" },
	},
	async run(values, positionals) {
		const [action, dir, extra] = positionals;
		if (action !== "init") throw new UsageError(action === undefined ? "an action is required: init" : `unknown action "${action}"`);
		if (dir === undefined) throw new UsageError("init needs a DIR");
		if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
		const pledges = intOption(values["pledges"], "pledges", 1, 9999);
		const masaUrl = values["masa-url"];
		let result;
		try {
			result = await initPki({
				dir,
				...(pledges !== undefined ? { pledges } : {}),
				...(typeof masaUrl === "string" ? { masaAuthority: masaUrl } : {}),
				force: values["force"] === true,
			});
		} catch (e) {
			if (e instanceof RangeError) throw new UsageError(e.message);
			throw e;
		}
		process.stdout.write(
			`pki: wrote ${result.dir}\n` +
				`  masa       ${result.masaConfig}\n` +
				`  registrar  ${result.registrarConfig}\n` +
				`  pledges    ${result.serials.join(" ")}\n`,
		);
		return 0;
	},
};
