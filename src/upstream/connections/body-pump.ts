import type { Readable } from 'node:stream';
import { classifyRequestBodyError } from '../../core/failure/classify.ts';
import type { Failure } from '../../core/failure/failure.ts';
import type { ExchangeHandler, KeptBody, StreamedBody } from './exchange-contract.ts';
import { sendStalled } from './exchange-timers.ts';

/** Where a request body goes: an HTTP/1.1 socket (framed or not) or an HTTP/2 stream. */
export interface BodyOut {
  /** Writes one piece of the body; false when the way out is full (wait for 'drain'). */
  write(chunk: Buffer): boolean;
  /** The body is all out: the protocol's end of it (HTTP/1.1's last chunk, HTTP/2's END_STREAM). */
  end(): void;
  once(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

/**
 * The send clock (`timeouts.send`): how long the upstream may take none of the body bytes that
 * wait for it, and what holds them when it passes.
 */
export interface SendBound {
  /** timeouts.send, in ms. */
  readonly timeout: number;
  /** The bytes handed on that the upstream has not taken, and what keeps them ("its connection took no more"). */
  waiting(): { readonly bytes: number; readonly why: string };
  /**
   * The upstream's response head came: an answer before the body is all sent (RFC 9112 §9.5), and
   * the rest of the body is no longer what it waits on. The response's own clocks bound it then.
   */
  answered(): boolean;
}

/** What the pump tells the connection that runs it. */
export interface BodyPumpEvents {
  /** A piece is about to go out: false when the exchange ended on it (a body over its limit), and it does not. */
  chunk(chunk: Buffer): boolean;
  /** The whole body went out. */
  sent(): void;
  /** The client's body broke (a reset, bad framing, its silence): its own error, to report as it is. */
  failed(err: Error): void;
  /** The upstream took none of the body waiting for it within the send clock (the pump has stopped). */
  stalled(failure: Failure): void;
}

/**
 * The client's request body, passed on with backpressure both ways: the same for both
 * protocols, which differ only in how a piece is framed (BodyOut). Runs until the body ends,
 * breaks, or the connection stops it.
 *
 * The send clock runs only while bytes wait on the upstream: from a write its connection or stream
 * did not take whole (backpressure) to its drain, and again from the next such write. Never while
 * the client's bytes are awaited (a slow uploader is the client's: its own bounds), nor once the
 * body is all out (the response clock's), nor once the upstream answered (its answer's). Its timer is made at the first such write only: a body
 * that flows never has one. Like the exchange's other clocks (exchange-timers.ts), it looks again
 * after the poll before it blames the upstream: a drain already in the socket wins.
 */
export class BodyPump {
  private readonly source: Readable;
  /** What the pump takes is kept elsewhere, while whole: the body may go again, so it is left paused at stop(). */
  private readonly kept: KeptBody | undefined;
  private readonly out: BodyOut;
  private readonly events: BodyPumpEvents;
  private readonly bound: SendBound;
  private running = true;
  /** Body bytes handed to the way out. */
  private given = 0;
  /** A write was not taken whole, and its drain has not come: the body waits on the upstream. */
  private blocked = false;
  /** How many times it has (the send clock's look after the poll tells a new wait from the one it timed). */
  private blocks = 0;
  private blockedAt = 0;
  private sendTimer: NodeJS.Timeout | undefined;
  /** Bytes were taken from the client: the body cannot be sent again as it was. */
  taken = false;

  constructor(body: StreamedBody, out: BodyOut, events: BodyPumpEvents, bound: SendBound) {
    const { source } = body;
    this.source = source;
    this.kept = body.kept;
    this.out = out;
    this.events = events;
    this.bound = bound;
    source.on('data', this.onData);
    source.on('end', this.onEnd);
    source.on('error', this.onError);
    // What an earlier attempt took goes first; the stream flows once the way out takes it.
    const resend = body.kept?.begin();
    if (resend !== undefined && !this.sendAgain(resend)) return;
    // An earlier attempt left the body paused for this one (it took nothing, or kept what it took).
    if (!this.blocked) source.resume();
    if (source.errored) this.onError(source.errored);
    else if (source.readableEnded) this.onEnd();
  }

  /**
   * The pieces an earlier attempt took, written before the stream's next (bounded:
   * retries.replay_body). False when the exchange ended on one (the pump goes no further).
   */
  private sendAgain(pieces: readonly Buffer[]): boolean {
    let full = false;
    for (const piece of pieces) {
      this.taken = true;
      if (!this.events.chunk(piece) || !this.running) return false;
      this.given += piece.length;
      if (!this.out.write(piece)) full = true;
    }
    if (full) {
      this.source.pause();
      this.out.once('drain', this.onDrain);
      this.waitForUpstream();
    }
    return true;
  }

  /** The body is still going out. */
  get sending(): boolean {
    return this.running;
  }

  /** Detaches the pump from the client's body (the exchange ended, or the response came first). */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    const { source } = this;
    source.off('data', this.onData);
    source.off('end', this.onEnd);
    source.off('error', this.onError);
    this.out.off('drain', this.onDrain);
    clearTimeout(this.sendTimer);
    // Untouched, or what went kept, the body may go to another attempt (a refused stream, a
    // stale connection is retried): it must not flow to no listener meanwhile.
    if (!this.taken || this.kept?.whole === true) source.pause();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.taken = true;
    if (!this.events.chunk(chunk) || !this.running) return;
    this.given += chunk.length;
    if (!this.out.write(chunk)) {
      this.source.pause();
      this.out.once('drain', this.onDrain);
      this.waitForUpstream();
    }
  };

  /** The send clock starts: its timer made at the first wait, moved at each after it (refresh() re-arms one that fired). */
  private waitForUpstream(): void {
    this.blocked = true;
    this.blocks++;
    this.blockedAt = performance.now();
    if (this.sendTimer === undefined) this.sendTimer = setTimeout(this.onSendDue, this.bound.timeout).unref();
    else this.sendTimer.refresh();
  }

  private readonly onDrain = (): void => {
    this.blocked = false;
    if (this.running) this.source.resume();
  };

  private readonly onSendDue = (): void => {
    if (this.running && this.blocked && !this.bound.answered()) setImmediate(this.confirmStall, this.blocks);
  };

  /** After the poll: the same wait still unanswered (no drain came meanwhile, none since). */
  private readonly confirmStall = (wait: number): void => {
    if (!this.running || !this.blocked || this.blocks !== wait || this.bound.answered()) return;
    this.stop();
    this.events.stalled(sendStalled(this.bound.timeout, this.blockedAt, this.given, this.bound.waiting()));
  };

  private readonly onEnd = (): void => {
    if (!this.running) return;
    this.stop();
    this.out.end();
    this.events.sent();
  };

  private readonly onError = (err: Error): void => {
    if (!this.running) return;
    this.stop();
    this.events.failed(err);
  };
}

/**
 * The pump of one exchange's body: each piece told to its handler first (which may end the
 * exchange on it), the end reported (to the connection first, `sent`: its head clock starts
 * there), and a broken body ending the exchange with the body's own error, as long as the
 * exchange is still the connection's (`current`).
 */
export function pumpRequestBody(
  body: StreamedBody,
  out: BodyOut,
  handler: ExchangeHandler,
  current: () => ExchangeHandler | null,
  abort: (failure: Failure) => void,
  sent: () => void,
  bound: SendBound,
): BodyPump {
  return new BodyPump(
    body,
    out,
    {
      chunk: (chunk) => {
        handler.onBodyChunk(chunk);
        return current() === handler;
      },
      sent: () => {
        sent();
        handler.onRequestSent();
      },
      failed: (err) => {
        if (current() === handler) abort(requestBodyBroke(err));
      },
      stalled: (failure) => {
        if (current() === handler) abort(failure);
      },
    },
    bound,
  );
}

/**
 * The failure a broken request body ends its exchange with: the body's own error, classified
 * (a client that left, a stalled body's 408, bad framing's 400). Staged `sent`: the exchange
 * that hears it places it at the stage it reached.
 */
export function requestBodyBroke(err: Error): Failure {
  return classifyRequestBodyError(err, 'sent');
}
