import type { Worker } from 'node:cluster';

/** What the primary's copy of a handed connection is: node:net's TCP handle. */
interface Closable {
  close(): void;
}

/**
 * Where the primary accepts for the workers (node:cluster's round robin: a port-0 listener, and
 * platforms whose kernel does not balance SO_REUSEPORT sockets; listen-options.ts), it sends each
 * connection to a worker (`newconn`) and closes its own copy once the worker answers that it took
 * it (or hands it to another, when it did not). A worker that dies between the two never answers,
 * and node:cluster kept that copy open for good: the client, whose request nobody would ever read,
 * waited for an answer without end. Here the primary notes each connection it hands to `worker`
 * until the answer comes, and closes those still unanswered when the worker exits: its client
 * sees the connection closed, as a worker's own socket closing resets the connections queued on it.
 *
 * node:cluster's messages are its own (`cmd: 'NODE_CLUSTER'`, `act: 'newconn'`, `seq`, answered by
 * `ack`), read here, never changed: the handoff goes on as before.
 */
export function closeUntakenAtExit(worker: Worker): void {
  const child = worker.process;
  const untaken = new Map<number, Closable>();
  const send = child.send;
  // biome-ignore lint/suspicious/noExplicitAny: node:child_process's send has four overloads
  child.send = function (this: typeof child, message: any, handle?: any, ...rest: any[]): boolean {
    if (handle && isHandoff(message)) untaken.set(message.seq, handle as Closable);
    return send.call(this, message, handle, ...rest);
  } as typeof child.send;
  child.on('internalMessage', (message: { cmd?: unknown; ack?: unknown }) => {
    if (message?.cmd === 'NODE_CLUSTER' && typeof message.ack === 'number') untaken.delete(message.ack);
  });
  worker.once('exit', () => {
    for (const handle of untaken.values()) handle.close();
    untaken.clear();
  });
}

function isHandoff(message: unknown): message is { seq: number } {
  const m = message as { cmd?: unknown; act?: unknown; seq?: unknown } | null;
  return m?.cmd === 'NODE_CLUSTER' && m.act === 'newconn' && typeof m.seq === 'number';
}
