/**
 * What a thrown value says, read without throwing. A plugin may throw anything: String() of a
 * null-prototype object throws, and so does a value whose toString or `message` getter throws;
 * read as they are where the gateway tells a failure (the worker's handler of errors nothing
 * caught, a refused config, a close that failed), they would throw again there.
 */

/** `value[key]` when it is a string and reading it does not throw. */
export function readString(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  try {
    const read: unknown = (value as Record<string, unknown>)[key];
    return typeof read === 'string' ? read : undefined;
  } catch {
    return undefined;
  }
}

/** An Error's message and stack, anything else's text (String()): never throwing. */
export function thrownText(err: unknown): { message: string; stack: string | undefined } {
  if (err instanceof Error)
    return {
      message: readString(err, 'message') ?? 'an Error whose message cannot be read',
      stack: readString(err, 'stack'),
    };
  try {
    return { message: String(err), stack: undefined };
  } catch {
    return { message: `a thrown ${typeof err} that cannot be made text`, stack: readString(err, 'stack') };
  }
}
