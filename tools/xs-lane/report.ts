/* What the XS lane's entry (inside XS) reports for each suite to its runner (in Node). */

export interface SuiteResult {
	name: string;
	passed: number;
	failed: { test: string; error: string }[];
	ms: number;
	slowest: string;
}
