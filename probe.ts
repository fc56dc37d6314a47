import { measureOnboarding } from "./tools/bench/onboarding.ts";
const t = Date.now();
const r = await measureOnboarding("stateful", 1);
console.log(JSON.stringify({ ...r, outcome: r.outcome.result.outcome, ms: Date.now() - t }, null, 1));
