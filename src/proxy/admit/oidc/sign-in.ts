import * as oauth from 'oauth4webapi';
import type { OidcAuthConfig } from '../../../core/config/types.ts';
import { Failure } from '../../../core/failure/failure.ts';
import { cookieNamesStarting } from '../../../core/http1/cookie.ts';
import { OwnAnswer } from '../../../core/net/own-answer.ts';
import type { RequestSpans } from '../../../observe/tracing/spans.ts';
import {
  AuthorizationAnswerReading,
  type Exchanged,
  type Flow,
  refusedState,
  type SignedIn,
  type SignInRefusal,
} from './authorization-answer.ts';
import { flowPrefixOf } from './gateway-cookies.ts';
import type { IssuerHop } from './issuer-hop.ts';
import { type CookieSeal, cookieAttributes } from './session-cookie.ts';
import type { SessionStore } from './session-store.ts';

/** How long a sign-in begun may take to come back (the flow cookie's life, and a state's). */
export const FLOW_MS = 10 * 60_000;
/** The characters of a state naming its flow cookie: enough that two sign-ins never share one. */
const FLOW_NAME_CHARS = 12;
/**
 * The sign-ins a browser keeps under way at once (two tabs, a restored window): a new one clears
 * the oldest flow cookies past this. Each page asked for without a session begins one, and ten
 * minutes of them (some 360 bytes each) would outgrow `limits.header_size` in about ninety: that
 * browser's every request a 431 until they expired.
 */
const MAX_FLOWS = 5;
/**
 * The most of a flow cookie, name, value and attributes: what every browser keeps (RFC 6265
 * §6.1). Chromium drops a longer one whole, and the provider's answer then finds no sign-in under
 * way: a page asked with a long query (a deep link) would be a 400 after every login.
 */
const MAX_FLOW_COOKIE = 4096;

/**
 * The authorization code flow's two legs (OpenID Connect Core §3.1): the redirect to the
 * provider, with PKCE (RFC 7636, S256), a state and a nonce sealed into a short-lived cookie;
 * and the provider's answer at the redirect path, whose state must be the cookie's and never
 * seen before (one use: a replayed answer is refused), whose code is exchanged at the token
 * endpoint, and whose ID token is checked by the JWT path's verifier against the provider's
 * keys, its nonce the cookie's. How that answer is read (its code redeemed, the ID token checked)
 * is AuthorizationAnswerReading's (authorization-answer.ts), which this extends.
 */
export class SignIn extends AuthorizationAnswerReading {
  readonly #config: OidcAuthConfig;
  readonly #flowSeal: CookieSeal;
  /** With `store.redis`: the answered states shared by every worker (the issuer's are this process's). */
  readonly #store: SessionStore | undefined;

  constructor(
    config: OidcAuthConfig,
    issuer: IssuerHop,
    flowSeal: CookieSeal,
    clientSecret: string | undefined,
    store?: SessionStore,
  ) {
    super(config, issuer, clientSecret);
    this.#config = config;
    this.#store = store;
    this.#flowSeal = flowSeal;
  }

