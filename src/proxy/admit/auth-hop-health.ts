import type { Failure } from '../../core/failure/failure.ts';

/** What the status page says of an auth hop beside its circuit: its answers by kind, and its latest failure. */
export interface AuthHopCounts {
  /** Forward auth: its 2xx, its 401/403; JWKS: key sets fetched; an OpenID provider: discovery documents and key sets fetched. */
  allowed: number;
  denied: number;
  fetched: number;
  /** Calls that ended in the hop's failure (502, 503, 504 to the client, or last good keys kept). */
  failed: number;
}

/**
 * One auth hop's record (a forward-auth service, a JWKS endpoint), by its name ("auth:HOST"),
 * kept across reloads with the hop: the counts of this process's calls to it and the latest
 * failure, read by the status page and /status beside the circuit of its upstream.
 */
export class AuthHopHealth {
  readonly name: string;
  readonly kind: 'forward' | 'jwks' | 'oidc';
  readonly counts: AuthHopCounts = { allowed: 0, denied: 0, fetched: 0, failed: 0 };
  /** The latest failure: its RFC 9209 type, its details, and when (performance.now()). */
  lastFailure: { readonly type: string; readonly details: string; readonly at: number } | undefined;

  constructor(name: string, kind: 'forward' | 'jwks' | 'oidc') {
    this.name = name;
    this.kind = kind;
  }

  /** A forward-auth service's verdict on one request, or its failure (`refused`: its circuit's refusal, as failed's). */
  told(
    verdict: { readonly allowed: unknown } | { readonly refused: unknown } | { readonly failed: Failure },
    refused = false,
  ): void {
    if ('failed' in verdict) return this.failed(verdict.failed, refused);
    if ('allowed' in verdict) this.counts.allowed++;
    else this.counts.denied++;
  }

  /** A key set came from the JWKS endpoint. */
  fetched(): void {
    this.counts.fetched++;
  }

  /**
   * A call that ended in the hop's failure. `refused`: the hop's own circuit refused it, no call
   * made: counted (a user got its 503), but the latest failure stays the one that opened the
   * circuit, as a route upstream's targets keep theirs while its circuit is open; replaced by
   * "its circuit is open", the row hid the provider's own failure (no answer in time, refused).
   */
  failed(failure: Failure, refused = false): void {
    this.counts.failed++;
    if (!refused) this.lastFailure = { type: failure.type, details: failure.details, at: performance.now() };
  }
}
