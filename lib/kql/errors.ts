/** A position in query text, 1-based like editors show it. */
export interface SourcePosition {
  line: number;
  column: number;
}

export function positionOf(text: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Every failure of the local engine: what went wrong, and where in the query. */
export class KqlError extends Error {
  constructor(
    message: string,
    readonly position?: SourcePosition,
    readonly code?: string,
  ) {
    super(position ? `${message} (at ${position.line}:${position.column})` : message);
    this.name = "KqlError";
  }
}
