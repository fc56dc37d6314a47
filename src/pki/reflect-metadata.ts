/*
 * The three Reflect metadata functions tsyringe (a dependency of @peculiar/x509) calls at load time
 * and when resolving its services: getMetadata, getOwnMetadata, defineMetadata. @peculiar/x509
 * requires the host to provide them (its README, "Reflect Polyfill Required"); the `reflect-metadata`
 * package is not installed, and these three need no more than a WeakMap. Node only; import it before
 * @peculiar/x509 (src/pki/x509.ts does).
 */

type Key = unknown;
type Store = Map<Key, unknown>;

interface ReflectMetadata {
	getMetadata(key: Key, target: object, property?: string | symbol): unknown;
	getOwnMetadata(key: Key, target: object, property?: string | symbol): unknown;
	defineMetadata(key: Key, value: unknown, target: object, property?: string | symbol): void;
}

const reflect = Reflect as typeof Reflect & Partial<ReflectMetadata>;

if (typeof reflect.getMetadata !== "function") {
	const stores = new WeakMap<object, Map<string | symbol | undefined, Store>>();
	const own = (target: object, property: string | symbol | undefined, create: boolean): Store | undefined => {
		let byProperty = stores.get(target);
		if (byProperty === undefined) {
			if (!create) return undefined;
			byProperty = new Map();
			stores.set(target, byProperty);
		}
		let store = byProperty.get(property);
		if (store === undefined && create) {
			store = new Map();
			byProperty.set(property, store);
		}
		return store;
	};
	const functions: ReflectMetadata = {
		getOwnMetadata: (key, target, property) => own(target, property, false)?.get(key),
		getMetadata(key, target, property) {
			// Metadata is inherited along the prototype chain, as in the reflect-metadata proposal.
			for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) {
				const store = own(t, property, false);
				if (store?.has(key)) return store.get(key);
			}
			return undefined;
		},
		defineMetadata: (key, value, target, property) => void own(target, property, true)!.set(key, value),
	};
	Object.assign(Reflect, functions);
}
