import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { OidcAuthConfig } from '../../../core/config/types.ts';
import { Failure } from '../../../core/failure/failure.ts';
import { namesAcceptable } from '../../../core/failure/negotiate.ts';
import { type AnswerEdit, OwnAnswer } from '../../../core/net/own-answer.ts';
import { ClaimFields } from '../claim-fields.ts';
import { identityOf } from '../identity.ts';
import { setOnAnswer } from './answer-cookies.ts';
import type { SignedIn, SignInRefusal } from './authorization-answer.ts';
import { withoutSealed } from './gateway-cookies.ts';
import type { IssuerHop } from './issuer-hop.ts';
import { localPath } from './local-path.ts';
import { logoutConfirmation, logoutFromElsewhere } from './logout-guard.ts';
import type { RenewalPeers } from './renewal-peers.ts';
import type { Session, SignInRequest } from './session.ts';
import {
  CookieSeal,
  clearSealed,
  cookieAttributes,
  readSealed,
  sealedCopies,
  setSealed,
} from './session-cookie.ts';
import { newSessionId, type SessionStore } from './session-store.ts';
import { SessionTokens } from './session-tokens.ts';
import { SignIn } from './sign-in.ts';

/** What the sign-in made of a request. */
export type OidcVerdict =
  | {
      readonly admitted: JWTPayload;
      readonly identity: string | undefined;
      /** What went wrong that did not keep the user out (the log's `auth: "allowed: …"`). */
      readonly but?: string;
    }
  | { readonly answer: OwnAnswer; readonly note: 'allowed' | `denied: ${string}` }
  | SignInRefusal
  | { readonly failed: Failure };

/** The log's `auth` of a request whose renewed session its cookies could not hold. */
const RENEWAL_NOT_KEPT =
  'oidc session renewed, but too large for its cookies: not kept (auth.oidc.store keeps sessions in Redis)';

/**
 * OpenID Connect sign-in at the edge for one route (`auth.oidc`): the browser without a session
 * sent to the provider (sign-in.ts), its answer at `redirect_path` made a session sealed in
 * cookies, the session checked on every request (decrypted, its expiry, the allowed claims),
 * renewed before it expires with the refresh token (session-tokens.ts), ended at `logout_path`
 * with the provider's RP-initiated logout. A client that is no browser (no `Accept: text/html`,
 * or an Authorization field) is never redirected: it gets 401. The provider's failures are the
 * hop's (issuer-hop.ts): a session still good goes on through them. With `store.redis` the
 * session is kept in Redis (session-store.ts) and the cookie seals only its random id.
 */
export class OidcAuth {
  readonly #config: OidcAuthConfig;
  readonly #issuer: IssuerHop;
  readonly #seal: CookieSeal;
  readonly #signIn: SignIn;
  readonly #tokens: SessionTokens;
  readonly #store: SessionStore | undefined;

