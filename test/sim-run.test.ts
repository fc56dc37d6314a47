/*
 * `cjp sim` end to end: a small default-like network (MASA, Registrar, border router, proxies in
 * both modes, pledges at 1-3 hops that become proxies) onboards every pledge; tshark dissects the
 * capture; the HTML report renders in headless Chromium without a console or page error; the same
 * seed gives the same JSON and the same capture bytes; usage mistakes exit 2; and a stateless run
 * through one proxy at 5 % frame loss onboards everyone (the 100- and 1,000-pledge runs are in the
 * bench: npm run bench -- --only sim).
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runScenario } from "../tools/sim/scenario.js";
import { unavailable } from "./node-lib/unavailable.js";
import { tsharkVersion } from "./node-lib/tshark.js";

const CJP = fileURLToPath(new URL("../bin/cjp.js", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const JOIN_PORT = 5684;

let dir: string;
interface Run {
	status: number | null;
	stdout: string;
	stderr: string;
	json: Record<string, any>;
	pcap: Buffer;
	report: string;
}
let first: Run;

function sim(out: string, ...args: string[]): Run {
	const r = spawnSync(process.execPath, [CJP, "sim", "--pledges", "8", "--seed", "3", "--json", "--out", out, ...args], { encoding: "utf8", timeout: 120_000 });
	const last = r.stdout.trim().split("\n").pop() ?? "";
	let json: Record<string, any> = {};
	try {
		json = JSON.parse(last);
	} catch {
		/* asserted below */
	}
	return { status: r.status, stdout: r.stdout, stderr: r.stderr, json, pcap: readFileSync(join(out, "mesh.pcap")), report: readFileSync(join(out, "report.html"), "utf8") };
}

