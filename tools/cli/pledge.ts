/* `cjp pledge`: the cBRSKI pledge (src/pledge) on the Node host, e.g. on a Linux box with an 802.15.4 interface. */

import { readFileSync } from "node:fs";
import { createNodeHost } from "../../hosts/node/index.js";
import { createNodeCrypto } from "../../hosts/node/crypto.js";
import type { UdpPeer } from "../../hosts/host.js";
import { createNobleCrypto } from "../../modules/crypto/noble-provider.js";
import { pemToDer } from "../../modules/util/base64.js";
import { parsePeer } from "../../modules/util/peer.js";
import { parseEcPrivateKey } from "../../modules/x509/private-key.js";
import { ConfigError, loadPledgeConfig, type PledgeConfig } from "../../src/pki/config.js";
import { Pledge, type PledgeOptions } from "../../src/pledge/pledge.js";
import { XsPledgeBridge, xsPledgeConfig } from "../xs-bridge/node-bridge.js";
import { intOption, linkLocalAddress, untilSignal, UsageError, type Command } from "./command.js";

const HELP = `Usage: cjp pledge --identity DIR/pledges/SERIAL --iface IFACE [options]

Onboards this host as a cBRSKI pledge: discovers join proxies on IFACE (GET
coap://[ff02::fd]/.well-known/core?brski-jp=*), gets a voucher from the Registrar through one
(DTLS 1.2 with the IDevID), validates it against the MASA trust anchor, enrolls for an LDevID
(EST-coaps) and stores it with the domain trust anchors. Prints one line per step.

Options:
  --identity DIR      the pledge folder made by 'cjp pki init' (its config.json)
  --iface IFACE       pledge interface to discover join proxies on (repeatable)
  --proxy ADDR        use this join-port instead of discovery, e.g. '[fe80::1%wpan0]:5684' (repeatable)
  --state-dir DIR     where the LDevID and trust anchors are stored (default: the config's "storage")
  --force             onboard again even when already enrolled
  --max-attempts N    attempts before giving up (default 16)
  --trusted-clock     this host's clock is right: check voucher and certificate times
  --crypto node|noble crypto provider (default node: node:crypto; noble: the XS one)
  --engine node|xs    where the pledge code runs (default node; xs: inside the XS engine of xsnap,
                      with the noble provider, its datagrams, timers and storage bridged to this host)
  --json              end with one JSON line: outcome, attempts, datagrams and bytes each way
  --log-level L       debug|info|warn|error on stderr (default warn)

Exit status: 0 enrolled (or already enrolled), 1 onboarding failed, 2 bad usage or configuration.
`;

/** "[fe80::1%wpan0]:5684" -> peer. */
function parseProxy(text: string): UdpPeer {
	const peer = parsePeer(text);
	if (peer === undefined) throw new UsageError(`--proxy must look like '[fe80::1%IFACE]:5684' (a link-local address with its interface), got "${text}"`);
	return peer;
}

function readDer(path: string, what: string): Uint8Array[] {
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch (e) {
		throw new ConfigError(`${path}: cannot read the ${what}: ${(e as Error).message}`);
	}
	const ders = pemToDer(text);
	if (ders.length === 0) throw new ConfigError(`${path}: no PEM block in the ${what}`);
	return ders;
}

/** The IDevID, its key, the MASA anchor and the voucher signer a `cjp pki init` pledge folder names. */
export function pledgeIdentity(config: PledgeConfig): Pick<PledgeOptions, "idevid" | "masaTrustAnchors" | "voucherSigners"> {
	let privateKey: Uint8Array;
	try {
		privateKey = parseEcPrivateKey(readDer(config.idevid.key, "IDevID key")[0]!);
	} catch (e) {
		if (e instanceof ConfigError) throw e;
		throw new ConfigError(`${config.idevid.key}: not a P-256 private key: ${(e as Error).message}`);
	}
	return {
		idevid: { certificates: readDer(config.idevid.cert, "IDevID"), privateKey },
		masaTrustAnchors: readDer(config.masaTrustAnchor, "MASA trust anchor"),
		voucherSigners: readDer(config.voucherSigner, "voucher signer"),
	};
}

