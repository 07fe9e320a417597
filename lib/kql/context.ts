import type { AnalyzedQuery, SyntaxNode } from "./kusto.js";
import type { Column, KqlType, Row, Table, Value } from "./types.js";

export type Evaluator = (row: Row) => Value;

/** A compiled scalar expression: how to compute it from a row, its static type, and whether it is constant. */
export interface Compiled {
  fn: Evaluator;
  type: KqlType;
  constant: boolean;
  /** Reads no row but gives a new value each time (rand(), new_guid()): evaluated per row, never folded; toscalar() takes one. */
  rowFree?: boolean;
  /**
   * For functions that return several columns (series_fit_line, series_decompose_anomalies, ...):
   * the columns, in order; `fn` then returns an array with one value per column.
   */
  members?: readonly Column[];
}

/** Columns of a row that something reads: their positions, or all of them. */
export type ColumnReads = ReadonlySet<number> | "all";

/** The union of two sets of reads. */
export function bothReads(a: ColumnReads, b: ColumnReads): ColumnReads {
  if (a === "all" || b === "all") return "all";
  return a.size === 0 ? b : b.size === 0 ? a : new Set([...a, ...b]);
}

/**
 * The columns visible to an expression, with their positions in a row. It records what the
 * expressions compiled against it read (`reads`): a fused pass then copies only those columns
 * between stages (see runStages).
 */
export class Scope {
  private readonly positions = new Map<string, number>();
  private read: Set<number> | "all" = new Set();
  constructor(private readonly visible: readonly Column[]) {
    visible.forEach((column, index) => {
      if (!this.positions.has(column.name)) this.positions.set(column.name, index);
    });
  }
  /** Every column, for what reads them all (pack_all()). */
  get columns(): readonly Column[] {
    this.read = "all";
    return this.visible;
  }
  /** The column at a position indexOf gave. */
  columnAt(index: number): Column {
    return this.visible[index];
  }
  indexOf(name: string): number | undefined {
    const index = this.positions.get(name);
    if (index !== undefined && this.read !== "all") this.read.add(index);
    return index;
  }
  /** The columns expressions compiled against this scope read so far. */
  get reads(): ColumnReads {
    return this.read;
  }
  /** What reads every column without asking for it by name (`*`). */
  readAll(): void {
    this.read = "all";
  }
  static of(table: Table): Scope {
    return new Scope(table.columns);
  }
}

/** Where window functions (prev, next, row_number) find their neighbours while an operator loops. */
export interface RowCursor {
  rows: Row[];
  index: number;
}

export interface ScalarBinding {
  value: Value;
  type: KqlType;
}

/** What expressions can see beyond their row: `let` bindings, the query clock, sub-queries. */
export interface Environment {
  readonly now: number;
  scalar(name: string): ScalarBinding | undefined;
  tabular(name: string): Table | undefined;
  /** A parameter of the user-defined scalar function being compiled, bound to its row-wise argument. */
  parameter(name: string): Compiled | undefined;
  evaluateTabular(node: SyntaxNode): Table;
  /** Environment for the body of a user-defined function: its parameters bound, the caller's bindings visible. */
  withParameters(scalars: Map<string, Compiled>): Environment;
  /** The declaration of a user-defined function bound by `let`, for binding its parameters. */
  functionDeclaration?(name: string): SyntaxNode | undefined;
}

export interface CompileContext {
  query: AnalyzedQuery;
  env: Environment;
  scope: Scope;
  cursor?: RowCursor;
  /** Inside summarize: maps an aggregate call to the slot holding its result. */
  aggregateSlot?: (node: SyntaxNode) => number | undefined;
}

export function constant(value: Value, type: KqlType): Compiled {
  return { fn: () => value, type, constant: true };
}
