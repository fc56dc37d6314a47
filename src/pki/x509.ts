/* @peculiar/x509 with Node's WebCrypto as its provider: the one place Node-side PKI code imports it from. */

import "./reflect-metadata.js";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/* WebCrypto types under their DOM names (the project compiles without the DOM library). */
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type BufferSource = webcrypto.BufferSource;

export { x509, webcrypto };
