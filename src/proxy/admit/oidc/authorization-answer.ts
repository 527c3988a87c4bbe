/**
 * The sign-in's reading of the provider's answer at the redirect path (OpenID Connect Core
 * §3.1.2.5 to §3.1.3): the authorization answer checked, its code exchanged at the token
 * endpoint, the ID token checked against the provider's keys; and the refusals of an answer that
 * is none to read, that the provider declined or whose code it refused. SignIn (sign-in.ts) extends it with
 * the flow's two legs and their cookies: one object per provider, split in two files, not in two
 * objects; how an answer is read reads apart from how a sign-in begins and keeps its flow.
 */
import type { JWTPayload } from 'jose';
import * as oauth from 'oauth4webapi';
import type { OidcAuthConfig } from '../../../core/config/types.ts';
import { Failure } from '../../../core/failure/failure.ts';
import { unusableAnswer } from '../../../core/failure/unusable-answer.ts';
import { printable } from '../../../core/printable.ts';
import type { RequestSpans } from '../../../observe/tracing/spans.ts';
import { type JwtRules, newerKeysMayVerify, verifyJwt } from '../jwt-verify.ts';
import type { IssuerHop } from './issuer-hop.ts';
import { localPath } from './local-path.ts';
import { errorCode, nonceRefused, tokenRefusal } from './token-refusal.ts';

/** An answer at the redirect path that is none to read (no code, another issuer's, its state missing): the browser's 400. */
const UNREADABLE_ANSWER = refusedState(
  'the answer from the identity provider is not one to read',
  'bad authorization answer',
);
/** An ID token whose nonce is not the sign-in's, by what it says instead (token-refusal.ts's nonceRefused). */
const NONCE_REFUSED = {
  /** Its code was another sign-in's. */
  another: refusedState(
    "the sign-in's code was not issued for this browser's sign-in (its ID token's nonce is another's)",
    'nonce mismatch',
  ),
  /** Another sign-in's code, or a provider that leaves out the nonce it was sent: the operator's log tells which, by how often. */
  none: refusedState(
    "the sign-in's ID token carries no nonce: its code was not issued for this browser's sign-in, or the provider leaves out the nonce it is sent",
    'nonce missing',
  ),
} as const;
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
export interface Flow {
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
export interface Exchanged {
  tokens: oauth.TokenEndpointResponse | undefined;
}

/** A request's refusal by the sign-in: its status, what the client is told, and the log's note. */
export interface SignInRefusal {
  readonly refused: 400 | 401 | 403;
  readonly details: string;
  readonly note: string;
  /** The path of this host whose request begins a new sign-in, for one the provider declined or whose flow is gone. */
  readonly signInAgain?: string;
}

/** The provider's client as oauth4webapi knows it: its id and the clock skew its checks tolerate. */
export function oidcClientOf(config: OidcAuthConfig): oauth.Client {
  return { client_id: config.clientId, [oauth.clockTolerance]: Math.ceil(config.clockSkew / 1000) };
}

/**
 * The half of SignIn (sign-in.ts) that reads the provider's answer: the client it is, the code's
 * redemption and the ID token's check (which a session's refresh uses too: session-tokens.ts).
 */
export abstract class AuthorizationAnswerReading {
  protected readonly issuer: IssuerHop;
  readonly #client: oauth.Client;
  readonly #clientAuth: oauth.ClientAuth;
  readonly #rules: JwtRules;

