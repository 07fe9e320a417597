/** How a scalar function is called and the helpers that build one from a per-row implementation. */
import type { Compiled, CompileContext, Evaluator } from "./context.js";
import type { SyntaxNode } from "./kusto.js";
import type { KqlType, Value } from "./types.js";

export interface CallSite {
  args: Compiled[];
  argNodes: SyntaxNode[];
  ctx: CompileContext;
  node: SyntaxNode;
  resultType: KqlType;
}

export type ScalarFunction = (call: CallSite) => Compiled;

export function allConstant(args: Compiled[]): boolean {
  return args.every((a) => a.constant);
}

/**
 * Builds a function from a per-row implementation over the argument values. Each call site owns
 * one scratch array for its argument values, so the hot path allocates nothing; implementations
 * read it and never keep or return it.
 */
export function rowwise(
  impl: (values: Value[], call: CallSite) => Value,
  options: { type?: KqlType; /** A new value on every row (rand, new_guid): never folded into a constant. */ perRow?: boolean } = {},
): ScalarFunction {
  return (call) => {
    const fns = call.args.map((a) => a.fn);
    const type = options.type ?? call.resultType;
    const scratch: Value[] = new Array<Value>(fns.length);
    let fn: Evaluator;
    switch (fns.length) {
      case 0:
        fn = () => impl(scratch, call);
        break;
      case 1: {
        const [f0] = fns;
        fn = (row) => {
          scratch[0] = f0(row);
          return impl(scratch, call);
        };
        break;
      }
      case 2: {
        const [f0, f1] = fns;
        fn = (row) => {
          const v0 = f0(row);
          scratch[1] = f1(row);
          scratch[0] = v0;
          return impl(scratch, call);
        };
        break;
      }
      default:
        fn = (row) => {
          const values = fns.map((f) => f(row));
          return impl(values, call);
        };
    }
    const argsConstant = allConstant(call.args);
    return { fn, type, constant: !options.perRow && argsConstant, ...(options.perRow && argsConstant ? { rowFree: true } : {}) };
  };
}

/** A one-argument function with no allocation at all, for the predicates filters call per row. */
export function unary(impl: (value: Value) => Value, type: KqlType): ScalarFunction {
  return (call) => {
    const f = call.args[0].fn;
    return { fn: (row) => impl(f(row)), type, constant: call.args[0].constant };
  };
}
