/**
 * An upstream's answer held while a route stage decides on its head after waiting (a plugin's
 * asynchronous onResponse, stage.ts): nothing goes downstream meanwhile, the upstream is paused,
 * and what of the body a read already made carries is kept here (one read's worth: the pause
 * stops the next), to be relayed after the head in the order it came.
 */
import type { Failure } from '../../core/failure/failure.ts';
import type { ExchangeController } from '../../upstream/connections/exchange-contract.ts';

export class PausedAnswer {
  readonly chunks: Buffer[] = [];
  /** The upstream's answer ended meanwhile (its connection went back to its pool, or closed). */
  ended = false;
  trailers: string[] | undefined;
}

/**
 * What steers an exchange whose upstream answer is whole while it is held: its connection went on
 * (to the pool, and maybe to the next exchange), so pausing and resuming touch nothing, and an
 * abort (the client left, the deadline passed) is reported as the connection would have, through
 * `report`.
 */
export function spentController(
  from: ExchangeController,
  report: (failure: Failure) => void,
): ExchangeController {
  const address = from.remoteAddress();
  const port = from.remotePort();
  return {
    abort: report,
    pause() {},
    resume() {},
    remoteAddress: () => address,
    remotePort: () => port,
    requestWaiting: () => undefined,
    headSoFar: () => ({ interim: 0, partial: 0 }),
  };
}
