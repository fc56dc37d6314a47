/* Every suite that runs in both lanes (Node and XS). Add new suites here, once: one line per import and per entry (.gitattributes merges this file by union). */

import type { Suite } from "../lib/harness.js";
import aesCcm from "./aes-ccm.suite.js";
import coapCodec from "./coap-codec.suite.js";
import coapEndpoint from "./coap-endpoint.suite.js";
import coapLayers from "./coap-layers.suite.js";
import coapRouter from "./coap-router.suite.js";
import dtlsCoaps from "./dtls-coaps.suite.js";
import dtlsCrypto from "./dtls-crypto.suite.js";
import dtlsHandshake from "./dtls-handshake.suite.js";
import dtlsRecord from "./dtls-record.suite.js";
import joinProxy from "./joinproxy.suite.js";
import joinProxyHardening from "./joinproxy-hardening.suite.js";
import jpyHeader from "./jpy-header.suite.js";
import jpyMessage from "./jpy-message.suite.js";
import linkFormat from "./link-format.suite.js";
import x509 from "./x509.suite.js";
import dtlsFlow from "./dtls-flow.suite.js";
import sessionTable from "./session-table.suite.js";
import cbor from "./cbor.suite.js";
import cose from "./cose.suite.js";
import voucher from "./voucher.suite.js";
import est from "./est.suite.js";
import pledge from "./pledge.suite.js";
import tokenBucket from "./token-bucket.suite.js";
import sixlowpan from "./sixlowpan.suite.js";
import dtlsClientAuth from "./dtls-client-auth.suite.js";
import manualClock from "./manual-clock.suite.js";
import peer from "./peer.suite.js";

export const suites: Suite[] = [
	aesCcm,
	coapCodec,
	coapEndpoint,
	coapLayers,
	coapRouter,
	dtlsCoaps,
	dtlsCrypto,
	dtlsHandshake,
	dtlsRecord,
	joinProxy,
	joinProxyHardening,
	jpyHeader,
	jpyMessage,
	linkFormat,
	x509,
	dtlsFlow,
	sessionTable,
	cbor,
	cose,
	voucher,
	est,
	pledge,
	tokenBucket,
	sixlowpan,
	dtlsClientAuth,
	manualClock,
	peer,
];
