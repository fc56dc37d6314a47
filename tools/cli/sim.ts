/* `cjp sim`: a whole network onboarding on the desktop (tools/sim), with a progress bar, a summary, a pcap and an HTML report. */

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DEVICE_NAMES, deviceProfile } from "../../hosts/sim/index.js";
import { TOPOLOGIES, type TopologyKind } from "../sim/layout.js";
import { htmlReport, jsonSummary, summaryTable } from "../sim/report.js";
import { LOWPAN_MAC, MODES, runScenario, type Progress, type ScenarioMode } from "../sim/scenario.js";
import { intOption, UsageError, type Command } from "./command.js";

export const SIM_DEFAULTS = Object.freeze({ pledges: 20, proxies: 3, mode: "mixed" as ScenarioMode, topology: "grid" as TopologyKind, loss: 0, seed: 1, out: "sim-out" });

const HELP = `Usage: cjp sim [options]

Simulates a whole 802.15.4/6LoWPAN mesh onboarding on a virtual clock: the MASA, the Registrar on
the backbone, a border router (the first join proxy), more join proxies, and pledges at 1-3 hops
that discover a proxy, onboard (voucher, EST enrollment) and then become join proxies for their
neighbours, so the network grows ring by ring. The same seed gives the same run, byte for byte.

Options:
  --pledges N        pledges (default ${SIM_DEFAULTS.pledges})
  --proxies N        join proxies at the start, the border router included (default ${SIM_DEFAULTS.proxies})
  --mode M           ${MODES.join("|")}: the join proxies' relay mode; mixed alternates (default ${SIM_DEFAULTS.mode})
  --topology T       ${TOPOLOGIES.join("|")} (default ${SIM_DEFAULTS.topology}); star: every pledge next to one proxy
  --loss P           frame loss probability per radio link, 0 <= P < 1 (default ${SIM_DEFAULTS.loss})
  --seed S           seed of every random choice (default ${SIM_DEFAULTS.seed})
  --mac-retries N    macMaxFrameRetries of every radio, 0..7 (default ${LOWPAN_MAC.maxFrameRetries})
  --device D         ${DEVICE_NAMES.join("|")}: charge the pledges' crypto to simulated CPU time (default none);
                     figures that are not published must be given:
  --ecdsa-sign-ms X, --ecdsa-verify-ms X, --ecdh-ms X, --aes-block-us X
  --out DIR          where the default pcap and report go (default ./${SIM_DEFAULTS.out})
  --pcap FILE        capture of the air, 802.15.4 with FCS (default DIR/mesh.pcap); --no-pcap: none
  --report FILE      HTML report: topology, timeline per pledge, figures (default DIR/report.html); --no-report: none
  --json             print one JSON object of the figures last
  --quiet            no progress

Open the capture with: tshark -r FILE -d udp.port==5684,dtls
`;

