/*
 * A device build of XS has no eval and no Function constructor. Runs `body` with both replaced by
 * functions that count their calls and throw, restores them, and returns how often they were
 * called (a body that swallows the throw is still caught by the count).
 */

type Body = () => void;

export function countCodeCompilation(body: Body): number {
	const g = globalThis as unknown as { Function: unknown; eval: unknown };
	const savedFunction = g.Function;
	const savedEval = g.eval;
	let calls = 0;
	// A plain function, so that `new Function(...)` reaches it rather than failing as "not a constructor".
	const refuse = function (): never {
		calls++;
		throw new EvalError("code compilation is disabled (as on a device build of XS)");
	};
	g.Function = refuse;
	g.eval = refuse;
	try {
		body();
	} finally {
		g.Function = savedFunction;
		g.eval = savedEval;
	}
	return calls;
}