  /**
   * The prefix of the cookies a sign-in's flow is kept in between the two legs: one per sign-in,
   * named by its state's first characters, so two tabs signing in at once (a browser restoring
   * them after the session ended) do not overwrite each other's.
   */
  get flowPrefix(): string {
    return flowPrefixOf(this.#config.cookieName);
  }

  /** The cookie the flow of the sign-in whose state is `state` is kept in. */
  flowCookie(state: string): string {
    return `${this.flowPrefix}${state.slice(0, FLOW_NAME_CHARS)}`;
  }

  /** The Set-Cookie that clears the flow cookie of the sign-in whose state is `state`. */
  clearFlow(state: string, secure: boolean): string {
    return `${this.flowCookie(state)}=${cookieAttributes(secure, 0)}`;
  }

  /**
   * The redirect to the provider's authorization endpoint, for a browser that has no session,
   * back to `returnTo` once signed in. The provider down with no discovery document at hand is
   * the hop's failure: the sign-in cannot begin, and the browser is told the provider is down.
   */
  async begin(
    redirectUri: string,
    returnTo: string,
    secure: boolean,
    cookies: string | string[] | undefined,
  ): Promise<OwnAnswer | Failure> {
    let server: oauth.AuthorizationServer;
    try {
      server = await this.issuer.heardFrom();
    } catch (err) {
      return this.issuer.failure(err, 'the discovery document');
    }
    if (server.authorization_endpoint === undefined)
      return this.issuer.failure(
        new Error('its discovery document names no authorization_endpoint'),
        'the discovery document',
      );
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const attributes = cookieAttributes(secure, FLOW_MS / 1000);
    // Back to the page asked for; when its cookie would be too long for a browser to keep, to its
    // path without the query, or to the root.
    const query = returnTo.indexOf('?');
    const returns = [returnTo, ...(query === -1 ? [] : [returnTo.slice(0, query)]), '/'];
    let cookie = '';
    for (const r of returns) {
      const flow: Flow = { s: state, n: nonce, v: verifier, r, t: Date.now() };
      cookie = `${this.flowCookie(state)}=${await this.#flowSeal.seal(flow)}${attributes}`;
      if (cookie.length <= MAX_FLOW_COOKIE) break;
    }
    const url = new URL(server.authorization_endpoint);
    url.searchParams.set('client_id', this.#config.clientId);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('scope', this.#config.scopes.join(' '));
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('state', state);
    url.searchParams.set('nonce', nonce);
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
    url.searchParams.set('code_challenge_method', 'S256');
    const fields = ['location', url.href, 'set-cookie', cookie, 'cache-control', 'no-store'];
    const flows = cookieNamesStarting(cookies, this.flowPrefix);
    for (const old of flows.slice(0, Math.max(0, flows.length - (MAX_FLOWS - 1))))
      fields.push('set-cookie', `${old}=${cookieAttributes(secure, 0)}`);
    return new OwnAnswer(302, fields);
  }

  /**
   * The provider's answer at the redirect path: the flow the cookie sealed, its state matched and
   * spent, the code exchanged, the ID token checked, and what `finish` makes of the user signed in
   * (the session's 302, or its refusal). A refusal is the sign-in's (400 for a state that is not
   * this browser's or was used, 401 for the provider refusing the user or the code, `finish`'s
   * 403); the provider (or `finish`'s session store) failing is the hop's failure, and the same
   * answer may come again.
   */
  async complete<Done extends object>(
    sealedFlow: string | undefined,
    query: URLSearchParams,
    redirectUri: string,
    carry: { readonly secure: boolean; set(cookie: string): void; readonly spans?: RequestSpans },
    finish: (signedIn: SignedIn & { readonly returnTo: string }) => Promise<Done | SignInRefusal | Failure>,
  ): Promise<Done | SignInRefusal | Failure> {
    const flow = sealedFlow === undefined ? undefined : this.#flowSeal.open(sealedFlow);
    // A person whose flow cookie is gone (past its ten minutes at the provider, or the oldest of
    // more than MAX_FLOWS tabs signing in at once) had a page saying to change the request, and
    // no way on: it links to a new sign-in (the root: where it began went with the cookie), a
    // link rather than a redirect, which a browser refusing the cookie would follow in a loop.
    if (!isFlow(flow) || Date.now() - flow.t > FLOW_MS)
      return refusedState(
        'no sign-in of this browser is under way (its cookie is missing or expired)',
        'no flow',
        '/',
      );
    if (query.get('state') !== flow.s)
      return refusedState("the sign-in's state is not the one this browser was given", 'state mismatch');
    const replayed = refusedState("the sign-in's state was used already", 'state replayed');
    const spent = this.issuer.states.spend(flow.s, flow.t + FLOW_MS);
    if (spent === false) return replayed;
    // Then every worker's: a replay to another worker of this gateway, or another gateway, is one too.
    const shared = await this.#store?.spendState(flow.s, flow.t + FLOW_MS);
    if (shared instanceof Failure) {
      // Redis not answering is the store's 503: the same answer may come again once it does.
      this.issuer.states.giveBack(flow.s, spent.redeemed);
      return shared;
    }
    if (shared === false) return replayed;
    const exchanged: Exchanged = { tokens: spent.redeemed ?? (isObject(flow.k) ? flow.k : undefined) };
    const redeemed = await this.redeem(flow, query, redirectUri, exchanged, carry.spans);
    const done = redeemed instanceof Failure || 'refused' in redeemed ? redeemed : await finish(redeemed);
    // Answered, signed in or refused, with its state spent: the flow can never finish, and its
    // cookie goes now rather than in ten minutes (one of the few a browser keeps under way: MAX_FLOWS).
    if (!(done instanceof Failure)) carry.set(this.clearFlow(flow.s, carry.secure));
    // The provider failed (down, slow, garbage), or the session store did: the client is told it
    // may retry, and the same answer again (a reload) is then no replay (sign-in-states.ts).
    if (done instanceof Failure) {
      this.issuer.states.giveBack(flow.s, exchanged.tokens);
      await this.#store?.giveBackState(flow.s);
      // The retry may come to another worker (or gateway), which this one's memory is not:
      // the browser keeps the tokens had, sealed in its flow cookie, for whichever it reaches.
      if (exchanged.tokens !== undefined && flow.k === undefined) {
        const left = Math.ceil((flow.t + FLOW_MS - Date.now()) / 1000);
        const sealed = await this.#flowSeal.seal({ ...flow, k: sessionPart(exchanged.tokens) });
        const cookie = `${this.flowCookie(flow.s)}=${sealed}${cookieAttributes(carry.secure, left)}`;
        if (left > 0 && cookie.length <= MAX_FLOW_COOKIE) carry.set(cookie);
      }
    }
    return done;
  }
}

/**
 * What a session is made of of the tokens (session-tokens.ts's sessionOf): the access token, a
 * provider's JWT of a few kilobytes, is none of it, and would outgrow the flow cookie.
 */
function sessionPart(tokens: oauth.TokenEndpointResponse): oauth.TokenEndpointResponse {
  const { token_type, id_token, refresh_token, expires_in } = tokens;
  return { access_token: '', token_type, id_token, refresh_token, expires_in };
}

function isObject(value: unknown): value is oauth.TokenEndpointResponse {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFlow(value: Record<string, unknown> | undefined): value is Record<string, unknown> & Flow {
  return (
    value !== undefined &&
    typeof value.s === 'string' &&
    typeof value.n === 'string' &&
    typeof value.v === 'string' &&
    typeof value.r === 'string' &&
    typeof value.t === 'number'
  );
}
