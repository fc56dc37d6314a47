/*
 * What a scenario run tells: the summary table per relay mode (terminal), one JSON object (--json),
 * and a self-contained HTML report (inline SVG and CSS, no script, no fetch): the topology, an
 * onboarding timeline per pledge, and the figures.
 */

import type { PledgeState } from "../../src/pledge/pledge.js";
import { RELAY_MODES, type ScenarioResult } from "./scenario.js";

const fmt = (x: number | null, digits = 1): string => (x === null ? "-" : x.toFixed(digits));

/** The per-mode table and a line of totals. */
export function summaryTable(r: ScenarioResult): string {
	const rows: string[][] = [["mode", "proxies", "onboarded", "p50 s", "p95 s", "frames/onb.", "bytes/onb.", "airtime ms/onb.", "MAC retx", "peak slots", "drops"]];
	for (const m of RELAY_MODES) {
		const f = r.modes[m];
		rows.push([m, String(f.proxies), String(f.onboarded), fmt(f.p50OnboardingSeconds), fmt(f.p95OnboardingSeconds), fmt(f.framesPerOnboarding), fmt(f.bytesOnAirPerOnboarding, 0), fmt(f.airtimeMsPerOnboarding), String(f.retransmissions), m === "stateful" ? `${f.peakSlotsInUse}/${f.slotCapacity}` : "-", String(f.drops)]);
	}
	const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
	const line = (row: string[]): string => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
	const o = r.options;
	return [
		line(rows[0]!),
		...rows.slice(1).map(line),
		"",
		`onboarded ${r.onboarded} of ${o.pledges}, failed ${r.failed}; median ${fmt(r.p50OnboardingSeconds)} s, p95 ${fmt(r.p95OnboardingSeconds)} s from power-on (simulated); ${fmt(r.simulatedSeconds)} s simulated in all`,
		`on air: ${r.air.frames} frames, ${r.air.bytes} bytes, ${fmt(r.air.airtimeMs / 1000)} s airtime, ${r.air.macRetransmissions} MAC retransmissions, ${r.air.collisions} collisions; backbone ${r.backbone.packets} packets`,
		"",
	].join("\n");
}

/** The --json object: the run's options and figures (not the per-pledge detail, which the HTML has). */
export function jsonSummary(r: ScenarioResult): Record<string, unknown> {
	return {
		options: r.options,
		onboarded: r.onboarded,
		failed: r.failed,
		simulatedSeconds: r.simulatedSeconds,
		p50OnboardingSeconds: r.p50OnboardingSeconds,
		p95OnboardingSeconds: r.p95OnboardingSeconds,
		stateful: r.modes.stateful,
		stateless: r.modes.stateless,
		air: r.air,
		backbone: r.backbone,
		classes: r.classes,
	};
}

function esc(s: string): string {
	return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const MODE_COLOUR: Record<string, string> = { stateful: "#1f77b4", stateless: "#d62728" };
const STATE_COLOUR: Record<PledgeState, string> = {
	idle: "#ddd",
	discovering: "#bbb",
	"backing-off": "#eee",
	connecting: "#9ecae1",
	"requesting-voucher": "#fdae6b",
	"validating-voucher": "#fd8d3c",
	"voucher-status": "#e6550d",
	"fetching-ca-certs": "#a1d99b",
	enrolling: "#74c476",
	storing: "#31a354",
	"enroll-status": "#006d2c",
	enrolled: "#006d2c",
	failed: "#000",
};

function topologySvg(r: ScenarioResult): string {
	const xs = r.nodes.map((n) => n.x);
	const ys = r.nodes.map((n) => n.y);
	const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
	const scale = Math.min(60, 640 / Math.max(1, maxX - minX), 640 / Math.max(1, maxY - minY));
	const px = (x: number): number => 30 + (x - minX) * scale;
	const py = (y: number): number => 30 + (y - minY) * scale;
	const byName = new Map(r.nodes.map((n) => [n.name, n]));
	const w = px(maxX) + 30;
	const h = py(maxY) + 30;
	const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w.toFixed(0)}" height="${h.toFixed(0)}" role="img" aria-label="topology">`];
	for (const [a, b] of r.links) {
		const p = byName.get(a)!;
		const q = byName.get(b)!;
		parts.push(`<line x1="${px(p.x).toFixed(1)}" y1="${py(p.y).toFixed(1)}" x2="${px(q.x).toFixed(1)}" y2="${py(q.y).toFixed(1)}" stroke="#ccc"/>`);
	}
	const outcome = new Map(r.pledges.map((p) => [p.name, p]));
	const radius = Math.max(3, Math.min(9, scale / 5));
	for (const n of r.nodes) {
		const p = outcome.get(n.name);
		const fill = n.role === "border-router" ? "#333" : n.mode !== undefined ? MODE_COLOUR[n.mode]! : p?.outcome === "enrolled" ? "#2ca02c" : "#fff";
		const shape = n.role === "pledge" ? `<circle cx="${px(n.x).toFixed(1)}" cy="${py(n.y).toFixed(1)}" r="${radius}"` : `<rect x="${(px(n.x) - radius).toFixed(1)}" y="${(py(n.y) - radius).toFixed(1)}" width="${2 * radius}" height="${2 * radius}"`;
		const title = `${n.name}: ${n.role}, ${n.hops} hop(s)${n.mode ? `, ${n.mode} join proxy` : ""}${p ? `, ${p.outcome}${p.durationMs !== undefined ? ` after ${(p.durationMs / 1000).toFixed(1)} s` : ""}` : ""}`;
		parts.push(`${shape} fill="${fill}" stroke="${p?.outcome === "failed" ? "#000" : "#555"}"><title>${esc(title)}</title></${n.role === "pledge" ? "circle" : "rect"}>`);
	}
	parts.push("</svg>");
	return parts.join("");
}

