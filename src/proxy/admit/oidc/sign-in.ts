import type { JWTPayload } from 'jose';
import * as oauth from 'oauth4webapi';
import type { OidcAuthConfig } from '../../../core/config/types.ts';
import { Failure } from '../../../core/failure/failure.ts';
import { unusableAnswer } from '../../../core/failure/unusable-answer.ts';
import { cookieNamesStarting } from '../../../core/http1/cookie.ts';
import { OwnAnswer } from '../../../core/net/own-answer.ts';
import { type JwtRules, newerKeysMayVerify, verifyJwt } from '../jwt-verify.ts';
import type { IssuerHop } from './issuer-hop.ts';
import { localPath } from './local-path.ts';
import { type CookieSeal, cookieAttributes } from './session-cookie.ts';
import type { SessionStore } from './session-store.ts';
import { tokenRefusal } from './token-refusal.ts';

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
/** An answer at the redirect path that is none to read (no code, another issuer's, its state missing): the browser's 400. */
const UNREADABLE_ANSWER = refusedState(
  'the answer from the identity provider is not one to read',
  'bad authorization answer',
);
/** The authorization answer's error codes that say the provider failed, not that the user was refused. */
const PROVIDER_DOWN = new Set(['server_error', 'temporarily_unavailable']);
/**
 * The codes that say the user declined (or the provider denied them), or the sign-in stopped
 * short of what it needed of them (OpenID Connect Core §3.1.2.6): a person's to try again, not
 * the gateway's configuration to fix (as `invalid_scope` or `unauthorized_client` would be).
 */
const NOT_COMPLETED = new Set([
  'access_denied',
  'login_required',
  'consent_required',
  'interaction_required',
]);

/** What the sign-in cookie holds between the redirect to the provider and its answer. */
interface Flow {
  /** state, nonce, PKCE code verifier, the path to return to, and when it began (Date.now()). */
  readonly s: string;
  readonly n: string;
  readonly v: string;
  readonly r: string;
  readonly t: number;
  /**
   * The tokens its code was exchanged for, when the sign-in then failed at the provider (its
   * keys): the retry, at whichever worker or gateway, finishes with them and does not spend the
   * code again (a provider refuses a code's second use, and may revoke what the first gave).
   */
  readonly k?: oauth.TokenEndpointResponse;
}

/** Tokens the code was exchanged for, the ID token checked: what the session is made of. */
export interface SignedIn {
  readonly claims: JWTPayload;
  readonly tokens: oauth.TokenEndpointResponse;
}

/** The tokens an answer's code was exchanged for, once it was. */
interface Exchanged {
  tokens: oauth.TokenEndpointResponse | undefined;
}

/** A request's refusal by the sign-in: its status, what the client is told, and the log's note. */
export interface SignInRefusal {
  readonly refused: 400 | 401 | 403;
  readonly details: string;
  readonly note: string;
  /** The path of this host whose request begins a new sign-in, for one the provider declined. */
  readonly signInAgain?: string;
}

/** The provider's client as oauth4webapi knows it: its id and the clock skew its checks tolerate. */
export function oidcClientOf(config: OidcAuthConfig): oauth.Client {
  return { client_id: config.clientId, [oauth.clockTolerance]: Math.ceil(config.clockSkew / 1000) };
}

/**
 * The authorization code flow's two legs (OpenID Connect Core §3.1): the redirect to the
 * provider, with PKCE (RFC 7636, S256), a state and a nonce sealed into a short-lived cookie;
 * and the provider's answer at the redirect path, whose state must be the cookie's and never
 * seen before (one use: a replayed answer is refused), whose code is exchanged at the token
 * endpoint, and whose ID token is checked by the JWT path's verifier against the provider's
 * keys, its nonce the cookie's.
 */
export class SignIn {
  readonly #config: OidcAuthConfig;
  readonly #issuer: IssuerHop;
  readonly #flowSeal: CookieSeal;
  readonly #client: oauth.Client;
  readonly #clientAuth: oauth.ClientAuth;
  readonly #rules: JwtRules;
  /** With `store.redis`: the answered states shared by every worker (the issuer's are this process's). */
  readonly #store: SessionStore | undefined;