  constructor(
    config: OidcAuthConfig,
    issuer: IssuerHop,
    env: NodeJS.ProcessEnv = process.env,
    store?: SessionStore,
    peers?: RenewalPeers,
  ) {
    const secret = env[config.cookieSecretEnv] ?? '';
    // A short secret is a guessable key: refused when the rules are built, naming the variable.
    if (secret.length < 32)
      throw new Error(
        `auth.oidc.cookie.secret_env: the variable ${config.cookieSecretEnv} must hold a secret of 32 characters or more`,
      );
    const clientSecret = config.clientSecretEnv === undefined ? undefined : env[config.clientSecretEnv];
    if (config.clientSecretEnv !== undefined && (clientSecret ?? '') === '')
      throw new Error(`auth.oidc.client_secret_env: the variable ${config.clientSecretEnv} is not set`);
    this.#config = config;
    this.#issuer = issuer;
    this.#store = store;
    this.#seal = new CookieSeal(secret, 'session');
    // A flow is its route's provider and client's: another route's (another provider, which
    // learns the flow's state, nonce and challenge) never opens here, or its provider could
    // have a victim redeem here a code it got for its own account (a mix-up, RFC 9700 §4.4).
    const flowOf = createHash('sha256').update(`${config.issuer}\n${config.clientId}`).digest('base64url');
    this.#signIn = new SignIn(config, issuer, new CookieSeal(secret, `flow ${flowOf}`), clientSecret, store);
    this.#tokens = new SessionTokens(issuer, this.#signIn, peers);
    this.withoutCookies = withoutSealed(config.cookieName, this.#signIn.flowPrefix);
    this.claimFields =
      config.claimsToHeaders.length === 0 ? undefined : new ClaimFields(config.claimsToHeaders);
  }

  /** `claims_to_headers`: the session's claims told upstream; undefined without any. */
  readonly claimFields: ClaimFields | undefined;

  /** The edit of the request sent upstream that takes the session's and the sign-in's cookies out. */
  readonly withoutCookies: AnswerEdit;

  /** Decided at once for a session good and not due for renewal (the usual request); a promise otherwise. */
  check(request: SignInRequest): OidcVerdict | Promise<OidcVerdict> {
    const query = request.target.indexOf('?');
    const path = query === -1 ? request.target : request.target.slice(0, query);
    const secure = request.protocol === 'https';
    if (path === this.#config.redirectPath)
      return this.#callback(
        request,
        new URLSearchParams(query === -1 ? '' : request.target.slice(query + 1)),
        secure,
      );
    if (path === this.#config.logoutPath && logoutFromElsewhere(request, secure))
      return {
        answer: logoutConfirmation(this.#config.logoutPath),
        note: 'denied: oidc logout from another site, confirmation asked',
      };
    // The first copy the gateway sealed: one of the same name set by another site comes first.
    const copies = sealedCopies(request.fields, this.#config.cookieName);
    let opened: Record<string, unknown> | undefined;
    for (let i = 0; opened === undefined && i < copies.length; i++) opened = this.#seal.open(copies[i]);
    const why = copies.length === 0 ? 'no session' : 'session cookie not accepted';
    if (this.#store !== undefined) return this.#stored(this.#store, request, path, opened, why, secure);
    const session = toSession(opened);
    if (path === this.#config.logoutPath) return this.#logout(request, session, secure);
    return this.#proceed(request, session, why, secure, undefined);
  }

  /**
   * The session the cookie's id names read from the store: Redis not answering is its failure (a
   * 503), never the user's 401; an id it no longer holds (expired, logged out) is no session. The
   * logout deletes it before the cookies are cleared: a copy of the cookie must not outlive it.
   */
  async #stored(
    store: SessionStore,
    request: SignInRequest,
    path: string,
    opened: Record<string, unknown> | undefined,
    why: string,
    secure: boolean,
  ): Promise<OidcVerdict> {
    const id = typeof opened?.s === 'string' ? opened.s : undefined;
    const session = id === undefined ? undefined : await store.get(id);
    if (session instanceof Failure) return { failed: session };
    if (path === this.#config.logoutPath) {
      const gone = id === undefined || session === undefined ? undefined : await store.delete(id);
      return gone instanceof Failure ? { failed: gone } : this.#logout(request, session, secure);
    }
    return this.#proceed(request, session, id !== undefined ? 'session not in the store' : why, secure, id);
  }

  /** A session found (or not) admitted, renewed or sent to sign in; `id`: the store's key for it. */
  #proceed(
    request: SignInRequest,
    session: Session | undefined,
    why: string,
    secure: boolean,
    id: string | undefined,
  ): OidcVerdict | Promise<OidcVerdict> {
    if (session === undefined) return this.#noSession(request, secure, why);
    if (!this.#madeHere(session.c))
      return this.#noSession(request, secure, 'session of another provider or client');
    const now = Date.now();
    // Renewed once a quarter of its life is left (at most a minute ahead): the user never meets its end.
    const renewAt = session.e - Math.min(60_000, (session.e - session.a) / 4);
    if (now < renewAt || session.r === undefined)
      return now < session.e ? this.#admit(session) : this.#noSession(request, secure, 'session expired');
    return this.#renew(request, session, secure, id);
  }

  /** The session renewed at the token endpoint, its new cookies on the answer; the provider down, it goes on while still good. */
  async #renew(
    request: SignInRequest,
    session: Session,
    secure: boolean,
    id: string | undefined,
  ): Promise<OidcVerdict> {
    const now = Date.now();
    const renewed = await this.#tokens.refresh(session, request.spans);
    if (renewed instanceof Failure)
      // The provider down: a session still good goes on with what it has; one past its end waits for it.
      return now < session.e ? this.#admit(session) : { failed: renewed };
    if (renewed === undefined) return this.#noSession(request, secure, 'session refresh refused');
    if (this.#store !== undefined && id !== undefined) {
      // Kept under the same id: the cookie stays as it is.
      const written = await this.#store.put(id, renewed);
      return written instanceof Failure ? { failed: written } : this.#admit(renewed);
    }
    const cookies = await this.#cookies(renewed, secure);
    if (Array.isArray(cookies)) setOnAnswer(request.headers, cookies);
    const verdict = this.#admit(renewed);
    // Renewed, and too large for the cookies even without its ID token: the browser keeps the
    // session before, whose refresh token a provider that rotates them no longer takes (the user
    // signed out at the next renewal). Said on the line of every request it happens to.
    if (cookies === undefined && 'admitted' in verdict) return { ...verdict, but: RENEWAL_NOT_KEPT };
    return verdict;
  }

  /**
   * Whether a session is this route's: its ID token issued by this route's provider to this
   * route's client (OpenID Connect Core §3.1.3.7). Routes of other providers or clients seal
   * theirs with the same secret (one variable for the gateway), and the cookie opens alike: one
   * made there would let in a user this route's provider, or its client's assignment, never did.
   */
  #madeHere(claims: JWTPayload): boolean {
    const { aud } = claims;
    const clientId = this.#config.clientId;
    return (
      claims.iss === this.#config.issuer &&
      (aud === clientId || (Array.isArray(aud) && aud.includes(clientId)))
    );
  }

  /** A session's claims judged by `allowed`, and its user named. */
  #admit(session: Session): OidcVerdict {
    const refused = this.#notAllowed(session.c);
    if (refused !== undefined) return refused;
    const claim = this.#config.identityClaim;
    return {
      admitted: session.c,
      identity: identityOf(Object.hasOwn(session.c, claim) ? session.c[claim] : undefined),
    };
  }

  #notAllowed(claims: JWTPayload): SignInRefusal | undefined {
    for (const { claim, values } of this.#config.allowed) {
      const value = Object.hasOwn(claims, claim) ? claims[claim] : undefined;
      const have = Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)];
      if (!have.some((v) => values.includes(v)))
        return {
          refused: 403,
          details: 'the signed-in user may not use this route',
          note: `oidc claim ${claim} not allowed`,
        };
    }
    return undefined;
  }

  /** A browser is sent to sign in; anything else is refused with 401 (an API client cannot follow a login page). */
  async #noSession(request: SignInRequest, secure: boolean, why: string): Promise<OidcVerdict> {
    if (!isBrowser(request)) {
      const refused = {
        refused: 401,
        details: 'this route needs a signed-in session',
        note: `oidc ${why}`,
      } as const;
      // A person's form posted after the session ended: the page links to a GET of its address,
      // which begins a sign-in and comes back there, where a program's advice would say nothing to them.
      return isPersonsNavigation(request) ? { ...refused, signInAgain: localPath(request.target) } : refused;
    }
    const answer = await this.#signIn.begin(
      this.#redirectUri(request, secure),
      request.target,
      secure,
      request.fields.cookie,
    );
    return answer instanceof Failure
      ? { failed: answer }
      : { answer, note: `denied: oidc ${why}, sign-in begun` };
  }

  async #callback(request: SignInRequest, query: URLSearchParams, secure: boolean): Promise<OidcVerdict> {
    // The flow cookie the state names (a base64url state, as the gateway makes them: any other finds none).
    const state = query.get('state') ?? '';
    const flowCookie = this.#signIn.flowCookie(state);
    const flow = /^[\w-]{12,}$/.test(state) ? readSealed(request.fields, flowCookie) : undefined;
    const done = await this.#signIn.complete(
      flow,
      query,
      this.#redirectUri(request, secure),
      { secure, set: (cookie) => setOnAnswer(request.headers, [cookie]), spans: request.spans },
      (signedIn) => this.#signedIn(signedIn, secure),
    );
    if (done instanceof Failure) return { failed: done };
    if (done instanceof OwnAnswer) return { answer: done, note: 'allowed' };
    return done;
  }

  /** A user signed in at the provider: `allowed` asked, the session made and sent back to the page asked for. */
  async #signedIn(
    done: SignedIn & { readonly returnTo: string },
    secure: boolean,
  ): Promise<OwnAnswer | SignInRefusal | Failure> {
    const refused = this.#notAllowed(done.claims);
    if (refused !== undefined) return refused;
    const session = this.#tokens.sessionOf(done.claims, done.tokens, done.tokens.id_token, undefined);
    const cookies = await this.#cookies(session, secure);
    if (cookies instanceof Failure) return cookies;
    if (cookies === undefined)
      return {
        refused: 403,
        details: "the signed-in user's session is too large for cookies",
        note: 'oidc session too large',
      };
    // Back where the sign-in began: a path of this host only (the flow's own, sealed), never elsewhere.
    const headers = ['location', localPath(done.returnTo), 'cache-control', 'no-store'];
    for (const cookie of cookies) headers.push('set-cookie', cookie);
    return new OwnAnswer(302, headers);
  }

  /**
   * The session's cookies cleared, then the provider's end_session_endpoint (RP-initiated
   * logout 1.0) when its last good discovery document names one, with the ID token as hint;
   * else straight to `post_logout_redirect`. The provider down ends the gateway's session all
   * the same: the logout asks nothing of it.
   */
  #logout(request: SignInRequest, session: Session | undefined, secure: boolean): OidcVerdict {
    const base = `${secure ? 'https' : 'http'}://${request.host}`;
    const after = new URL(this.#config.postLogoutRedirect, base).href;
    const end = this.#issuer.lastGood?.end_session_endpoint;
    let location = after;
    if (end !== undefined) {
      const url = new URL(end);
      url.searchParams.set('client_id', this.#config.clientId);
      url.searchParams.set('post_logout_redirect_uri', after);
      // Only an ID token this provider issued to this client: another route's session (its
      // provider another, under the same cookie name) is cleared, its token never handed over.
      if (session?.i !== undefined && this.#madeHere(session.c))
        url.searchParams.set('id_token_hint', session.i);
      location = url.href;
    }
    const headers = ['location', location, 'cache-control', 'no-store'];
    for (const cookie of clearSealed(this.#config.cookieName, cookieAttributes(secure)))
      headers.push('set-cookie', cookie);
    return { answer: new OwnAnswer(302, headers), note: 'allowed' };
  }

  /**
   * The session sealed into its cookies: without the ID token when they cannot hold it; undefined
   * when they cannot hold even that. With a store, the session kept there under a new id, and the
   * id alone sealed (the store's Failure when it could not be written).
   */
  async #cookies(session: Session, secure: boolean): Promise<string[] | undefined | Failure> {
    const attributes = cookieAttributes(secure);
    if (this.#store !== undefined) {
      const id = newSessionId();
      const written = await this.#store.put(id, session);
      if (written instanceof Failure) return written;
      return setSealed(this.#config.cookieName, await this.#seal.seal({ s: id }), attributes);
    }
    const whole = setSealed(this.#config.cookieName, await this.#seal.seal(session), attributes);
    if (whole !== undefined || session.i === undefined) return whole;
    const { i: _dropped, ...smaller } = session;
    return setSealed(this.#config.cookieName, await this.#seal.seal(smaller), attributes);
  }

  /** The redirect URI the provider sends the browser back to: this host's, on the scheme it came by. */
  #redirectUri(request: SignInRequest, secure: boolean): string {
    return `${secure ? 'https' : 'http'}://${request.host}${this.#config.redirectPath}`;
  }
}

/**
 * A browser that can follow a sign-in: a GET (or HEAD) asking for HTML (`text/html` named in
 * Accept, not with `q=0`, which refuses it), with no Authorization (a client sending a bearer
 * token is a program, which a login page would only confuse). A page's own script asking for HTML
 * (htmx, Turbo) is none either: its browser says `Sec-Fetch-Mode` other than `navigate`, and its
 * fetch would follow the redirect in CORS mode to the provider's origin, whose login page carries
 * no CORS fields, so the script read a network error where a 401 lets it act.
 */
function isBrowser(request: SignInRequest): boolean {
  const { method } = request;
  return (method === 'GET' || method === 'HEAD') && isPersonsNavigation(request);
}

/**
 * A person's navigation, whatever its method: HTML asked for, no Authorization, the browser's
 * `Sec-Fetch-Mode` (when it says one) a navigation's. One that is no GET (a form's POST, its
 * body not kept through the provider) cannot be sent to sign in, but its page links to one.
 */
function isPersonsNavigation(request: SignInRequest): boolean {
  const { fields } = request;
  if (fields.authorization !== undefined) return false;
  const mode = fields['sec-fetch-mode'];
  if (mode !== undefined && mode !== 'navigate') return false;
  const accept = fields.accept;
  return typeof accept === 'string' && namesAcceptable(accept, 'text/html');
}

/** What a cookie opened to, if it is a session. */
function toSession(value: Record<string, unknown> | undefined): Session | undefined {
  if (value === undefined) return undefined;
  const { c, a, e } = value;
  if (typeof c !== 'object' || c === null || typeof a !== 'number' || typeof e !== 'number') return undefined;
  return value as unknown as Session;
}
