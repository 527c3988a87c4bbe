/**
 * Who hears of an HTTP/1.1 answer's end (http1-answer.ts extends this): its close, once, with
 * whether it went whole (the session, the upstream's in-flight count…), and its send deadline
 * passing. A base class, not an object the answer holds: an answer is made per request, and a
 * satellite would be one object more each time.
 */
import type { CloseListener } from '../../../core/net/downstream.ts';
import type { SendLimit } from '../../../core/net/send-deadline.ts';

export abstract class Http1AnswerListeners {
  /** Two in fields (most answers have no more), more in a list. */
  #onClose1: CloseListener | undefined;
  #onClose2: CloseListener | undefined;
  #onCloseMore: CloseListener[] | undefined;
  #closedOnce = false;
  #finished = false;
  #sendTimeoutCallbacks: ((limit: SendLimit) => void)[] | undefined;
  /** The send deadline the client ran out of (the response was cut for it). */
  #cutBySend: SendLimit | undefined;

  /** The whole response reached the socket (its close is told as finished). */
  get finished(): boolean {
    return this.#finished;
  }

  get cutBySend(): SendLimit | undefined {
    return this.#cutBySend;
  }

  /** The close was told (it is told once). */
  protected get closedOnce(): boolean {
    return this.#closedOnce;
  }

  onClose(callback: CloseListener): void {
    if (this.#closedOnce) return callback(this.#finished);
    if (this.#onClose1 === undefined) this.#onClose1 = callback;
    else if (this.#onClose2 === undefined) this.#onClose2 = callback;
    else if (this.#onCloseMore === undefined) this.#onCloseMore = [callback];
    else this.#onCloseMore.push(callback);
  }

  onSendTimeout(callback: (limit: SendLimit) => void): void {
    if (this.#sendTimeoutCallbacks === undefined) this.#sendTimeoutCallbacks = [callback];
    else this.#sendTimeoutCallbacks.push(callback);
  }

  /** The whole response is on the socket: its close will say so. */
  protected markFinished(): void {
    this.#finished = true;
  }

  /** The client took nothing for the deadline: whoever listens hears why (the response is cut after). */
  protected tellSendTimeout(limit: SendLimit): void {
    this.#cutBySend = limit;
    for (const callback of this.#sendTimeoutCallbacks ?? []) callback(limit);
  }

  /** The response closed: each listener called once, in the order they came. */
  protected tellClosed(finished: boolean): void {
    this.#closedOnce = true;
    const first = this.#onClose1;
    const second = this.#onClose2;
    const more = this.#onCloseMore;
    this.#onClose1 = undefined;
    this.#onClose2 = undefined;
    this.#onCloseMore = undefined;
    first?.(finished);
    second?.(finished);
    if (more !== undefined) for (let i = 0; i < more.length; i++) more[i](finished);
  }
}
