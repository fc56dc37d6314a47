/*
 * Test hosts in Linux network namespaces joined by veth pairs: real interfaces with real fe80::
 * link-local addresses and multicast, isolated from every other network. Needs root (CI runs as root).
 */

import { execFileSync, spawn, type ChildProcess } from "node:child_process";

export interface VethLink {
	/** [namespace, interface, link-local address] for each end. */
	a: { ns: string; ifname: string; address: string };
	b: { ns: string; ifname: string; address: string };
}

function ip(...args: string[]): void {
	execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Why namespaces cannot be made here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
	const probe = `cjp-probe-${process.pid}`;
	try {
		ip("netns", "add", probe);
		ip("netns", "del", probe);
		return undefined;
	} catch (e) {
		return `network namespaces unavailable (${String((e as Error).message).split("\n")[0]})`;
	}
}

export class Namespaces {
	readonly #names: string[] = [];
	readonly #children: ChildProcess[] = [];
	readonly prefix: string;

	constructor(tag: string) {
		this.prefix = `cjp${process.pid % 100000}${tag}`;
	}

	add(name: string): string {
		const ns = `${this.prefix}-${name}`;
		ip("netns", "add", ns);
		this.#names.push(ns);
		ip("-n", ns, "link", "set", "lo", "up");
		return ns;
	}

	/** A veth pair between two namespaces, with fixed link-local addresses and no DAD delay. */
	link(nsA: string, ifA: string, addrA: string, nsB: string, ifB: string, addrB: string): VethLink {
		ip("link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB);
		for (const [ns, ifname, address] of [[nsA, ifA, addrA], [nsB, ifB, addrB]] as const) {
			ip("-n", ns, "link", "set", ifname, "addrgenmode", "none");
			ip("-n", ns, "link", "set", ifname, "up");
			ip("-n", ns, "addr", "add", `${address}/64`, "dev", ifname, "nodad");
		}
		return { a: { ns: nsA, ifname: ifA, address: addrA }, b: { ns: nsB, ifname: ifB, address: addrB } };
	}

	/**
	 * A bridge `name` in `ns` carrying link-local `address`: one link shared by many namespaces (each joins
	 * with linkToBridge), e.g. many pledges with addresses of their own in front of one join proxy. No
	 * forwarding delay, and no multicast snooping, so ff02::fd reaches every port without MLD queriers.
	 */
	bridge(ns: string, name: string, address: string): void {
		ip("-n", ns, "link", "add", name, "type", "bridge", "forward_delay", "0", "mcast_snooping", "0");
		ip("-n", ns, "link", "set", name, "addrgenmode", "none");
		ip("-n", ns, "link", "set", name, "up");
		ip("-n", ns, "addr", "add", `${address}/64`, "dev", name, "nodad");
	}

	/** A veth from `ifname` (link-local `address`) in `ns` to a new port `port` of `bridge` in `bridgeNs`. */
	linkToBridge(ns: string, ifname: string, address: string, bridgeNs: string, bridge: string, port: string): void {
		ip("link", "add", ifname, "netns", ns, "type", "veth", "peer", "name", port, "netns", bridgeNs);
		ip("-n", bridgeNs, "link", "set", port, "master", bridge);
		ip("-n", bridgeNs, "link", "set", port, "up");
		ip("-n", ns, "link", "set", ifname, "addrgenmode", "none");
		ip("-n", ns, "link", "set", ifname, "up");
		ip("-n", ns, "addr", "add", `${address}/64`, "dev", ifname, "nodad");
	}

	/** Adds an extra address (e.g. a routable `2001:db8:1::1/64`) to an interface, without DAD. */
	addAddress(ns: string, ifname: string, cidr: string): void {
		ip("-n", ns, "addr", "add", cidr, "dev", ifname, "nodad");
	}

	/** Adds a route inside `ns`: `ip route add DEST [via GATEWAY] [dev IF]`. */
	addRoute(ns: string, destination: string, options: { via?: string; dev?: string }): void {
		const args = ["-n", ns, "route", "add", destination];
		if (options.via !== undefined) args.push("via", options.via);
		if (options.dev !== undefined) args.push("dev", options.dev);
		ip(...args);
	}

	/** Sets a sysctl inside `ns`, e.g. `net.ipv6.conf.all.forwarding`, `1`. */
	sysctl(ns: string, key: string, value: string): void {
		execFileSync("ip", ["netns", "exec", ns, "sysctl", "-qw", `${key}=${value}`], { stdio: ["ignore", "ignore", "pipe"] });
	}

	/** Turns IPv6 forwarding on or off for every interface of `ns` (off in a new namespace). */
	setIpv6Forwarding(ns: string, on: boolean): void {
		this.sysctl(ns, "net.ipv6.conf.all.forwarding", on ? "1" : "0");
	}

	/** Starts `command` inside `ns` (extra environment variables in `options.env`); the process is killed by close(). */
	spawn(ns: string, command: string, args: string[], options: { env?: Record<string, string> } = {}): ChildProcess {
		const env = options.env === undefined ? process.env : { ...process.env, ...options.env };
		const child = spawn("ip", ["netns", "exec", ns, command, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
		this.#children.push(child);
		return child;
	}

	/** Runs `command` inside `ns` to completion. */
	run(ns: string, command: string, args: string[], timeoutMs = 30_000): { status: number | null; stdout: string; stderr: string } {
		try {
			const stdout = execFileSync("ip", ["netns", "exec", ns, command, ...args], { encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
			return { status: 0, stdout, stderr: "" };
		} catch (e) {
			const err = e as { status: number | null; stdout?: string; stderr?: string };
			return { status: err.status, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
		}
	}

	/** Idempotent: kills children, deletes the namespaces (which deletes their veths). */
	close(): void {
		for (const c of this.#children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
		for (const ns of this.#names.splice(0)) {
			try {
				ip("netns", "del", ns);
			} catch {
				/* already gone */
			}
		}
	}
}
