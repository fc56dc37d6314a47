/*
 * A binary min-heap under a caller's strict order, for the virtual-time queues of the test lane and
 * the simulator (ManualClock's armed timers, the mesh's event queue). An item may be told where it
 * sits (`placed`), so the owner can remove or reorder it in logarithmic time. With a total order the
 * pop order is fully determined, which keeps seeded runs identical.
 */

export class BinaryHeap<T> {
	readonly #items: T[] = [];
	readonly #before: (a: T, b: T) => boolean;
	readonly #placed: ((item: T, index: number) => void) | undefined;

	constructor(before: (a: T, b: T) => boolean, placed?: (item: T, index: number) => void) {
		this.#before = before;
		this.#placed = placed;
	}

	get size(): number {
		return this.#items.length;
	}

	peek(): T | undefined {
		return this.#items[0];
	}

	push(item: T): void {
		this.#items.push(item);
		this.#up(this.#items.length - 1);
	}

	pop(): T | undefined {
		const top = this.#items[0];
		if (top !== undefined) this.removeAt(0);
		return top;
	}

	/** Removes the item at `index` (as last reported through `placed`). */
	removeAt(index: number): void {
		const h = this.#items;
		const last = h.pop()!;
		if (index === h.length) return;
		h[index] = last;
		this.#down(this.#up(index));
	}

	/** Restores the order after the item at `index` changed its key. */
	reorder(index: number): void {
		this.#down(this.#up(index));
	}

	#set(i: number, item: T): void {
		this.#items[i] = item;
		this.#placed?.(item, i);
	}

	/** Sifts the item at `i` up; returns where it settled (a sift down from there finds it in order). */
	#up(i: number): number {
		const h = this.#items;
		const t = h[i]!;
		while (i > 0) {
			const p = (i - 1) >> 1;
			const parent = h[p]!;
			if (!this.#before(t, parent)) break;
			this.#set(i, parent);
			i = p;
		}
		this.#set(i, t);
		return i;
	}

	#down(i: number): void {
		const h = this.#items;
		const t = h[i]!;
		const n = h.length;
		for (;;) {
			const l = 2 * i + 1;
			if (l >= n) break;
			const r = l + 1;
			const c = r < n && this.#before(h[r]!, h[l]!) ? r : l;
			const child = h[c]!;
			if (!this.#before(child, t)) break;
			this.#set(i, child);
			i = c;
		}
		this.#set(i, t);
	}
}
