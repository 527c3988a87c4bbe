/**
 * The promises the gateway hands a plugin (`context.fetch`'s, `request.body()`'s), made unable to
 * end the worker. A plugin that starts one and forgets it (no `await`, no `catch`) would otherwise
 * leave a rejection nothing handles, and Node ends the process on one: every request in flight on
 * the worker cut, on every route, for one plugin's slip (issue 57: the worker never dies of a
 * plugin). Each is handled by the gateway from the start, and still rejects for the plugin that
 * takes it; one that nobody took by the time it rejected is the plugin's slip, told once (`stray`).
 */

/** Who a failure was handed to: the plugin, and what of the gateway's it came from ("fetch svc"). */
export interface HandedTo {
  readonly plugin: string;
  readonly what: string;
}

/**
 * Failures handed to plugins, by the failure: what a rejection nothing handled is traced back by
 * when it comes through a promise the plugin made of ours (`fetch(…).then(…)`, left unhandled),
 * whose failure is ours and whose stack names none of the plugin's code.
 */
const handed = new WeakMap<object, HandedTo>();

/** The plugin a failure was handed to, when it came from a promise the gateway gave one. */
export function handedTo(err: unknown): HandedTo | undefined {
  return typeof err === 'object' && err !== null ? handed.get(err) : undefined;
}

/**
 * A promise that knows whether anyone took its outcome. A `then` is how every taker reaches it:
 * `await` (the promise is not a plain Promise, so `await` calls its `then`), `catch`, `finally`,
 * `Promise.all` and the other combinators alike.
 */
class TakenPromise<T> extends Promise<T> {
  #taken = false;

  /** Someone called its then. */
  get taken(): boolean {
    return this.#taken;
  }

  // What its then() makes is a plain Promise: only the promise handed over is watched.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  // biome-ignore lint/suspicious/noThenProperty: it is the thenable's own then, watched
  override then<A = T, B = never>(
    fulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    rejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.#taken = true;
    return super.then(fulfilled, rejected);
  }
}

/**
 * `promise` as handed to `to`: it settles as `promise` does, its failure marked as handed to the
 * plugin; a rejection is never one nothing handles; `stray` is told of one that nobody took.
 */
export function handOver<T>(promise: Promise<T>, to: HandedTo, stray: (err: unknown) => void): Promise<T> {
  const given = new TakenPromise<T>((resolve, reject) =>
    promise.then(resolve, (err: unknown) => {
      if (typeof err === 'object' && err !== null && !handed.has(err)) handed.set(err, to);
      reject(err);
    }),
  );
  // Handled here, by the intrinsic then (the watched one would count the gateway as a taker). A
  // plugin's own then may come a turn after the rejection (a promise already rejected, awaited at
  // once): looked at once the turn's promise jobs ran, as Node judges a rejection unhandled.
  Promise.prototype.then.call(given, undefined, (err: unknown) => {
    setImmediate(() => {
      if (!given.taken) stray(err);
    });
  });
  return given;
}
