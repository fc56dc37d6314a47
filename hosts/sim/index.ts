/*
 * hosts/sim: a discrete-event host for whole simulated networks (IEEE 802.15.4 + 6LoWPAN mesh,
 * border router, backbone) on one ManualClock. Every node's `host` is an ordinary Host, so the join
 * proxy, pledge and Registrar run on it unmodified.
 */

export { MeshSim, Backbone, defaultClassify } from "./mesh.js";
export type { MeshSimOptions, SimStats, TrafficCounters } from "./mesh.js";
export { SimNode, WPAN, ETH } from "./node.js";
export type { NodeCounters } from "./node.js";
export { buildTopology } from "./topology.js";
export type { Topology, TopologyOptions } from "./topology.js";
export { PcapWriter, LINKTYPE_IEEE802_15_4_WITHFCS } from "./pcap.js";
export { EventQueue } from "./event-queue.js";
export { chargedCrypto, deviceProfile, DEVICE_NAMES } from "./device-profile.js";
export type { DeviceProfile } from "./device-profile.js";
export type { MacSettings, RadioCounters } from "./radio.js";
export { macSettings, DEFAULT_MAC } from "./radio.js";
export { VerifyCache } from "./verify-cache.js";
