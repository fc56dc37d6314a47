/*
 * Where the scenario's nodes stand and which radios hear each other. The border router "br" is at
 * the origin; the other nodes follow in order of distance from it, so the first ones (the join
 * proxies already in the network) surround the border router and pledges fill the rings beyond:
 * - grid: a square grid, 4-neighbour radio range, rings of Manhattan distance (4, 8, 12... nodes);
 * - tree: radio links from parent to child only, the smallest fanout that fits in three levels;
 * - random: a random geometric graph, each node placed in range of one placed before (connected);
 * - star: one radio neighbourhood: the border router, one join proxy and every pledge.
 */

import { SeededRandom } from "../../hosts/xs/seeded-random.js";

export const TOPOLOGIES = Object.freeze(["grid", "tree", "random", "star"] as const);
export type TopologyKind = (typeof TOPOLOGIES)[number];

export interface Layout {
	/** x, y per node; index 0 is the border router. */
	positions: [number, number][];
	/** Undirected radio links by node index. */
	links: [number, number][];
}

/** A layout of `count` nodes besides the border router. */
export function layout(kind: TopologyKind, count: number, seed: number): Layout {
	if (kind === "grid") return grid(count);
	if (kind === "tree") return tree(count);
	if (kind === "star") return star(count);
	return random(count, seed);
}

function byRange(positions: [number, number][], range: number): [number, number][] {
	const links: [number, number][] = [];
	for (let i = 0; i < positions.length; i++) {
		for (let j = i + 1; j < positions.length; j++) {
			const [ax, ay] = positions[i]!;
			const [bx, by] = positions[j]!;
			if (Math.hypot(ax - bx, ay - by) <= range) links.push([i, j]);
		}
	}
	return links;
}

function grid(count: number): Layout {
	const positions: [number, number][] = [[0, 0]];
	// Ring d holds the 4d points at Manhattan distance d, walked counter-clockwise from (d, 0).
	for (let d = 1; positions.length <= count; d++) {
		for (let k = 0; k < 4 * d && positions.length <= count; k++) {
			const side = Math.floor(k / d);
			const s = k % d;
			const corners: [number, number][] = [[d, 0], [0, d], [-d, 0], [0, -d]];
			const [x0, y0] = corners[side]!;
			const [x1, y1] = corners[(side + 1) % 4]!;
			positions.push([x0 + ((x1 - x0) * s) / d, y0 + ((y1 - y0) * s) / d]);
		}
	}
	return { positions, links: byRange(positions, 1.01) };
}

function tree(count: number): Layout {
	let fanout = 1;
	while (fanout + fanout ** 2 + fanout ** 3 < count) fanout++;
	const positions: [number, number][] = [[0, 0]];
	const links: [number, number][] = [];
	let level = [0];
	for (let depth = 1; positions.length <= count; depth++) {
		const next: number[] = [];
		const width = level.length * fanout;
		for (const parent of level) {
			for (let k = 0; k < fanout && positions.length <= count; k++) {
				const i = positions.length;
				positions.push([depth, next.length - (width - 1) / 2]);
				links.push([parent, i]);
				next.push(i);
			}
		}
		level = next;
	}
	return { positions, links };
}

function random(count: number, seed: number): Layout {
	const rng = new SeededRandom(seed ^ 0x5eed);
	const range = 1;
	// Density of about six neighbours per node: a disk whose area grows with the node count.
	const radius = Math.max(1.5, Math.sqrt((count + 1) / 6) * range);
	const positions: [number, number][] = [[0, 0]];
	while (positions.length <= count) {
		const a = rng.float() * 2 * Math.PI;
		const r = radius * Math.sqrt(rng.float());
		const p: [number, number] = [r * Math.cos(a), r * Math.sin(a)];
		if (positions.some(([x, y]) => Math.hypot(x - p[0], y - p[1]) <= range)) positions.push(p);
	}
	positions.sort((p, q) => Math.hypot(...p) - Math.hypot(...q));
	return { positions, links: byRange(positions, range) };
}

function star(count: number): Layout {
	// One radio neighbourhood: border router, proxy and pledges all hear each other (no hidden terminal).
	const positions: [number, number][] = [[0, 0], [1, 0]];
	for (let i = 2; i <= count; i++) {
		const a = (2 * Math.PI * (i - 2)) / Math.max(1, count - 1);
		positions.push([1 + 0.45 * Math.cos(a), 0.45 * Math.sin(a)]);
	}
	const links: [number, number][] = [];
	for (let i = 0; i <= count; i++) for (let j = i + 1; j <= count; j++) links.push([i, j]);
	return { positions, links };
}
