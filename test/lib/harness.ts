/*
 * One test definition format for both lanes: Node's test runner (test/suites.test.ts) and the XS
 * engine (tools/xs-lane). Suites must therefore use only ES2022 and what test/lib provides.
 */

export type TestBody = () => void | Promise<void>;

export interface TestCase {
	name: string;
	body: TestBody;
}

export interface Suite {
	name: string;
	tests: TestCase[];
}

export function suite(name: string, define: (test: (name: string, body: TestBody) => void) => void): Suite {
	const tests: TestCase[] = [];
	define((testName, body) => {
		tests.push({ name: testName, body });
	});
	return { name, tests };
}
