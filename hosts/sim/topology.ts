/*
 * Mesh layouts from options. Nodes are named "n1".."nN" (the border router is "br"); radios are
 * neighbours when closer than the range. Link loss grows with distance, as a simple stand-in for a
 * path-loss model: `loss` at zero distance up to `edgeLoss` at the edge of range.
 */

import { SeededRandom } from "../xs/seeded-random.js";
import type { MeshSim } from "./mesh.js";

export type Topology =
	| { kind: "line"; nodes: number }
	| { kind: "grid"; rows: number; cols: number }
	| { kind: "tree"; depth: number; fanout: number }
	| { kind: "random"; nodes: number; width: number; height: number; range: number; seed: number };

export interface TopologyOptions {
	/** Loss of every link at distance 0 (default 0). */
	loss?: number;
	/** Loss at the edge of range (default: `loss`). */
	edgeLoss?: number;
	/** false: the nodes are pledges (link-local only, not forwarding); default true. */
	router?: boolean;
}

/** Builds a topology of routers around a border router named "br" (already added). Returns router names. */
export function buildTopology(sim: MeshSim, t: Topology, o: TopologyOptions = {}): string[] {
	const pos = new Map<string, [number, number]>([["br", [0, 0]]]);
	const names: string[] = [];
	const add = (x: number, y: number): void => {
		const name = `n${names.length + 1}`;
		sim.addMeshNode(name, { router: o.router ?? true });
		names.push(name);
		pos.set(name, [x, y]);
	};
	let range = 1.01;
	const pairs: [string, string][] = [];
	if (t.kind === "line") {
		for (let i = 1; i <= t.nodes; i++) add(i, 0);
	} else if (t.kind === "grid") {
		for (let r = 0; r < t.rows; r++) for (let c = 0; c < t.cols; c++) if (r + c > 0) add(c, r);
	} else if (t.kind === "tree") {
		// explicit parent-child radio links only (a tree of radio ranges)
		let level = ["br"];
		for (let d = 0; d < t.depth; d++) {
			const next: string[] = [];
			for (const p of level) {
				for (let k = 0; k < t.fanout; k++) {
					add(d + 1, next.length);
					const n = names[names.length - 1]!;
					pairs.push([p, n]);
					next.push(n);
				}
			}
			level = next;
		}
	} else {
		const r = new SeededRandom(t.seed);
		pos.set("br", [t.width / 2, t.height / 2]);
		for (let i = 0; i < t.nodes; i++) add(r.float() * t.width, r.float() * t.height);
		range = t.range;
	}
	const loss = o.loss ?? 0;
	const edge = o.edgeLoss ?? loss;
	if (t.kind === "tree") {
		for (const [a, b] of pairs) sim.link(a, b, { loss });
	} else {
		const all = ["br", ...names];
		for (let i = 0; i < all.length; i++) {
			for (let j = i + 1; j < all.length; j++) {
				const [ax, ay] = pos.get(all[i]!)!;
				const [bx, by] = pos.get(all[j]!)!;
				const d = Math.hypot(ax - bx, ay - by);
				if (d <= range) sim.link(all[i]!, all[j]!, { loss: loss + (edge - loss) * (d / range) });
			}
		}
	}
	return names;
}
