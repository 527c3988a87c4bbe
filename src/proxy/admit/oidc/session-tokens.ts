import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import * as oauth from 'oauth4webapi';
import { Failure } from '../../../core/failure/failure.ts';
import type { RequestSpans } from '../../../observe/tracing/spans.ts';
import type { Exchanged } from './authorization-answer.ts';
import type { IssuerHop } from './issuer-hop.ts';
import type { RenewalPeers } from './renewal-peers.ts';
import type { Session } from './session.ts';
import type { SignIn } from './sign-in.ts';
import { tokenRefusal } from './token-refusal.ts';

/** A session's life when the provider says nothing of its tokens' (no expires_in, no exp). */
const DEFAULT_LIFE_MS = 5 * 60_000;
/** A renewed session kept for the requests that still carry the old cookie (sent before theirs came back). */
const RENEWED_MS = 30_000;
const MAX_RENEWED = 10_000;

/**
 * Sessions renewed with their refresh token (OpenID Connect Core §12) at the token endpoint. One
 * renewal per refresh token at a time, and its result kept a while for the requests that carried
 * the same cookie: a page's parallel requests would otherwise each spend the token, and with a
 * provider that rotates them (most do), all but the first be refused, logging the user out.
 */
export class SessionTokens {
  readonly #issuer: IssuerHop;
  readonly #signIn: SignIn;
  readonly #renewing = new Map<string, Promise<Session | Failure | undefined>>();
  readonly #renewed = new Map<string, { readonly session: Session; readonly until: number }>();
  /** Under `candor serve --workers N`, the other workers: a refresh token is renewed once for the gateway. */
  readonly #peers: RenewalPeers | undefined;

  constructor(issuer: IssuerHop, signIn: SignIn, peers?: RenewalPeers) {
    this.#issuer = issuer;
    this.#signIn = signIn;
    this.#peers = peers;
  }

  /** The session made of what the token endpoint answered: the ID token's claims (or the last ones), its tokens, their expiry. */
  sessionOf(
    claims: JWTPayload,
    tokens: oauth.TokenEndpointResponse,
    idToken: string | undefined,
    previous: Session | undefined,
  ): Session {
    const now = Date.now();
    const ends = [now + (tokens.expires_in === undefined ? DEFAULT_LIFE_MS : tokens.expires_in * 1000)];
    if (tokens.id_token !== undefined && typeof claims.exp === 'number') ends.push(claims.exp * 1000);
    const refresh = tokens.refresh_token ?? previous?.r;
    return {
      c: claims,
      ...(idToken === undefined ? {} : { i: idToken }),
      ...(refresh === undefined ? {} : { r: refresh }),
      a: now,
      e: Math.min(...ends),
    };
  }

  /**
   * The session renewed; undefined when the provider refused its refresh token (revoked, expired:
   * the session is over); the hop's Failure when the provider could not be asked.
   */
  refresh(session: Session, spans: RequestSpans | undefined): Promise<Session | Failure | undefined> {
    const token = session.r as string;
    const kept = this.#renewed.get(token);
    const now = Date.now();
    // Kept for a cookie from before that renewal, and only while it is good itself: one that
    // ended since (tokens living less than RENEWED_MS) is renewed again, not let in past its end.
    if (kept !== undefined && kept.until > now && kept.session.e > now && kept.session.a > session.a)
      return Promise.resolve(kept.session);
    let renewing = this.#renewing.get(token);
    if (renewing === undefined) {
      renewing = this.#acrossWorkers(session, token, spans).finally(() => this.#renewing.delete(token));
      this.#renewing.set(token, renewing);
    }
    return renewing;
  }

  /**
   * The renewal made once for the gateway: a page's requests land on several workers, each with
   * the cookie from before the renewal, and each worker renewing on its own spent the refresh
   * token once a worker, so a provider that rotates them refused all but the first, ending the
   * session. The primary says whether this worker renews it, or hands another's outcome.
   */
  async #acrossWorkers(
    session: Session,
    token: string,
    spans: RequestSpans | undefined,
  ): Promise<Session | Failure | undefined> {
    const peers = this.#peers;
    if (peers === undefined) return this.#renew(session, token, spans);
    const key = createHash('sha256').update(token).digest('base64url');
    // As long as the renewing worker's could take (its discovery document, token endpoint and keys,
    // each within the timeout), and a second for the news: a waiter that gave up first would renew
    // too, spending the token twice.
    const peer = await peers.askRenewal(key, 3 * this.#issuer.timeout + 1000);
    if (peer?.outcome === 'refused') return undefined;
    if (peer?.outcome === 'renewed' && peer.session.e > Date.now() && peer.session.a > session.a) {
      this.#keep(token, peer.session);
      return peer.session;
    }
    if (peer?.outcome !== 'go') return this.#renew(session, token, spans);
    let renewed: Session | Failure | undefined | 'threw' = 'threw';
    try {
      renewed = await this.#renew(session, token, spans);
      return renewed;
    } finally {
      if (renewed === undefined) peers.tellRenewed(key, 'refused', undefined);
      else if (renewed === 'threw' || renewed instanceof Failure) peers.tellRenewed(key, 'failed', undefined);
      else peers.tellRenewed(key, 'renewed', renewed);
    }
  }

  /** `spans`: the request that asked first (a renewal is one call for the requests that wait for it). */
  async #renew(
    session: Session,
    token: string,
    spans: RequestSpans | undefined,
  ): Promise<Session | Failure | undefined> {
    const exchanged: Exchanged = { tokens: undefined };
    let checked: { readonly claims: JWTPayload } | Failure | undefined;
    try {
      const server = await this.#issuer.discovery();
      const answer = await oauth.refreshTokenGrantRequest(
        server,
        this.#signIn.client,
        this.#signIn.clientAuth,
        token,
        this.#issuer.optionsFor(spans),
      );
      // Its ID token checked as part of the answer: one refused counts on the provider's circuit.
      checked = await this.#signIn.readTokens(
        answer,
        () => oauth.processRefreshTokenResponse(server, this.#signIn.client, answer),
        exchanged,
      );
    } catch (err) {
      // A refresh token refused ends the session; the gateway's own client refused is the hop's failure.
      const refusal = tokenRefusal(err);
      if (refusal === 'grant') return undefined;
      return this.#issuer.tokenEndpointFailure(refusal ?? err);
    }
    const tokens = exchanged.tokens as oauth.TokenEndpointResponse;
    let claims = session.c;
    if (checked instanceof Failure) return checked;
    if (checked !== undefined) {
      // The same user (Core §12.2): a renewed ID token naming another is no renewal of this session.
      if (checked.claims.sub !== session.c.sub) return undefined;
      claims = checked.claims;
    }
    const renewed = this.sessionOf(claims, tokens, tokens.id_token ?? session.i, session);
    this.#keep(token, renewed);
    return renewed;
  }

  #keep(token: string, renewed: Session): void {
    const now = Date.now();
    for (const [old, { until }] of this.#renewed) {
      if (until > now && this.#renewed.size < MAX_RENEWED) break;
      this.#renewed.delete(old);
    }
    this.#renewed.set(token, { session: renewed, until: now + RENEWED_MS });
  }
}
