#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so no build step stands between a checkout and `cjp`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../tools/cli/cjp.ts");
process.exitCode = await main(process.argv.slice(2));
