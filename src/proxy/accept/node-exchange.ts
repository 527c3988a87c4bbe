/**
 * node:http's request and response objects as a DownstreamExchange (downstream.ts): the
 * session speaks only that interface; this adapts node:http's server to it while it still
 * serves the listener.
 */
import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { serializeResponseHead } from '../../core/http1/response-head.ts';
import type { DownstreamExchange, DownstreamHead, ResponseSink } from '../../core/net/downstream.ts';
import { lingerOnClose } from '../../core/net/linger.ts';
import { corkResponseUntilTurnEnd, endAtTurnEnd } from '../../core/net/turn-end.ts';
import { wasCutByDrain } from './connection-drain.ts';
import { markInDoubt } from './in-flight.ts';

/** The head of a request node:http parsed. */
export function headOf(req: IncomingMessage, encrypted: boolean, upgrade: boolean): DownstreamHead {
  const te = req.headers['transfer-encoding'];
  const length = req.headers['content-length'];
  return {
    method: req.method ?? '',
    target: req.url ?? '',
    versionMajor: req.httpVersionMajor,
    versionMinor: req.httpVersionMinor,
    protocol: req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
    headers: req.rawHeaders,
    remoteAddress: req.socket?.remoteAddress ?? '',
    encrypted,
    bodyLength: te !== undefined ? 'chunked' : length !== undefined ? Number(length) : undefined,
    upgrade,
    expectContinue: req.headers.expect !== undefined,
  };
}

export class NodeExchange implements DownstreamExchange, ResponseSink {
  readonly head: DownstreamHead;
  readonly body: IncomingMessage | undefined;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  /** The connection, captured now: failRequestBody detaches req.socket when it gives up on a body. */
  readonly #socket: Socket | null;
  /** node:http refused a head: its response object keeps part of it, so answers go raw on the socket. */
  #spent = false;
  #rawHeadSent = false;
  #rawEnded = false;
  #close = false;

  constructor(req: IncomingMessage, res: ServerResponse, head: DownstreamHead) {
    this.head = head;
    this.#req = req;
    this.#res = res;
    this.#socket = req.socket;
    this.body = head.bodyLength === 'chunked' || (head.bodyLength ?? 0) > 0 ? req : undefined;
    // RFC 9112 §9.3: a proxy must not keep a persistent connection with an HTTP/1.0 client.
    if (head.versionMinor === 0) res.shouldKeepAlive = false;
  }

  /**
   * An upgrade (or CONNECT): node:http has stopped parsing the connection and handed over the
   * bare socket. The answer goes out through a response object of its own, so that an upstream
   * that declines the upgrade is relayed like any response; the connection then closes, because
   * nothing parses what the client sends next.
   */
  static upgrade(req: IncomingMessage, socket: Socket, rest: Buffer, head: DownstreamHead): NodeExchange {
    socket.on('error', () => socket.destroy());
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.once('finish', () => socket.destroySoon());
    const exchange = new NodeExchange(req, res, head);
    exchange.#rest = rest;
    return exchange;
  }

  #rest: Buffer | undefined;

  get response(): ResponseSink {
    return this;
  }

  get bodyComplete(): boolean {
    return this.body === undefined || this.#req.complete;
  }

  get headSent(): boolean {
    return this.#rawHeadSent || this.#res.headersSent;
  }

  get finished(): boolean {
    return this.#res.writableFinished || this.#rawEnded;
  }

  get closed(): boolean {
    return this.#res.destroyed || this.#res.closed;
  }

  get cutByDrain(): boolean {
    return wasCutByDrain(this.#socket);
  }

  get pendingBytes(): number {
    return this.#res.writableLength;
  }

  get flushedBytes(): number {
    const socket = this.#res.socket;
    // Waiting behind an earlier response on its connection (which has a deadline of its own)
    // counts as progress.
    if (socket === null) return ++this.#queuedChecks;
    return (socket.bytesWritten ?? 0) - socket.writableLength;
  }

  #queuedChecks = 0;

  sendContinue(): void {
    this.#res.writeContinue();
  }

  sendInterim(status: number, reason: string, headers: readonly string[]): boolean {
    // A response queued behind another on a pipelined connection has no socket yet.
    const socket = this.#res.socket;
    if (this.head.versionMinor === 0 || this.#res.headersSent || socket === null || socket.writableNeedDrain)
      return false;
    socket.write(serializeResponseHead(status, reason, headers), 'latin1');
    return true;
  }

  sendHead(status: number, reason: string, headers: readonly string[], close = false): void {
    if (close) {
      this.#close = true;
      this.#res.shouldKeepAlive = false;
      if (this.#socket !== null) markInDoubt(this.#socket);
    }
    if (this.#spent) {
      this.#rawHeadSent = true;
      const socket = this.#res.socket;
      if (socket === null) return;
      // Closed lingering, with a deadline (linger.ts).
      lingerOnClose(socket);
      socket.write(serializeResponseHead(status, reason, ['date', new Date().toUTCString(), ...headers]));
      return;
    }
    try {
      this.#res.writeHead(status, reason || undefined, headers as string[]);
    } catch (err) {
      this.#spent = true;
      throw err;
    }
  }

  holdUntilTurnEnd(): void {
    if (this.#spent) return;
    corkResponseUntilTurnEnd(this.#res);
    // The head goes out this turn when no length follows: a client waiting on a slow body
    // should know it is coming.
    const res = this.#res;
    if (!res.hasHeader('content-length') || this.head.method === 'HEAD') res.flushHeaders();
  }

  write(chunk: Buffer): boolean {
    if (this.#rawHeadSent) return this.#res.socket?.write(chunk) ?? true;
    return this.#res.write(chunk);
  }

  onDrain(callback: () => void): void {
    this.#res.once('drain', callback);
  }

  end(trailers?: readonly string[]): void {
    if (this.#rawHeadSent) {
      this.#rawEnded = true;
      this.#res.socket?.destroySoon();
      return;
    }
    if (trailers !== undefined && trailers.length > 0) {
      const pairs: [string, string][] = [];
      for (let i = 0; i < trailers.length; i += 2) pairs.push([trailers[i], trailers[i + 1]]);
      this.#res.addTrailers(pairs);
    }
    // Sent with the turn's other responses (turn-end.ts).
    endAtTurnEnd(this.#res);
    // A body the client is still sending is not worth reading: the connection closes instead,
    // lingering (linger.ts) so that the client reads this answer before the close.
    const socket = this.#res.socket;
    if (this.#close && !this.#req.complete && socket !== null) {
      this.#req.resume();
      lingerOnClose(socket);
      this.#res.once('finish', () => socket.destroySoon());
    }
  }

  abort(): void {
    // What was already written (the head, at least) leaves before the cut: corked in the
    // same tick, it would be dropped, and the client would see no head at all.
    const socket = this.#res.socket;
    if (socket !== null && socket.writableCorked > 0) socket.uncork();
    this.#res.destroy();
  }

  onClose(callback: (finished: boolean) => void): void {
    if (this.#res.closed) return callback(this.finished);
    this.#res.once('close', () => callback(this.finished));
  }

  switchProtocols(reason: string, headers: readonly string[]): { socket: Socket; rest: Buffer } | undefined {
    const client = this.#res.socket;
    if (client === null || client.destroyed) return undefined;
    client.write(serializeResponseHead(101, reason, headers), 'latin1');
    return { socket: client, rest: this.#rest ?? Buffer.alloc(0) };
  }
}