  constructor(
    config: OidcAuthConfig,
    issuer: IssuerHop,
    flowSeal: CookieSeal,
    clientSecret: string | undefined,
    store?: SessionStore,
  ) {
    this.#config = config;
    this.#store = store;
    this.#issuer = issuer;
    this.#flowSeal = flowSeal;
    this.#client = oidcClientOf(config);
    this.#clientAuth = clientSecret === undefined ? oauth.None() : oauth.ClientSecretBasic(clientSecret);
    this.#rules = {
      algorithms: new Set(config.algorithms),
      issuer: config.issuer,
      audiences: [config.clientId],
      clockSkew: config.clockSkew,
      requireExp: true,
    };
  }

  /**
   * The prefix of the cookies a sign-in's flow is kept in between the two legs: one per sign-in,
   * named by its state's first characters, so two tabs signing in at once (a browser restoring
   * them after the session ended) do not overwrite each other's.
   */
  get flowPrefix(): string {
    return `${this.#config.cookieName}_flow_`;
  }

  /** The cookie the flow of the sign-in whose state is `state` is kept in. */
  flowCookie(state: string): string {
    return `${this.flowPrefix}${state.slice(0, FLOW_NAME_CHARS)}`;
  }

  get client(): oauth.Client {
    return this.#client;
  }

  get clientAuth(): oauth.ClientAuth {
    return this.#clientAuth;
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
      server = await this.#issuer.heardFrom();
    } catch (err) {
      return this.#issuer.failure(err, 'the discovery document');
    }
    if (server.authorization_endpoint === undefined)
      return this.#issuer.failure(
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
   * spent, the code exchanged, the ID token checked. A refusal is the sign-in's (400 for a state
   * that is not this browser's or was used, 401 for the provider refusing the user or the
   * code); the provider failing is the hop's failure.
   */
  async complete(
    sealedFlow: string | undefined,
    query: URLSearchParams,
    redirectUri: string,
    carry: { readonly secure: boolean; set(cookie: string): void },
  ): Promise<(SignedIn & { readonly returnTo: string }) | SignInRefusal | Failure> {
    const flow = sealedFlow === undefined ? undefined : this.#flowSeal.open(sealedFlow);
    if (!isFlow(flow) || Date.now() - flow.t > FLOW_MS)
      return refusedState(
        'no sign-in of this browser is under way (its cookie is missing or expired)',
        'no flow',
      );
    if (query.get('state') !== flow.s)
      return refusedState("the sign-in's state is not the one this browser was given", 'state mismatch');
    const replayed = refusedState("the sign-in's state was used already", 'state replayed');
    const spent = this.#issuer.states.spend(flow.s, flow.t + FLOW_MS);
    if (spent === false) return replayed;
    // Then every worker's: a replay to another worker of this gateway, or another gateway, is one too.
    const shared = await this.#store?.spendState(flow.s, flow.t + FLOW_MS);
    if (shared instanceof Failure) {
      // Redis not answering is the store's 503: the same answer may come again once it does.
      this.#issuer.states.giveBack(flow.s, spent.redeemed);
      return shared;
    }
    if (shared === false) return replayed;
    const exchanged: Exchanged = { tokens: spent.redeemed ?? (isObject(flow.k) ? flow.k : undefined) };
    const done = await this.#redeem(flow, query, redirectUri, exchanged);
    // Refused with its state spent: the flow can never finish, and its cookie goes now rather
    // than in ten minutes (one of the few a browser keeps under way: MAX_FLOWS).
    if (!(done instanceof Failure) && 'refused' in done)
      carry.set(`${this.flowCookie(flow.s)}=${cookieAttributes(carry.secure, 0)}`);
    // The provider failed (down, slow, garbage): the client is told it may retry, and the same
    // answer again (a reload) is then no replay (sign-in-states.ts).
    if (done instanceof Failure) {
      this.#issuer.states.giveBack(flow.s, exchanged.tokens);
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

  /**
   * The answer's code exchanged for tokens (into `exchanged`, unless a failed try of the same
   * answer had), the ID token checked.
   */
  async #redeem(
    flow: Flow,
    query: URLSearchParams,
    redirectUri: string,
    exchanged: Exchanged,
  ): Promise<(SignedIn & { readonly returnTo: string }) | SignInRefusal | Failure> {
    let server: oauth.AuthorizationServer;
    try {
      server = await this.#issuer.discovery();
    } catch (err) {
      return this.#issuer.failure(err, 'the discovery document');
    }
    let params: URLSearchParams;
    try {
      params = oauth.validateAuthResponse(server, this.#client, query, flow.s);
    } catch (err) {
      // Its 500 and 503 said through the browser (RFC 6749 §4.1.2.1: a redirect carries no
      // status): the provider failing, a 503 as its 5xx is, never the user's 401.
      if (err instanceof oauth.AuthorizationResponseError && PROVIDER_DOWN.has(err.error))
        return this.#issuer.failure(
          new Failure('destination_unavailable', `it answered the sign-in with ${err.error}`, {
            retryAfter: 1,
          }),
          'the authorization endpoint',
        );
      if (err instanceof oauth.AuthorizationResponseError && NOT_COMPLETED.has(err.error))
        return {
          refused: 401,
          details: `the sign-in was declined or not completed at the identity provider (${err.error})`,
          note: `oidc provider said ${err.error}`,
          signInAgain: localPath(flow.r),
        };
      if (err instanceof oauth.AuthorizationResponseError)
        return {
          refused: 401,
          details: `the identity provider refused the sign-in (${err.error})`,
          note: `oidc provider said ${err.error}`,
        };
      return UNREADABLE_ANSWER;
    }
    // oauth4webapi leaves the code to the token request, whose complaint of none (or two) would
    // read as the provider's garbage, a 502 naming it: such an answer is the browser's to mend.
    const codes = params.getAll('code');
    if (codes.length !== 1 || codes[0] === '') return UNREADABLE_ANSWER;
    let tokens = exchanged.tokens;
    if (tokens === undefined)
      try {
        const answer = await oauth.authorizationCodeGrantRequest(
          server,
          this.#client,
          this.#clientAuth,
          params,
          redirectUri,
          flow.v,
          this.#issuer.options,
        );
        tokens = await this.#issuer.read(answer, () =>
          oauth.processAuthorizationCodeResponse(server, this.#client, answer, {
            expectedNonce: flow.n,
            requireIdToken: true,
          }),
        );
      } catch (err) {
        const refusal = tokenRefusal(err);
        if (refusal instanceof Failure) return this.#issuer.tokenEndpointFailure(refusal);
        if (refusal === 'grant' && err instanceof oauth.ResponseBodyError)
          return {
            refused: 401,
            details: `the identity provider refused the sign-in's code (${err.error})`,
            note: `oidc token endpoint said ${err.error}`,
          };
        return this.#issuer.tokenEndpointFailure(err);
      }
    exchanged.tokens = tokens;
    const checked = await this.checkIdToken(tokens.id_token as string);
    if (checked instanceof Failure) return checked;
    return { claims: checked.claims, tokens, returnTo: flow.r };
  }

  /**
   * An ID token's signature and claims, by the JWT path's verifier (jwt-verify.ts) against the
   * provider's keys (a kid they lack, or no kid that none of them verifies, asks for them again
   * once, within jwks_min_refresh); oauth4webapi checked its nonce,
   * audience, issuer and times already. The keys not to be had, or the token refused, is the hop's failure.
   */
  async checkIdToken(token: string): Promise<{ readonly claims: JWTPayload } | Failure> {
    try {
      const jwks = await this.#issuer.jwks();
      let checked = verifyJwt(token, await jwks.keys(), this.#rules);
      // A kid the keys lack, or no kid and none of them verifies it (a provider that names no
      // keys, signing with one published since they were fetched): asked for again, as auth.jwt does.
      if (newerKeysMayVerify(token, checked)) {
        const fresh = await jwks.lackingKey();
        if (fresh instanceof Failure) return this.#issuer.failure(fresh, 'the JWKS endpoint');
        if (fresh !== undefined) checked = verifyJwt(token, fresh, this.#rules);
      }
      if ('invalid' in checked && checked.invalid === 'ERR_JWKS_INVALID') return jwks.unusableKey();
      if ('claims' in checked) return checked;
      // The token endpoint's own answer to the gateway, never a token the user brought: refused
      // (an algorithm not in `algorithms`, a key its set lacks, a bad signature), it is an answer
      // the gateway cannot use, the hop's 502, not the user's 401.
      return this.#issuer.tokenEndpointFailure(
        unusableAnswer(`its ID token was not accepted (${checked.invalid})`),
      );
    } catch (err) {
      return this.#issuer.failure(err, 'the JWKS endpoint');
    }
  }
}

function refusedState(details: string, note: string): SignInRefusal {
  return { refused: 400, details, note: `oidc ${note}` };
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
