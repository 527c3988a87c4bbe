import type { AnswerSink, DrainCut, SwitchedConnection } from '../../core/net/downstream.ts';
import type { SendLimit } from '../../core/net/send-deadline.ts';

/**
 * A sink that wraps the client's sink (compressing-sink.ts) and passes on, as they are, what it
 * does not change: the state only the client's sink knows (finished, closed, how it was cut)
 * and the calls that do not touch the response's head, body or end. The wrapper writes those.
 */
export abstract class PassingSink implements AnswerSink {
  protected readonly inner: AnswerSink;

  constructor(inner: AnswerSink) {
    this.inner = inner;
  }

  abstract get headSent(): boolean;
  abstract get pendingBytes(): number;
  abstract sendHead(status: number, reason: string, headers: readonly string[], close?: boolean): void;
  abstract write(chunk: Buffer): boolean;
  abstract onDrain(callback: () => void): void;
  abstract end(trailers?: readonly string[]): void;
  abstract abort(): void;

  get finished(): boolean {
    return this.inner.finished;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  get cutByDrain(): DrainCut | undefined {
    return this.inner.cutByDrain;
  }
  get leftHow(): string {
    return this.inner.leftHow;
  }
  get cutBySend(): SendLimit | undefined {
    return this.inner.cutBySend;
  }
  get dropped(): string | undefined {
    return this.inner.dropped;
  }
  get flushedBytes(): number {
    return this.inner.flushedBytes;
  }

  sendContinue(): void {
    this.inner.sendContinue();
  }
  sendInterim(status: number, reason: string, headers: readonly string[]): boolean {
    return this.inner.sendInterim(status, reason, headers);
  }
  deferToTurnEnd(): void {
    this.inner.deferToTurnEnd();
  }
  onSendTimeout(callback: (limit: SendLimit) => void): void {
    this.inner.onSendTimeout(callback);
  }
  onClose(callback: (finished: boolean) => void): void {
    this.inner.onClose(callback);
  }
  switchProtocols(reason: string, headers: readonly string[]): SwitchedConnection | undefined {
    return this.inner.switchProtocols(reason, headers);
  }
}