function timelineSvg(r: ScenarioResult): string {
	const rowH = 14;
	const left = 110;
	const width = 760;
	const end = Math.max(1, ...r.pledges.map((p) => p.powerOnMs + (p.durationMs ?? r.simulatedSeconds * 1000 - p.powerOnMs)));
	const x = (ms: number): number => left + (ms / end) * (width - left - 10);
	const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${r.pledges.length * rowH + 30}" role="img" aria-label="onboarding timeline">`];
	r.pledges.forEach((p, i) => {
		const y = 5 + i * rowH;
		parts.push(`<text x="2" y="${y + 10}" font-size="10">${esc(`${p.name} (${p.hops} hop${p.hops === 1 ? "" : "s"})`)}</text>`);
		const stop = p.durationMs ?? r.simulatedSeconds * 1000 - p.powerOnMs;
		p.timeline.forEach((s, k) => {
			const to = k + 1 < p.timeline.length ? p.timeline[k + 1]!.atMs : stop;
			if (s.state === "enrolled" || to <= s.atMs) return;
			parts.push(`<rect x="${x(p.powerOnMs + s.atMs).toFixed(1)}" y="${y}" width="${Math.max(0.5, x(p.powerOnMs + to) - x(p.powerOnMs + s.atMs)).toFixed(1)}" height="${rowH - 3}" fill="${STATE_COLOUR[s.state]}"><title>${esc(`${p.name} ${s.state} at ${((p.powerOnMs + s.atMs) / 1000).toFixed(2)} s`)}</title></rect>`);
		});
		if (p.outcome === "enrolled") parts.push(`<circle cx="${x(p.powerOnMs + stop).toFixed(1)}" cy="${y + (rowH - 3) / 2}" r="3" fill="${MODE_COLOUR[p.mode ?? ""] ?? "#2ca02c"}"><title>${esc(`${p.name} enrolled through a ${p.mode ?? "?"} proxy after ${(stop / 1000).toFixed(1)} s`)}</title></circle>`);
	});
	const axisY = r.pledges.length * rowH + 20;
	for (let k = 0; k <= 5; k++) parts.push(`<text x="${x((end * k) / 5).toFixed(1)}" y="${axisY}" font-size="10" text-anchor="middle">${((end * k) / 5000).toFixed(0)} s</text>`);
	parts.push("</svg>");
	return parts.join("");
}

export function htmlReport(r: ScenarioResult): string {
	const o = r.options;
	const legend = (Object.keys(STATE_COLOUR) as PledgeState[])
		.filter((s) => s !== "idle" && s !== "enrolled")
		.map((s) => `<span class="key" style="background:${STATE_COLOUR[s]}"></span>${esc(s)}`)
		.join(" ");
	const modeRows = RELAY_MODES.map((m) => {
		const f = r.modes[m];
		const cells = [m, f.proxies, f.onboarded, fmt(f.p50OnboardingSeconds), fmt(f.p95OnboardingSeconds), fmt(f.framesPerOnboarding), fmt(f.bytesOnAirPerOnboarding, 0), fmt(f.airtimeMsPerOnboarding), f.retransmissions, m === "stateful" ? `${f.peakSlotsInUse}/${f.slotCapacity}` : "-", f.drops];
		return `<tr>${cells.map((c) => `<td>${esc(String(c))}</td>`).join("")}</tr>`;
	}).join("");
	const classRows = Object.entries(r.classes)
		.map(([k, c]) => `<tr><td>${esc(k)}</td><td>${c.datagrams}</td><td>${c.frames}</td><td>${c.bytes}</td><td>${(c.airtimeUs / 1000).toFixed(1)}</td><td>${c.retransmissions}</td></tr>`)
		.join("");
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cjp sim: ${r.onboarded} of ${o.pledges} pledges onboarded</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.key{display:inline-block;width:10px;height:10px;margin:0 3px 0 10px;border:1px solid #999}
</style></head><body>
<h1>Simulated onboarding: ${r.onboarded} of ${o.pledges} pledges, ${r.failed} failed</h1>
<p>${esc(`${o.topology} topology, ${o.proxies} join proxies at the start (the border router included), mode ${o.mode}, frame loss ${(o.loss * 100).toFixed(1)} % per link, seed ${o.seed}, device ${o.device}; ${r.simulatedSeconds.toFixed(1)} s simulated. Onboarding time runs from a pledge's power-on to its LDevID stored and the success status acknowledged.`)}</p>
<h2>Figures per relay mode</h2>
<table><tr><th>mode</th><th>proxies</th><th>onboarded</th><th>p50 s</th><th>p95 s</th><th>frames / onboarding</th><th>bytes on air / onboarding</th><th>airtime ms / onboarding</th><th>MAC retransmissions</th><th>peak slots</th><th>drops</th></tr>${modeRows}</table>
<p>Frames and bytes count every 802.15.4 frame of a mode's pledge-proxy (join) and proxy-Registrar (relay) legs on every radio hop: MAC header, payload and FCS, acknowledgements and retransmissions included.</p>
<h2>Traffic by class</h2>
<table><tr><th>class</th><th>datagrams (per hop)</th><th>frames</th><th>bytes</th><th>airtime ms</th><th>MAC retransmissions</th></tr>${classRows}</table>
<h2>Topology</h2>
<p>Squares: border router (black) and join proxies (blue stateful, red stateless; pledges that enrolled and became proxies included); circles: pledges (green: enrolled, not a proxy).</p>
${topologySvg(r)}
<h2>Onboarding timeline</h2>
<p>${legend}; dot: enrolled (colour of the proxy's mode).</p>
${timelineSvg(r)}
</body></html>
`;
}
