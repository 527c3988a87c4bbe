import { after } from 'node:test';

/**
 * A keeper for the servers and gateways a test file opens: each thing kept is closed once the
 * file's tests are over, the last opened first (a gateway before the upstream behind it).
 */
export function closeAfterAll(): <T extends { close(): Promise<unknown> }>(
  thing: T | Promise<T>,
) => Promise<T> {
  const opened: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const close of opened.reverse()) await close();
  });
  return async (thing) => {
    const value = await thing;
    opened.push(() => value.close());
    return value;
  };
}
