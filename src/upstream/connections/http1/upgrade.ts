/**
 * An upgrade on an HTTP/1.1 connection to an upstream (connection.ts): what the request offers
 * (a 101 is taken only for a protocol it offered), and the socket handed over after the 101, to
 * carry the new protocol as a tunnel (it has left the connection and the pool by then).
 */
import type { Socket } from 'node:net';
import type { AnswerHead } from '../../../core/http1/parsed-answer.ts';
import type { ExchangeHandler, ExchangeRequest } from '../exchange-contract.ts';
import { upstreamHeadOf } from './upstream-head.ts';

/** The protocols an upgrade request offers: its Upgrade field ("" when it has none: no 101 is then taken). */
export function offeredUpgrade(request: ExchangeRequest): string {
  const { headers } = request;
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].toLowerCase() === 'upgrade') return headers[i + 1];
  return '';
}

/** The socket, after a 101 and `rest` (the bytes read past it), goes to the exchange's handler; one that takes no upgrade, closed. */
export function handOverTunnel(
  handler: ExchangeHandler,
  head: AnswerHead,
  socket: Socket,
  rest: Buffer,
): void {
  if (handler.onUpgrade) handler.onUpgrade(upstreamHeadOf(head), socket, rest);
  else socket.destroy();
}