  constructor(config: OidcAuthConfig, issuer: IssuerHop, clientSecret: string | undefined) {
    this.issuer = issuer;
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

  get client(): oauth.Client {
    return this.#client;
  }

  get clientAuth(): oauth.ClientAuth {
    return this.#clientAuth;
  }

  /**
   * The answer's code exchanged for tokens (into `exchanged`, unless a failed try of the same
   * answer had), the ID token checked.
   */
  protected async redeem(
    flow: Flow,
    query: URLSearchParams,
    redirectUri: string,
    exchanged: Exchanged,
    spans: RequestSpans | undefined,
  ): Promise<(SignedIn & { readonly returnTo: string }) | SignInRefusal | Failure> {
    let server: oauth.AuthorizationServer;
    try {
      server = await this.issuer.discovery();
    } catch (err) {
      return this.issuer.failure(err, 'the discovery document');
    }
    let params: URLSearchParams;
    try {
      params = oauth.validateAuthResponse(server, this.#client, query, flow.s);
    } catch (err) {
      // Its 500 and 503 said through the browser (RFC 6749 §4.1.2.1: a redirect carries no
      // status): the provider failing, a 503 as its 5xx is, never the user's 401.
      if (err instanceof oauth.AuthorizationResponseError && PROVIDER_DOWN.has(err.error))
        return this.issuer.failure(
          new Failure('destination_unavailable', `it answered the sign-in with ${err.error}`, {
            retryAfter: 1,
          }),
          'the authorization endpoint',
        );
      if (err instanceof oauth.AuthorizationResponseError && NOT_COMPLETED.has(err.error))
        return {
          refused: 401,
          details: `the sign-in was declined or not completed at the identity provider (${err.error})`,
          note: providerSaid(err),
          signInAgain: localPath(flow.r),
        };
      if (err instanceof oauth.AuthorizationResponseError) {
        const code = errorCode(err.error);
        return {
          refused: 401,
          details: `the identity provider refused the sign-in (${code})`,
          note: providerSaid(err, code),
        };
      }
      return UNREADABLE_ANSWER;
    }
    // oauth4webapi leaves the code to the token request, whose complaint of none (or two) would
    // read as the provider's garbage, a 502 naming it: such an answer is the browser's to mend.
    const codes = params.getAll('code');
    if (codes.length !== 1 || codes[0] === '') return UNREADABLE_ANSWER;
    let checked: { readonly claims: JWTPayload } | Failure | undefined;
    if (exchanged.tokens === undefined)
      try {
        const answer = await oauth.authorizationCodeGrantRequest(
          server,
          this.#client,
          this.#clientAuth,
          params,
          redirectUri,
          flow.v,
          this.issuer.optionsFor(spans),
        );
        const process = () =>
          oauth.processAuthorizationCodeResponse(server, this.#client, answer, {
            expectedNonce: flow.n,
            requireIdToken: true,
          });
        checked = await this.readTokens(answer, process, exchanged, flow.n);
      } catch (err) {
        const nonce = nonceRefused(err, flow.n);
        if (nonce !== undefined) return NONCE_REFUSED[nonce];
        const refusal = tokenRefusal(err);
        if (refusal instanceof Failure) return this.issuer.tokenEndpointFailure(refusal);
        if (refusal === 'grant' && err instanceof oauth.ResponseBodyError)
          return {
            refused: 401,
            details: `the identity provider refused the sign-in's code (${err.error})`,
            note: `oidc token endpoint said ${err.error}`,
          };
        return this.issuer.tokenEndpointFailure(err);
      }
    const tokens = exchanged.tokens as oauth.TokenEndpointResponse;
    // A retry of an answer whose keys failed: its tokens were had, nothing asked of the token endpoint.
    checked ??= await this.checkIdToken(tokens.id_token as string);
    if (checked instanceof Failure) return checked;
    return { claims: checked.claims, tokens, returnTo: flow.r };
  }

  /**
   * The token endpoint's answer read by oauth4webapi (`process`, into `exchanged`) and its ID
   * token checked, judged as one answer on the provider's circuit (issuer-hop.ts's `read`): the
   * token endpoint hands its ID token to the gateway over the gateway's own connection, so one
   * the gateway cannot use is the provider failing, whichever check refused it: oauth4webapi's
   * (`aud`, `iss`, `exp`) or the gateway's own (its signature, its algorithm). Five in a row open
   * the circuit, as its garbage does. An ID token of another sign-in (its nonce not `nonce`:
   * nonceRefused) is the client's and counts as the provider answering. The keys not to be had
   * are theirs to count (jwks-source.ts): that answer's check is returned, not thrown; undefined
   * when the answer has no ID token (a renewal's may not). Throws what `process` threw, and the
   * ID token refused as the hop's failure, counted on its row.
   */
  async readTokens(
    answer: Response,
    process: () => Promise<oauth.TokenEndpointResponse>,
    exchanged: Exchanged,
    nonce?: string,
  ): Promise<{ readonly claims: JWTPayload } | Failure | undefined> {
    return this.issuer.read(
      answer,
      async () => {
        const tokens = await process();
        // Kept before the check: a retry after the keys failed does not spend the code again.
        exchanged.tokens = tokens;
        if (tokens.id_token === undefined) return undefined;
        const checked = await this.#verifyIdToken(tokens.id_token);
        if ('refused' in checked) throw this.#refusedIdToken(checked.refused);
        return checked;
      },
      nonce === undefined ? undefined : (err) => nonceRefused(err, nonce) !== undefined,
    );
  }

  /**
   * An ID token's signature and claims, by the JWT path's verifier (jwt-verify.ts) against the
   * provider's keys (a kid they lack, or no kid that none of them verifies, asks for them again
   * once, within jwks_min_refresh); oauth4webapi checked its nonce,
   * audience, issuer and times already. The keys not to be had, or the token refused, is the hop's failure.
   */
  async checkIdToken(token: string): Promise<{ readonly claims: JWTPayload } | Failure> {
    const checked = await this.#verifyIdToken(token);
    return 'refused' in checked ? this.#refusedIdToken(checked.refused) : checked;
  }

  /** An ID token checked: its claims, the code of its refusal, or the keys' failure (the hop's, counted where they are fetched). */
  async #verifyIdToken(
    token: string,
  ): Promise<{ readonly claims: JWTPayload } | { readonly refused: string } | Failure> {
    try {
      const jwks = await this.issuer.jwks();
      let checked = verifyJwt(token, await jwks.keys(), this.#rules);
      // A kid the keys lack, or no kid and none of them verifies it (a provider that names no
      // keys, signing with one published since they were fetched): asked for again, as auth.jwt does.
      if (newerKeysMayVerify(token, checked)) {
        const fresh = await jwks.lackingKey();
        if (fresh instanceof Failure) return this.issuer.failure(fresh, 'the JWKS endpoint');
        if (fresh !== undefined) checked = verifyJwt(token, fresh, this.#rules);
      }
      if ('invalid' in checked && checked.invalid === 'ERR_JWKS_INVALID') return jwks.unusableKey();
      if ('claims' in checked) return checked;
      return { refused: checked.invalid };
    } catch (err) {
      return this.issuer.failure(err, 'the JWKS endpoint');
    }
  }

  /**
   * The token endpoint's own answer to the gateway, never a token the user brought: refused (an
   * algorithm not in `algorithms`, a key its set lacks, a bad signature), it is an answer the
   * gateway cannot use, the hop's 502, not the user's 401.
   */
  #refusedIdToken(code: string): Failure {
    return this.issuer.tokenEndpointFailure(unusableAnswer(`its ID token was not accepted (${code})`));
  }
}

export function refusedState(details: string, note: string, signInAgain?: string): SignInRefusal {
  return {
    refused: 400,
    details,
    note: `oidc ${note}`,
    ...(signInAgain === undefined ? {} : { signInAgain }),
  };
}

/** The most of a provider's `error_description` a log line carries. */
const DESCRIPTION_CHARS = 200;

/**
 * What the provider said of a sign-in it did not complete, for the log line: its error code
 * (`code`, cleaned by errorCode where the gateway does not know it) and
 * its own words on it (RFC 6749 §4.1.2.1's `error_description`: `invalid_scope` alone leaves the
 * operator guessing which scope), control characters escaped and bounded. Never on the page: any
 * link to the callback may carry words of the link-maker's.
 */
function providerSaid(err: oauth.AuthorizationResponseError, code = err.error): string {
  const words = err.error_description;
  if (words === undefined || words === '') return `oidc provider said ${code}`;
  const cut = words.length > DESCRIPTION_CHARS ? `${words.slice(0, DESCRIPTION_CHARS)}…` : words;
  return `oidc provider said ${code} (${printable(cut, true)})`;
}