before(() => {
	dir = mkdtempSync(join(tmpdir(), "cjp-sim-run-"));
	first = sim(join(dir, "a"));
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe("cjp sim", () => {
	it("a small mixed network onboards every pledge; the summary and the JSON give the per-mode figures", (t) => {
		assert.equal(first.status, 0, first.stderr + first.stdout);
		const j = first.json;
		assert.equal(j.onboarded, 8);
		assert.equal(j.failed, 0);
		for (const m of ["stateful", "stateless"]) {
			assert.ok(j[m].onboarded > 0, `${m}: some pledge enrolled through a ${m} proxy`);
			for (const k of ["framesPerOnboarding", "bytesOnAirPerOnboarding", "p50OnboardingSeconds", "p95OnboardingSeconds"]) assert.equal(typeof j[m][k], "number", `${m}.${k}`);
			assert.ok(j[m].bytesOnAirPerOnboarding > 5000, "an onboarding moves kilobytes: certificates, voucher, CSR, LDevID");
		}
		assert.match(first.stdout, /^mode +proxies +onboarded +p50 s +p95 s +frames\/onb\. +bytes\/onb\./m);
		assert.match(first.stdout, /^stateful +\d+ +\d+ /m);
		assert.match(first.stderr, /sim: 8\/8 onboarded, 0 failed/, "plain progress lines when not a terminal");
		t.diagnostic(`stateful ${j.stateful.framesPerOnboarding} frames / ${j.stateful.bytesOnAirPerOnboarding} B per onboarding; stateless ${j.stateless.framesPerOnboarding} / ${j.stateless.bytesOnAirPerOnboarding}`);
	});

	it("the same seed gives the same JSON and the same capture, byte for byte", () => {
		const again = sim(join(dir, "b"));
		assert.deepEqual(again.json, first.json);
		assert.ok(again.pcap.equals(first.pcap), "pcap bytes equal");
		assert.equal(again.report, first.report);
	});

	it("tshark dissects the capture as 802.15.4 + 6LoWPAN + IPv6 + UDP + DTLS without a malformed packet", (t) => {
		const version = tsharkVersion();
		if (unavailable(t, version === undefined ? "tshark is not installed" : undefined)) return;
		const file = join(dir, "a", "mesh.pcap");
		const tshark = (...args: string[]): string[] => execFileSync("tshark", ["-r", file, "-d", `udp.port==${JOIN_PORT},dtls`, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 28 }).trim().split("\n").filter((l) => l !== "");
		const protocols = tshark("-T", "fields", "-e", "frame.protocols");
		assert.ok(protocols.some((p) => /^wpan:6lowpan:ipv6:udp:dtls/.test(p)), "DTLS on the join-port");
		assert.ok(protocols.some((p) => /^wpan:6lowpan:ipv6:udp:coap/.test(p)), "CoAP discovery");
		assert.ok(protocols.every((p) => /^wpan(:|$)/.test(p)), "every frame is 802.15.4");
		assert.deepEqual(tshark("-Y", "wpan.fcs.bad || wpan.fcs_ok == 0"), [], "every FCS verifies");
		// tshark dissects DTLS per conversation: when a ServerHello datagram never made it onto the air
		// whole (a fragment lost for good purges the rest, RFC 4944), it reads the session as DTLS 1.0 and
		// the CertificateRequest's signature_algorithms as a length. Only that is tolerated, and checked.
		const errors = tshark("-Y", '_ws.malformed || _ws.expert.severity >= "error"', "-T", "fields", "-e", "frame.number", "-e", "udp.stream", "-e", "_ws.expert.message", "-E", "separator=|");
		const hellos = tshark("-Y", "dtls.handshake.type == 2", "-T", "fields", "-e", "frame.number", "-e", "udp.stream").map((l) => l.split("\t").map(Number));
		for (const e of errors) {
			const [frame, stream, message] = e.split("|");
			assert.match(message ?? "", /Vector length \d+ is too large/, e);
			assert.ok(!hellos.some(([f, s]) => s === Number(stream) && f! < Number(frame)), `frame ${frame}: an error in a session whose ServerHello tshark saw`);
		}
		t.diagnostic(`${version}: ${protocols.length} frames dissected, ${errors.length} CertificateRequest(s) read without their ServerHello`);
	});

	it("the HTML report renders in headless Chromium with no console or page error", async (t) => {
		if (unavailable(t, existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed`)) return;
		const { chromium } = await import("playwright-core");
		const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
		try {
			const page = await browser.newPage();
			const problems: string[] = [];
			const requests: string[] = [];
			page.on("console", (m) => {
				if (m.type() === "error") problems.push(`console: ${m.text()}`);
			});
			page.on("pageerror", (e) => problems.push(`page: ${e.message}`));
			page.on("request", (r) => requests.push(r.url()));
			await page.goto(`file://${join(dir, "a", "report.html")}`, { waitUntil: "load" });
			assert.deepEqual(problems, []);
			assert.deepEqual(requests.filter((u) => !u.startsWith("file:")), [], "self-contained: nothing fetched");
			assert.match(await page.title(), /8 of 8 pledges onboarded/);
			assert.equal(await page.locator('svg[aria-label="topology"] circle').count(), 8, "a circle per pledge");
			assert.ok((await page.locator('svg[aria-label="onboarding timeline"] rect').count()) >= 8, "timeline bars");
			const box = await page.locator('svg[aria-label="topology"]').boundingBox();
			assert.ok(box !== null && box.width > 50 && box.height > 50, "the topology is drawn");
		} finally {
			await browser.close();
		}
	});

	it("usage mistakes: one line and exit 2", () => {
		for (const args of [["--loss", "1.5"], ["--mode", "nat"], ["--pledges", "0"], ["--topology", "ring"], ["--bogus"], ["--device", "esp32"], ["extra"], ["--pcap", "x", "--no-pcap"]]) {
			const r = spawnSync(process.execPath, [CJP, "sim", ...args], { encoding: "utf8", timeout: 30_000 });
			assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
			assert.match(r.stderr, /^cjp sim: [^\n]+\nTry 'cjp sim --help'\.\n$/, args.join(" "));
			assert.equal(r.stdout, "");
		}
		const help = spawnSync(process.execPath, [CJP, "sim", "--help"], { encoding: "utf8" });
		assert.equal(help.status, 0);
		assert.match(help.stdout, /--pledges N/);
	});

	it("stateless, one proxy, 100 pledges, 5 % frame loss: every pledge onboards, and the channel does not collapse", async (t) => {
		const r = await runScenario({ pledges: 100, proxies: 1, mode: "stateless", topology: "star", loss: 0.05, seed: 2 });
		assert.equal(r.failed, 0, JSON.stringify(r.pledges.filter((p) => p.outcome !== "enrolled").map((p) => [p.name, p.lastError])));
		assert.equal(r.onboarded, 100);
		// With 1 s DTLS flight timers and the default MAC settings, retransmitted flights piled up on the
		// one channel: p95 was over 2,000 s and 2,000 frames went on air per onboarding.
		assert.ok(r.p95OnboardingSeconds! < 120, `p95 onboarding ${r.p95OnboardingSeconds} s`);
		assert.ok(r.modes.stateless.framesPerOnboarding! < 1000, `${r.modes.stateless.framesPerOnboarding} frames per onboarding`);
		assert.equal(r.modes.stateless.proxies, 1, "through one proxy");
		assert.ok(r.air.macRetransmissions > 0, "loss caused MAC retransmissions");
		t.diagnostic(`${r.modes.stateless.framesPerOnboarding} frames, ${r.modes.stateless.bytesOnAirPerOnboarding} B per onboarding; p50 ${r.p50OnboardingSeconds} s`);
	});
});
