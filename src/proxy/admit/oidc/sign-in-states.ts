import type * as oauth from 'oauth4webapi';

/** States remembered, at most: past it the oldest go (their flow cookies are stale by then anyway). */
const MAX_STATES = 100_000;

/** A state answered (or being answered), or given back after its answer failed at the provider. */
interface Entry {
  /** When it stops mattering (Date.now()): the end of its flow cookie's life. */
  readonly until: number;
  /** Given back: the same answer may come again. */
  readonly open: boolean;
  /** The code was exchanged, then the sign-in failed at the provider's keys: a retry needs no second exchange. */
  readonly redeemed?: oauth.TokenEndpointResponse;
}

/**
 * The sign-ins' states (OpenID Connect Core §3.1.2.1) this process was answered with, each
 * answered once: a replayed answer is refused. A state whose answer failed at the provider (its
 * discovery document, token endpoint or keys down, slow or answering garbage) is given back: the
 * client was told it may retry, and the retry of the same answer (a reload of the page) must not
 * be refused as a replay. When the code had been exchanged already, its tokens are kept with the
 * state, so the retry does not spend the code again (a provider refuses a code's second use).
 * Kept with the provider's hop (issuer-hop.ts), so a reload forgets none.
 */
export class SignInStates {
  readonly #states = new Map<string, Entry>();

  /**
   * Takes `state` for an answer under way until `until`: false when it was answered already, or
   * is being answered now (a replay); else the tokens a failed answer's exchange left, if any.
   */
  spend(state: string, until: number): { readonly redeemed?: oauth.TokenEndpointResponse } | false {
    const states = this.#states;
    const given = states.get(state);
    if (given !== undefined && !given.open) return false;
    const now = Date.now();
    // The oldest first (insertion order): those past their time go, and past the bound the oldest.
    for (const [old, { until: end }] of states) {
      if (end > now && states.size < MAX_STATES) break;
      states.delete(old);
    }
    states.set(state, { until, open: false });
    return given?.redeemed === undefined ? {} : { redeemed: given.redeemed };
  }

  /**
   * The answer of `state` failed at the provider: it may come again, with the tokens its code
   * was exchanged for (`redeemed`) when it got that far.
   */
  giveBack(state: string, redeemed?: oauth.TokenEndpointResponse): void {
    const entry = this.#states.get(state);
    if (entry !== undefined) this.#states.set(state, { until: entry.until, open: true, redeemed });
  }
}