function numberOption(value: unknown, name: string, min: number, maxExclusive: number): number | undefined {
	if (value === undefined) return undefined;
	const n = Number(value);
	if (typeof value !== "string" || value.trim() === "" || !Number.isFinite(n) || n < min || n >= maxExclusive) throw new UsageError(`--${name} must be a number in [${min}, ${maxExclusive}), got "${String(value)}"`);
	return n;
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T | undefined {
	if (value === undefined) return undefined;
	if (!allowed.includes(value as T)) throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, got "${String(value)}"`);
	return value as T;
}

/** A progress bar on a terminal, plain lines (each tenth of the pledges) otherwise. */
function progressPrinter(quiet: boolean): { update(p: Progress): void; done(): void } {
	const tty = process.stderr.isTTY === true;
	let lastShown = -1;
	let lastDraw = 0;
	return {
		update(p) {
			if (quiet) return;
			const finished = p.onboarded + p.failed;
			if (tty) {
				const now = Date.now();
				if (now - lastDraw < 100 && finished !== p.total) return;
				lastDraw = now;
				const width = 30;
				const full = Math.round((finished / p.total) * width);
				process.stderr.write(`\r[${"#".repeat(full)}${".".repeat(width - full)}] ${p.onboarded}/${p.total} onboarded, ${p.failed} failed, ${p.simSeconds.toFixed(0)} s simulated `);
				return;
			}
			const step = Math.floor((finished * 10) / p.total);
			if (step === lastShown) return;
			lastShown = step;
			process.stderr.write(`sim: ${p.onboarded}/${p.total} onboarded, ${p.failed} failed, ${p.simSeconds.toFixed(0)} s simulated\n`);
		},
		done() {
			if (!quiet && tty) process.stderr.write("\n");
		},
	};
}

export const simCommand: Command = {
	name: "sim",
	summary: "simulate a mesh onboarding: progress, per-mode figures, pcap, HTML report",
	help: HELP,
	options: {
		pledges: { type: "string" },
		proxies: { type: "string" },
		mode: { type: "string" },
		topology: { type: "string" },
		loss: { type: "string" },
		seed: { type: "string" },
		"mac-retries": { type: "string" },
		device: { type: "string" },
		"ecdsa-sign-ms": { type: "string" },
		"ecdsa-verify-ms": { type: "string" },
		"ecdh-ms": { type: "string" },
		"aes-block-us": { type: "string" },
		out: { type: "string" },
		pcap: { type: "string" },
		"no-pcap": { type: "boolean" },
		report: { type: "string" },
		"no-report": { type: "boolean" },
		json: { type: "boolean" },
		quiet: { type: "boolean" },
	},
	async run(values, positionals) {
		if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
		const pledges = intOption(values["pledges"], "pledges", 1, 100_000) ?? SIM_DEFAULTS.pledges;
		const proxies = intOption(values["proxies"], "proxies", 1, 1000) ?? SIM_DEFAULTS.proxies;
		const seed = intOption(values["seed"], "seed", 0, 0xffffffff) ?? SIM_DEFAULTS.seed;
		const mode = oneOf(values["mode"], "mode", MODES) ?? SIM_DEFAULTS.mode;
		const topology = oneOf(values["topology"], "topology", TOPOLOGIES) ?? SIM_DEFAULTS.topology;
		const loss = numberOption(values["loss"], "loss", 0, 1) ?? SIM_DEFAULTS.loss;
		const macRetries = intOption(values["mac-retries"], "mac-retries", 0, 7);
		const deviceName = oneOf(values["device"], "device", DEVICE_NAMES) ?? "none";
		const figures = {
			...(values["ecdsa-sign-ms"] !== undefined ? { ecdsaSignMs: numberOption(values["ecdsa-sign-ms"], "ecdsa-sign-ms", 0, 1e6)! } : {}),
			...(values["ecdsa-verify-ms"] !== undefined ? { ecdsaVerifyMs: numberOption(values["ecdsa-verify-ms"], "ecdsa-verify-ms", 0, 1e6)! } : {}),
			...(values["ecdh-ms"] !== undefined ? { ecdhMs: numberOption(values["ecdh-ms"], "ecdh-ms", 0, 1e6)! } : {}),
			...(values["aes-block-us"] !== undefined ? { aesBlockUs: numberOption(values["aes-block-us"], "aes-block-us", 0, 1e6)! } : {}),
		};
		let device;
		try {
			device = deviceProfile(deviceName, figures);
		} catch (e) {
			throw new UsageError((e as Error).message);
		}
		if (typeof values["pcap"] === "string" && values["no-pcap"] === true) throw new UsageError("--pcap and --no-pcap together");
		if (typeof values["report"] === "string" && values["no-report"] === true) throw new UsageError("--report and --no-report together");
		const out = typeof values["out"] === "string" ? values["out"] : SIM_DEFAULTS.out;
		const pcapFile = values["no-pcap"] === true ? undefined : typeof values["pcap"] === "string" ? values["pcap"] : join(out, "mesh.pcap");
		const reportFile = values["no-report"] === true ? undefined : typeof values["report"] === "string" ? values["report"] : join(out, "report.html");
		const json = values["json"] === true;
		const progress = progressPrinter(values["quiet"] === true);

		const started = process.hrtime.bigint();
		const r = await runScenario({ pledges, proxies, mode, topology, loss, seed, ...(macRetries !== undefined ? { mac: { maxFrameRetries: macRetries } } : {}), ...(device !== undefined ? { device } : {}), pcap: pcapFile !== undefined, onProgress: (p) => progress.update(p) });
		progress.done();
		const wall = Number(process.hrtime.bigint() - started) / 1e9;
		const write = (file: string, data: string | Uint8Array): void => {
			mkdirSync(dirname(file), { recursive: true });
			writeFileSync(file, data);
		};
		if (pcapFile !== undefined) write(pcapFile, r.pcap!);
		if (reportFile !== undefined) write(reportFile, htmlReport(r));
		process.stdout.write(summaryTable(r));
		process.stdout.write(`wall time ${wall.toFixed(1)} s${pcapFile !== undefined ? `; pcap ${pcapFile}` : ""}${reportFile !== undefined ? `; report ${reportFile}` : ""}\n`);
		if (json) process.stdout.write(JSON.stringify(jsonSummary(r)) + "\n");
		return r.failed === 0 ? 0 : 1;
	},
};
