import { clientBlock } from '../../core/net/client-block.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import type { TrustList } from '../../core/net/trust.ts';
import type { RouteStage, StageHooks, StageRequest, UpstreamChoice } from '../stages/stage.ts';
import { hashKeyOf } from './hash-key.ts';
import type { RouteSplit } from './split.ts';

/**
 * A route's split (routes[].split) or canary as a stage: it chooses the request's side
 * (chooseUpstream), placed by the split's hash key when it has one, so one user stays on one
 * side: its client the one the IP lists judge (behind trusted proxies the one they vouch for,
 * an IPv6 one by its /64 as rate limits and per_client count it, client-block.ts: a host picks
 * its own addresses in its block, and each would be another user to the canary's counts), its
 * field as access left it. A cache's background refresh goes to the side whose stored answer it
 * refreshes. A side is one the split made once (nothing made per request but the run), with the
 * canary's window that counts each attempt there. The loader made sure every name is an
 * upstream that exists; the split's weights change at run time (the admin API, the canary
 * controller), the same object across a reload that keeps the route's sides.
 */
export function splitStage(split: RouteSplit, trust: TrustList): RouteStage {
  // Without a hash key a draw reads nothing of the request: one run for every request (but a
  // request a stage made that names its upstream: a stored answer's refresh, to its side), made once.
  const unkeyed: StageHooks | undefined =
    split.hashKey === undefined
      ? {
          chooseUpstream: () => split.draw(undefined),
          upstreamsNow: (redraw) => sidesNow(split, redraw ? split.draw(undefined).upstream : undefined),
        }
      : undefined;
  return {
    name: 'split',
    timeoutMs: 0,
    failOpen: false,
    trusted: true,
    start: (request) =>
      unkeyed !== undefined && request.background?.upstream === undefined
        ? unkeyed
        : new SplitRun(split, trust, request),
  };
}

/** `first` (the side drawn for the request now), then every side the split still sends requests to (weight above 0). */
function sidesNow(split: RouteSplit, first: string | undefined): string[] {
  const names: string[] = first === undefined ? [] : [first];
  for (const side of split.sides) if (side.weight > 0) names.push(side.upstream);
  return names;
}

/** One request's side: drawn when admit asks, drawn again when a wait in its upstream's hold asks where it may go now. */
class SplitRun implements StageHooks {
  readonly #split: RouteSplit;
  readonly #trust: TrustList;
  readonly #request: StageRequest;
  /** The fields the first draw read (as access left them): a draw again reads the same. */
  #fields: FieldMap | undefined;

  constructor(split: RouteSplit, trust: TrustList, request: StageRequest) {
    this.#split = split;
    this.#trust = trust;
    this.#request = request;
  }

  chooseUpstream(fields: FieldMap): UpstreamChoice {
    this.#fields = fields;
    const split = this.#split;
    // A request a stage made goes where it says (a stored answer's refresh: the side it came from).
    const named = this.#request.background?.upstream;
    if (named !== undefined) return split.named(named) ?? split.draw(undefined);
    const key =
      split.hashKey === undefined
        ? undefined
        : hashKeyOf(
            split.hashKey,
            { headers: fields },
            this.#request.record.clientAddress,
            this.#trust,
            clientBlock,
          );
    return split.draw(key);
  }

  /** The side drawn for the request now (`redraw`: after a rollback, the baseline), then every side the split still sends requests to. */
  upstreamsNow(redraw: boolean): string[] {
    const first = redraw ? this.chooseUpstream(this.#fields ?? this.#request.fields).upstream : undefined;
    return sidesNow(this.#split, first);
  }
}