export const pledgeCommand: Command = {
	name: "pledge",
	summary: "onboard this host as a cBRSKI pledge (IDevID in, LDevID out)",
	help: HELP,
	options: {
		identity: { type: "string" },
		iface: { type: "string", multiple: true },
		proxy: { type: "string", multiple: true },
		"state-dir": { type: "string" },
		force: { type: "boolean" },
		"max-attempts": { type: "string" },
		"trusted-clock": { type: "boolean" },
		crypto: { type: "string" },
		engine: { type: "string" },
		json: { type: "boolean" },
		"log-level": { type: "string" },
	},
	async run(values, positionals) {
		if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
		const identity = values["identity"] as string | undefined;
		if (identity === undefined) throw new UsageError("--identity DIR is required");
		const ifaces = (values["iface"] as string[] | undefined) ?? [];
		const proxies = ((values["proxy"] as string[] | undefined) ?? []).map(parseProxy);
		if (ifaces.length === 0 && proxies.length === 0) throw new UsageError("give --iface (discovery) or --proxy");
		for (const i of ifaces) linkLocalAddress(i); // the interface exists and has a link-local address
		const cryptoName = (values["crypto"] as string | undefined) ?? "node";
		if (cryptoName !== "node" && cryptoName !== "noble") throw new UsageError(`--crypto must be node or noble, got "${cryptoName}"`);
		const engine = (values["engine"] as string | undefined) ?? "node";
		if (engine !== "node" && engine !== "xs") throw new UsageError(`--engine must be node or xs, got "${engine}"`);
		if (engine === "xs" && values["crypto"] !== undefined) throw new UsageError("--crypto is for --engine node (XS always uses noble)");
		const logLevel = (values["log-level"] as string | undefined) ?? "warn";
		if (!["debug", "info", "warn", "error"].includes(logLevel)) throw new UsageError("--log-level must be debug, info, warn or error");
		const maxAttempts = intOption(values["max-attempts"], "max-attempts", 1, 1_000_000);
		const json = values["json"] === true;

		let config: PledgeConfig;
		let options: Omit<PledgeOptions, "host" | "crypto">;
		try {
			config = loadPledgeConfig(identity);
			options = {
				...pledgeIdentity(config),
				interfaces: ifaces,
				force: values["force"] === true,
				trustedClock: values["trusted-clock"] === true,
				...(proxies.length > 0 ? { proxies } : {}),
				...(maxAttempts !== undefined ? { maxAttempts } : {}),
			};
		} catch (e) {
			if (!(e instanceof ConfigError)) throw e;
			process.stderr.write(`cjp pledge: ${e.message}\n`);
			return 2;
		}
		const host = createNodeHost({ storageDir: (values["state-dir"] as string | undefined) ?? config.storage, logLevel: logLevel as "warn" });
		const onState = (state: string, detail: string): void => void process.stdout.write(`${state}${detail ? ": " + detail : ""}\n`);
		const report = (result: { outcome: string; error?: string }, ldevid: Uint8Array | undefined, cryptoName: string): number => {
			if (result.outcome === "failed") process.stderr.write(`cjp pledge: onboarding failed: ${result.error}\n`);
			if (json) process.stdout.write(JSON.stringify({ ...result, ldevidBytes: ldevid?.length ?? 0, crypto: cryptoName }) + "\n");
			return result.outcome === "failed" ? 1 : 0;
		};
		if (engine === "xs") {
			const bridge = await XsPledgeBridge.start({ backend: host, onState });
			void untilSignal().then(() => bridge.close());
			try {
				const { result, ldevid } = await bridge.run(xsPledgeConfig(options));
				return report(result, ldevid, "noble (XS)");
			} catch (e) {
				return report({ outcome: "failed", error: (e as Error).message }, undefined, "noble (XS)");
			} finally {
				await bridge.close();
			}
		}
		const crypto = cryptoName === "node" ? createNodeCrypto() : createNobleCrypto((b) => host.random(b));
		let pledge: Pledge;
		try {
			pledge = new Pledge({ ...options, host, crypto, onState });
		} catch (e) {
			process.stderr.write(`cjp pledge: ${config.file}: ${(e as Error).message}\n`);
			return 2;
		}
		void untilSignal().then(() => pledge.close());
		const { ldevid, ...result } = await pledge.run();
		return report(result, ldevid, crypto.name);
	},
};
