import { Server } from 'node:net';
import { after } from 'node:test';

/** What a test file opens: a server, a gateway, a child process, a fake DNS or Redis; or a list of them. */
export type Closable =
  | { close(): unknown }
  | { stop(): unknown }
  | { kill(): unknown }
  | { disconnect(): unknown }
  | readonly Closable[]
  | undefined
  | null;

/**
 * Closes each thing a test file opened, in the order given, whatever the others did: one
 * that is not there (the setup failed before it was made: `undefined`) is passed over, one
 * whose close throws does not keep the rest open. Use it in every `after()`: a hook that threw
 * on the first missing thing left the next one listening, and the file's process (and the
 * whole `npm test`) waiting for ever (test/docs/test-cleanup.sockets.test.ts holds the rule). The
 * failures, if any, are thrown together once everything was closed.
 */
export async function closeAll(...things: Closable[]): Promise<void> {
  const failures: unknown[] = [];
  for (const thing of things) {
    try {
      await closeOne(thing);
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} things did not close`);
}

async function closeOne(thing: Closable): Promise<void> {
  if (thing === undefined || thing === null) return;
  if (Array.isArray(thing)) return closeAll(...thing);
  // node:net's close() answers through its callback (and waits for open connections).
  if (thing instanceof Server) {
    const closed = new Promise<void>((resolve) => thing.close(() => resolve()));
    (thing as Server & { closeAllConnections?(): void }).closeAllConnections?.();
    return closed;
  }
  if ('stop' in thing) await thing.stop();
  else if ('close' in thing) await thing.close();
  else if ('kill' in thing) await thing.kill();
  else if ('disconnect' in thing) await thing.disconnect();
}

/**
 * A keeper for the servers and gateways a test file opens: each thing kept is closed once the
 * file's tests are over, the last opened first (a gateway before the upstream behind it).
 */
export function closeAfterAll(): <T extends { close(): Promise<unknown> }>(
  thing: T | Promise<T>,
) => Promise<T> {
  const opened: { close(): Promise<unknown> }[] = [];
  after(() => closeAll(...opened.reverse()));
  return async (thing) => {
    const value = await thing;
    opened.push(value);
    return value;
  };
}
