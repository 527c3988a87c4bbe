import type { RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { readWholeForStage, tooLarge } from '../forward/request-body.ts';
import type { SessionRequest } from './session-request.ts';

/**
 * A request's body read whole at a route stage's ask (stage.ts's readBody: a plugin's
 * `request.body()`), made the first time a stage asks (a route whose stages never ask makes none):
 * read once, its bytes then every later asker's and every attempt's; a failed read is forgotten,
 * so the next ask reads again (a body past one stage's bound was put back where it was). It keeps
 * the time spent waiting for the client, which is not the asking stage's.
 */
export class StageBody {
  /** The whole body, once read. */
  bytes: Buffer | undefined;
  readonly #req: SessionRequest;
  readonly #route: RouteConfig;
  #reading: Promise<Buffer> | undefined;
  #waited = 0;
  #waitingSince: number | undefined;

  constructor(req: SessionRequest, route: RouteConfig) {
    this.#req = req;
    this.#route = route;
  }

  /** The body up to `limit` bytes and the route's `limits.buffer`: its bytes, or the client's failure (413 naming `reader`, 408, gone). */
  read(limit: number, reader: string): Promise<Buffer> {
    const bound = Math.min(limit, this.#route.limits.buffer);
    this.#reading ??= this.#start(bound, reader);
    // A later ask with a smaller bound than the body read: past it, as the first read would have been.
    return this.#reading.then((bytes) =>
      bytes.length > bound ? Promise.reject(tooLarge(bound, reader)) : bytes,
    );
  }

  /** Settles when the read under way has ended (well or not); undefined when none is. */
  get pending(): Promise<void> | undefined {
    if (this.#waitingSince === undefined || this.#reading === undefined) return undefined;
    return this.#reading.then(
      () => undefined,
      () => undefined,
    );
  }

  /** Milliseconds spent waiting for the client's body so far (a read under way included). */
  waitedMs(): number {
    const since = this.#waitingSince;
    return since === undefined ? this.#waited : this.#waited + performance.now() - since;
  }

  #start(bound: number, reader: string): Promise<Buffer> {
    const { exchange, runtime } = this.#req;
    const { limits } = runtime.config;
    return new Promise<Buffer>((resolve, reject) => {
      const since = performance.now();
      this.#waitingSince = since;
      const settle = (read: Buffer | Error) => {
        if (this.#waitingSince === undefined) return;
        this.#waited += performance.now() - since;
        this.#waitingSince = undefined;
        if (read instanceof Error) {
          this.#reading = undefined;
          return reject(read);
        }
        this.bytes = read;
        resolve(read);
      };
      const cancel = readWholeForStage(
        exchange,
        bound,
        reader,
        { body: this.#route.limits.body, readTimeout: limits.bodyReadTimeout, minRate: limits.bodyMinRate },
        settle,
      );
      if (cancel === undefined) return;
      // The request is over first: the read is given up, and the stage told why. Answered whole
      // (a stage answered without waiting for the read it began), it was no client's leaving.
      exchange.answer.onClose((finished) => {
        if (this.#waitingSince === undefined) return;
        cancel();
        settle(
          finished
            ? new Error('the request was answered before its body was read')
            : new Failure('client_closed', 'the client left while its body was read'),
        );
      });
    });
  }
}
