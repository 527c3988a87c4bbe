/**
 * A socket's events as a queue the probe awaits one at a time, with a deadline on each wait:
 * the response reader is then a plain loop instead of a tangle of listeners.
 */
import type { Socket } from 'node:net';

type FeedEvent =
  | { readonly kind: 'data'; readonly chunk: Buffer; readonly at: number }
  /** The peer closed its side (FIN). */
  | { readonly kind: 'end' }
  | { readonly kind: 'error'; readonly err: NodeJS.ErrnoException }
  | { readonly kind: 'timeout' };

export class SocketFeed {
  readonly #queue: FeedEvent[] = [];
  #wake: (() => void) | undefined;
  #over = false;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.#push({ kind: 'data', chunk, at: performance.now() }));
    socket.on('end', () => this.#push({ kind: 'end' }));
    socket.on('error', (err: NodeJS.ErrnoException) => this.#push({ kind: 'error', err }));
    socket.on('close', () => this.#push({ kind: 'end' }));
  }

  #push(event: FeedEvent): void {
    if (this.#over) return;
    if (event.kind !== 'data') this.#over = true;
    this.#queue.push(event);
    this.#wake?.();
  }

  /** The next event, or a timeout after `timeoutMs`. */
  next(timeoutMs: number): Promise<FeedEvent> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.#wake = undefined;
          resolve({ kind: 'timeout' });
        },
        Math.max(0, timeoutMs),
      );
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve(this.#queue.shift() as FeedEvent);
      };
    });
  }
}
