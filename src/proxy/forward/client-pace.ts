/**
 * A response's way to a client that does not keep up with its upstream. What the client has not
 * taken is held for it up to the route's buffer (so a response that fits is taken whole and its
 * connection freed at once) and counted against its connection's budget; past that, the rest goes
 * through a file (response-spool.ts) so the upstream need not wait for this client, or, with no
 * spool, the upstream is paused until the client drains. The sink's send deadline cuts a client
 * that takes nothing. Made by the exchange the first time a write is left waiting: most
 * responses never are, and pay nothing of this.
 */
import { Failure, sendTimeoutFailure } from '../../core/failure/failure.ts';
import type { ResponseSink } from '../../core/net/downstream.ts';
import type { HoldBudget } from '../../core/net/hold-budget.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { ExchangeController } from '../../upstream/connections/exchange-contract.ts';
import type { ReaderMemory } from './reader-memory.ts';
import { ResponseSpool, type SpoolOutlet } from './response-spool.ts';
import type { SpoolSpace } from './spool-space.ts';

/**
 * Response writes held for a client that is not keeping up before the upstream is paused, at
 * most, whatever their size (each is a buffer and its bookkeeping in the socket's queue).
 */
const MAX_HELD_WRITES = 1024;

/** What the pace of a client tells its exchange. */
export interface PacedExchange {
  /** The client took what was held: the upstream may send again (unless the exchange is over). */
  resumeUpstream(): void;
  /** The client's side cannot take the response whole (its send deadline, the spool's disk): cut, and said so. */
  cutForClient(failure: Failure): void;
}

export class ClientPace implements SpoolOutlet {
  readonly #exchange: PacedExchange;
  readonly #sink: ResponseSink;
  /** The client connection's budget (HTTP/2: shared by its streams); undefined: none. */
  readonly #budget: HoldBudget | undefined;
  /** What every slow client's response may hold in memory together (`limits.buffer_total`); undefined: none. */
  readonly #readers: ReaderMemory | undefined;
  /** `routes[].limits.buffer`: response bytes held for the client before the upstream waits. */
  readonly #buffer: number;
  readonly #record: RequestRecord;
  /** Writes made since the client's socket last drained (0: it keeps up). */
  #heldWrites = 0;
  /** Response bytes counted against the client connection's budget (#charge). */
  #heldCharged = 0;
  /** The client's socket holds the buffer's worth: the upstream is paused until it drains. */
  #awaitingDrain = false;
  /** What the client could not take yet, past the buffer, on its way through a file. */
  #spool: ResponseSpool | undefined;
  readonly #drained = (): void => this.#onDrain();

  /** Made after a write to `sink` was left waiting (it armed its send deadline with it). */
  constructor(
    exchange: PacedExchange,
    sink: ResponseSink,
    budget: HoldBudget | undefined,
    readers: ReaderMemory | undefined,
    buffer: number,
    record: RequestRecord,
  ) {
    this.#exchange = exchange;
    this.#sink = sink;
    this.#budget = budget;
    this.#readers = readers;
    this.#buffer = buffer;
    this.#record = record;
    // The sink owns the send deadline: the exchange hears when it runs out, to end the attempt
    // and say why in the log.
    sink.onSendTimeout((limit) => exchange.cutForClient(sendTimeoutFailure(limit)));
    sink.onClose(() => this.#charge(0));
  }

  /** The rest of the response goes through a file now: what comes from the upstream is added to it. */
  get spool(): ResponseSpool | undefined {
    return this.#spool;
  }

  /**
   * The upstream is paused until the client takes what is held for it (past the buffer, with no
   * spool or past its bounds): what the response waits for now is the client, not the upstream.
   */
  get waitsForReader(): boolean {
    return this.#awaitingDrain || this.#spool?.holdsUpstream === true;
  }

  /**
   * Writes a piece of the body to the client (SpoolOutlet's too). False when the client is not
   * keeping up and holds the buffer's worth (its drain comes next). Writes are counted too: a
   * million one-byte chunks are a few bytes but a million buffers.
   */
  send(chunk: Buffer): boolean {
    if (this.#sink.write(chunk) && this.#heldWrites === 0) return true;
    return this.held();
  }

  /** A write was left waiting: whether the client may be written more before it drains. */
  held(): boolean {
    const sink = this.#sink;
    if (this.#heldWrites++ === 0) sink.onDrain(this.#drained);
    this.#charge(sink.pendingBytes);
    return sink.pendingBytes <= this.#buffer && this.#heldWrites <= MAX_HELD_WRITES && !this.#memoryFull();
  }

  /**
   * The client holds the buffer's worth (send() said false): the rest goes through a file, so
   * the upstream need not wait for this client; with no spool (or a spent one), the upstream waits.
   */
  fellBehind(controller: ExchangeController, space: SpoolSpace | undefined, metrics: GatewayMetrics): void {
    if (this.#awaitingDrain) return;
    if (space !== undefined && !space.full && !this.#sink.closed) {
      const spool = new ResponseSpool(space, this);
      this.#spool = spool;
      this.#sink.onClose(() => {
        spool.close();
        if (spool.spooled > 0) metrics.spooled(this.#record.route ?? '', spool.spooled);
      });
      return;
    }
    this.#awaitingDrain = true;
    controller.pause();
  }

  /** SpoolOutlet: the spool emptied enough for the upstream to send again. */
  resume(): void {
    this.#exchange.resumeUpstream();
  }

  /** SpoolOutlet: the spool's disk failed: the response cannot go on whole, and is cut (said so in the log). */
  failed(error: Error): void {
    this.#exchange.cutForClient(
      new Failure('proxy_internal_error', `response spool failed: ${error.message}`, {
        stage: 'body_streaming',
        cause: error,
      }),
    );
  }

  /** SpoolOutlet: bytes went through the file (the log's `spooled`). */
  wrote(bytes: number): void {
    this.#record.spooled = (this.#record.spooled ?? 0) + bytes;
  }

  /**
   * Counts what waits for the client now against its connection's budget and the process's
   * total. Only after a write left something waiting; given back as the client takes it, and
   * whole when the response is over.
   */
  #charge(bytes: number): void {
    const more = bytes - this.#heldCharged;
    this.#heldCharged = bytes;
    this.#budget?.add(more);
    this.#readers?.add(more);
  }

  /**
   * The client's connection holds its budget's worth, or the slow readers of the whole process
   * hold `limits.buffer_total`: this response holds no more, its rest goes through the spool or
   * waits for its client.
   */
  #memoryFull(): boolean {
    return (
      (this.#budget !== undefined && this.#budget.room < 0) ||
      (this.#readers !== undefined && this.#readers.room < 0)
    );
  }

  /** The client took everything held for it. */
  #onDrain(): void {
    this.#heldWrites = 0;
    this.#charge(this.#sink.pendingBytes);
    // A spooled rest goes on from its file (the sink re-arms its send deadline itself).
    if (this.#spool !== undefined) return this.#spool.pump();
    if (!this.#awaitingDrain) return;
    this.#awaitingDrain = false;
    this.#exchange.resumeUpstream();
  }
}
