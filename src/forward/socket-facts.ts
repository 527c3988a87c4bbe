import diagnosticsChannel from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { kConnectMs } from './connector.ts';

/** What an exchange learns about the upstream socket its request was written to. */
export interface SocketFacts {
  /** Time to open the connection (DNS + TCP + TLS), or 0 when a pooled one was reused. */
  readonly connectMs: number;
  /** The connection had carried a request before (the keep-alive race can only hit these). */
  readonly reused: boolean;
}

export interface SocketFactsListener {
  onSocketFacts(facts: SocketFacts): void;
}

const kRequests = Symbol('candor.requestsOnSocket');

/**
 * undici tells a dispatch handler nothing about the socket. It does publish
 * `undici:client:sendHeaders` with the socket, synchronously inside the same write that
 * calls the handler's onRequestStart — so the exchange that just started is the one
 * whose headers are being sent. The exchange registers itself in onRequestStart; the
 * subscriber hands it the socket's facts.
 */
let starting: SocketFactsListener | null = null;

export function expectSocketFacts(listener: SocketFactsListener): void {
  starting = listener;
}

diagnosticsChannel.subscribe('undici:client:sendHeaders', (message) => {
  const listener = starting;
  starting = null;
  if (listener === null) return;
  const socket = (message as { socket: Socket }).socket as Socket & Record<symbol, number | undefined>;
  const previous = socket[kRequests] ?? 0;
  socket[kRequests] = previous + 1;
  listener.onSocketFacts({ connectMs: previous === 0 ? (socket[kConnectMs] ?? 0) : 0, reused: previous > 0 });
});
