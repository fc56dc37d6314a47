/* @peculiar/x509 with Node's WebCrypto as its provider: the one place Node-side PKI code imports it from. */

import "./reflect-metadata.js";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509, webcrypto };
