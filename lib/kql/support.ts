/** What the local engine implements, listed from the tables that implement it (for the README). */
import { AGGREGATES } from "./aggregates.js";
import { SUPPORTED_OPERATOR_KINDS } from "./engine.js";
import { SCALAR_FUNCTIONS } from "./scalar-functions.js";
import { EVALUATE_PLUGINS } from "./plugins.js";

/** Syntax kinds as users write them: `MvApplyOperator` -> `mv-apply`, `ProjectAwayOperator` -> `project-away`. */
const OPERATOR_WORDS: Record<string, string> = {
  FilterOperator: "where",
  SortOperator: "sort / order by",
  TakeOperator: "take / limit",
  CountOperator: "count",
  AsOperator: "as",
};

function operatorWord(kind: string): string {
  return (
    OPERATOR_WORDS[kind] ??
    kind
      .replace(/Operator$/, "")
      .replace(/([a-z])([A-Z])/g, "$1-$2")
      .toLowerCase()
  );
}

export function supportedKqlMarkdown(): string {
  const list = (items: string[]) => items.map((i) => `\`${i}\``).join(", ");
  const operators = [...SUPPORTED_OPERATOR_KINDS].map(operatorWord).sort();
  const functions = [...Object.keys(SCALAR_FUNCTIONS), "toscalar", "column_ifexists", "materialize", "table"].sort();
  return [
    `- Statements: \`let\` (scalars, tables, \`materialize()\`, user-defined functions with parameters), \`set\`, query parameters.`,
    `- Tabular operators: ${list(operators)}; \`evaluate\` plugins: ${list([...EVALUATE_PLUGINS].sort())}; \`datatable\`, \`range\`, \`print\`, \`union isfuzzy=true\`.`,
    `- Aggregates: ${list(Object.keys(AGGREGATES).sort())}.`,
    `- Scalar functions: ${list(functions)}.`,
    `- Regular expressions use RE2 semantics (linear time). Queries over 256 KB or nested deeper than 200 brackets are refused before parsing.`,
  ].join("\n");
}
