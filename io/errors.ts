/**
 * The one error type a user sees. The CLI prints its message as a single line
 * (`cheff: <message>`) and exits with status 1; any other exception is a bug and
 * is reported with its stack.
 */
export class CheffError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheffError";
  }
}

/** Throws a CheffError unless `condition` holds. */
export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new CheffError(typeof message === "string" ? message : message());
}
