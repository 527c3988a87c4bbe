import { createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, FlattenedSign, type JWK } from 'jose';
import { retryAfterMs } from '../../core/retry/retry-after.ts';
import { type AcmeAnswer, type AcmeHttpOptions, acmeRequest } from './acme-http.ts';
import { AcmeProblem } from './acme-problem.ts';

/** The directory's resources Candor uses (RFC 8555 §7.1.1; `renewalInfo` from RFC 9773). */
export interface AcmeDirectory {
  readonly newNonce: string;
  readonly newAccount: string;
  readonly newOrder: string;
  readonly renewalInfo?: string;
  readonly meta?: { readonly termsOfService?: string; readonly caaIdentities?: readonly string[] };
}

/** The ACME account of the client's key, as account() found or made it. */
export interface AcmeAccount {
  /** Its URL: the `kid` every later request names it by. */
  readonly url: string;
  /** The contact the CA held for it before account() brought it to the one asked; absent: it was that already. */
  readonly replaced?: readonly string[];
}

export interface AcmeOrder {
  readonly url: string;
  readonly status: 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
  readonly authorizations: readonly string[];
  readonly finalize: string;
  readonly certificate?: string;
  readonly error?: unknown;
}

export interface AcmeChallenge {
  readonly type: string;
  readonly url: string;
  readonly token: string;
  readonly status: 'pending' | 'processing' | 'valid' | 'invalid';
  readonly error?: unknown;
}

export interface AcmeAuthorization {
  readonly identifier: { readonly type: string; readonly value: string };
  /** A wildcard's (RFC 8555 §7.1.4): `identifier` is then the name under `*.`. */
  readonly wildcard?: boolean;
  readonly status: 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
  readonly challenges: readonly AcmeChallenge[];
}

/** A badNonce is the server asking for another try with a fresh nonce (RFC 8555 §6.5): this many. */
const NONCE_RETRIES = 5;

/**
 * The ACME protocol (RFC 8555) as a client speaks it: every request a JWS signed with the
 * account key (ES256), carrying a fresh nonce and its own URL; the account found or made once
 * and named by its URL (`kid`) from then on; POST-as-GET for every read. Each method is one
 * exchange; the order's steps are put together by acme-order.ts.
 */
export class AcmeClient {
  readonly #directoryUrl: string;
  readonly #key: KeyObject;
  readonly #http: AcmeHttpOptions;
  #directory: AcmeDirectory | undefined;
  #nonce: string | undefined;
  #kid: string | undefined;
  #account: Promise<AcmeAccount> | undefined;
  #jwk: JWK | undefined;
  #thumbprint: string | undefined;

  constructor(directoryUrl: string, accountKey: KeyObject, http: AcmeHttpOptions) {
    this.#directoryUrl = directoryUrl;
    this.#key = accountKey;
    this.#http = http;
  }

  async directory(): Promise<AcmeDirectory> {
    if (this.#directory) return this.#directory;
    const answer = await acmeRequest('GET', this.#directoryUrl, this.#http);
    const doc = parseJson(answer);
    // A CA down for a while (503 with a Retry-After, a problem document) is not a wrong acme.directory.
    if (answer.status >= 500 || answer.status === 429 || isProblem(doc)) throw refusal(answer);
    // Each resource used must be a URL: one missing was requested as `undefined`, which
    // node:https takes for https://localhost/ (a signed newAccount sent to whatever listens there).
    if (answer.status !== 200 || !isDirectory(doc))
      throw new AcmeProblem(
        'candor:directory',
        `${this.#directoryUrl} is not an ACME directory (status ${answer.status})`,
        answer.status,
      );
    this.#directory = doc as AcmeDirectory;
    return this.#directory;
  }

  /** The key authorization of a challenge's token (RFC 8555 §8.1): what the CA expects to find. */
  async keyAuthorization(token: string): Promise<string> {
    this.#thumbprint ??= await calculateJwkThumbprint(await this.#publicJwk(), 'sha256');
    return `${token}.${this.#thumbprint}`;
  }

  /**
   * Finds the account of this key, or makes it (agreeing to the terms of service), once per
   * client: a second call (an order beside the start's look) shares the first's answer, and one
   * that failed is tried again by the next. An account found (200) comes as the CA holds it, its
   * contact not the one sent (RFC 8555 §7.3.1: the request's fields are ignored): when that is
   * not `email`'s (an `acme.email` changed, or removed), it is brought to it (§7.3.2).
   */
  account(email: string | undefined): Promise<AcmeAccount> {
    this.#account ??= this.#findAccount(email).catch((err: unknown) => {
      this.#account = undefined;
      throw err;
    });
    return this.#account;
  }

  async #findAccount(email: string | undefined): Promise<AcmeAccount> {
    const { newAccount } = await this.directory();
    const contact = contactFor(email);
    const payload = { termsOfServiceAgreed: true, ...(email === undefined ? {} : { contact }) };
    const answer = await this.#post(newAccount, payload, 'jwk');
    if (answer.status !== 200 && answer.status !== 201) throw refusal(answer);
    const location = header(answer, 'location');
    if (!location)
      throw new AcmeProblem('candor:account', 'the new account came without its URL', answer.status);
    this.#kid = location;
    if (answer.status === 201) return { url: location };
    const held = keptContact(parseJson(answer)?.contact);
    if (sameContact(held, contact)) return { url: location };
    const updated = await this.#post(location, { contact });
    if (updated.status !== 200) throw refusal(updated);
    return { url: location, replaced: held };
  }

  async newOrder(names: readonly string[], replaces?: string): Promise<AcmeOrder> {
    const { newOrder } = await this.directory();
    const payload = {
      identifiers: names.map((value) => ({ type: 'dns', value })),
      ...(replaces === undefined ? {} : { replaces }),
    };
    const answer = await this.#post(newOrder, payload);
    if (answer.status !== 201) throw refusal(answer);
    const url = header(answer, 'location');
    if (!url) throw new AcmeProblem('candor:order', 'the new order came without its URL', answer.status);
    return { ...checked(parseJson(answer), isOrder, newOrder, answer.status), url };
  }

  async order(url: string): Promise<AcmeOrder> {
    return { ...checked(await this.read<Omit<AcmeOrder, 'url'>>(url), isOrder, url, 200), url };
  }

  async authorization(url: string): Promise<AcmeAuthorization> {
    return checked(await this.read<AcmeAuthorization>(url), isAuthorization, url, 200);
  }

  /** Tells the CA the challenge is ready to be validated (an empty object, RFC 8555 §7.5.1). */
  async respond(challengeUrl: string): Promise<AcmeChallenge> {
    const answer = await this.#post(challengeUrl, {});
    if (answer.status !== 200) throw refusal(answer);
    return parseJson(answer) as AcmeChallenge;
  }

  async finalize(order: AcmeOrder, csr: Buffer): Promise<AcmeOrder> {
    const answer = await this.#post(order.finalize, { csr: csr.toString('base64url') });
    if (answer.status !== 200) throw refusal(answer);
    const retryAfterMs = retryAfterOf(answer);
    // A `processing` order is polled when its Retry-After says (RFC 8555 §7.4), this first answer's too.
    return {
      ...checked(parseJson(answer), isOrder, order.finalize, answer.status),
      url: order.url,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }

  /** The issued chain, leaf first, as PEM. */
  async certificate(url: string): Promise<string> {
    const answer = await this.#post(url, '', 'kid', { accept: 'application/pem-certificate-chain' });
    if (answer.status !== 200) throw refusal(answer);
    return answer.body.toString('utf8');
  }

  /** A POST-as-GET of a resource, its JSON. */
  async read<T>(url: string): Promise<T & { retryAfterMs?: number }> {
    const answer = await this.#post(url, '');
    if (answer.status !== 200) throw refusal(answer);
    const retryAfterMs = retryAfterOf(answer);
    return { ...(parseJson(answer) as T), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }

  /**
   * The CA's suggested renewal window for a certificate (ACME Renewal Information, RFC 9773
   * §4.2: an unauthenticated GET), with how long to wait before asking again; undefined when
   * the CA does not offer it.
   */
  async renewalInfo(
    certificateId: string,
  ): Promise<{ start: number; end: number; retryAfter: number | undefined } | undefined> {
    const { renewalInfo } = await this.directory();
    if (renewalInfo === undefined) return undefined;
    const answer = await acmeRequest('GET', `${renewalInfo.replace(/\/$/, '')}/${certificateId}`, this.#http);
    if (answer.status !== 200) throw refusal(answer);
    const window = parseJson(answer)?.suggestedWindow;
    const start = Date.parse(window?.start);
    const end = Date.parse(window?.end);
    if (!(start <= end))
      throw new AcmeProblem('candor:renewal-info', 'the renewal window is not a window', 200);
    return { start, end, retryAfter: retryAfterOf(answer) };
  }

  #forgetAccount(): void {
    this.#account = undefined;
    this.#kid = undefined;
  }

  async #publicJwk(): Promise<JWK> {
    this.#jwk ??= await exportJWK(createPublicKey(this.#key));
    return this.#jwk;
  }

  async #freshNonce(): Promise<string> {
    const nonce = this.#nonce;
    this.#nonce = undefined;
    if (nonce) return nonce;
    const { newNonce } = await this.directory();
    const answer = await acmeRequest('HEAD', newNonce, this.#http);
    const fresh = header(answer, 'replay-nonce');
    // A HEAD has no problem document: its status, and when to come back (a CA down for a while).
    if (!fresh)
      throw new AcmeProblem(
        'candor:nonce',
        `newNonce ${newNonce} answered ${answer.status} with no Replay-Nonce`,
        answer.status,
        [],
        retryAfterOf(answer),
      );
    return fresh;
  }

  /**
   * A signed POST: `payload` '' is POST-as-GET. The account is named by its key (`jwk`) only
   * when making it; every later request names it by URL. A badNonce is retried with the nonce
   * the refusal carried.
   */
  async #post(
    url: string,
    payload: object | '',
    by: 'jwk' | 'kid' = 'kid',
    headers: Record<string, string> = {},
  ): Promise<AcmeAnswer> {
    if (by === 'kid' && !this.#kid) throw new Error('ACME account not made yet');
    const bytes = new TextEncoder().encode(payload === '' ? '' : JSON.stringify(payload));
    for (let attempt = 0; ; attempt++) {
      const nonce = await this.#freshNonce();
      const jws = await new FlattenedSign(bytes)
        .setProtectedHeader({
          alg: 'ES256',
          nonce,
          url,
          ...(by === 'jwk' ? { jwk: await this.#publicJwk() } : { kid: this.#kid }),
        })
        .sign(this.#key);
      const answer = await acmeRequest('POST', url, this.#http, JSON.stringify(jws), headers);
      this.#nonce = header(answer, 'replay-nonce') ?? undefined;
      if (answer.status === 400) {
        const type = parseJson(answer)?.type;
        if (type === 'urn:ietf:params:acme:error:badNonce' && attempt < NONCE_RETRIES) continue;
        // The CA lost or removed the account: this request fails with its problem, and the next
        // account() finds or makes it again with the same key, instead of every order to come
        // naming a URL the CA no longer knows until a restart.
        if (type === 'urn:ietf:params:acme:error:accountDoesNotExist' && by === 'kid') this.#forgetAccount();
      }
      return answer;
    }
  }
}

/** The CA's problem document for a refused request, with its Retry-After: a `rateLimited` refusal has one (RFC 8555 §6.6). */
function refusal(answer: AcmeAnswer): AcmeProblem {
  return AcmeProblem.from(parseJson(answer), answer.status, retryAfterOf(answer));
}

/**
 * When the CA said to come back, in ms from now: its Retry-After in seconds or as a date (RFC
 * 9110 §10.2.3), on a refusal, on a resource still pending or processing (RFC 8555 §7.4, §8.2)
 * and on a renewal window (RFC 9773 §4.3) alike; undefined when it said nothing (or a time past).
 */
function retryAfterOf(answer: AcmeAnswer): number | undefined {
  const ms = retryAfterMs(header(answer, 'retry-after') ?? null);
  return ms !== undefined && ms > 0 ? ms : undefined;
}

/**
 * An answer of the CA's that must be an order or an authorization, checked for the fields the
 * order reads: anything else (an HTML page, a proxy's JSON) is told as the CA's bad answer, not
 * as a TypeError of this gateway's.
 */
function checked<T>(doc: T | undefined, is: (doc: Partial<T>) => boolean, url: string, status: number): T {
  if (typeof doc === 'object' && doc !== null && is(doc)) return doc;
  const what = is === isOrder ? 'order' : 'authorization';
  throw new AcmeProblem('candor:bad-answer', `${url} answered ${status} with no ACME ${what}`, status);
}

/** A directory naming, as https URLs, the resources Candor uses (`renewalInfo` only when given). */
function isDirectory(doc: Partial<Record<keyof AcmeDirectory, unknown>> | undefined): boolean {
  const url = (value: unknown) => typeof value === 'string' && URL.parse(value)?.protocol === 'https:';
  return (
    url(doc?.newNonce) &&
    url(doc?.newAccount) &&
    url(doc?.newOrder) &&
    (doc?.renewalInfo === undefined || url(doc.renewalInfo))
  );
}

/** A problem document (RFC 7807): what a CA answers for any request it refuses. */
function isProblem(doc: unknown): boolean {
  return typeof (doc as { type?: unknown } | undefined)?.type === 'string';
}

function isOrder(doc: Partial<Omit<AcmeOrder, 'url'>>): boolean {
  return (
    typeof doc.status === 'string' && Array.isArray(doc.authorizations) && typeof doc.finalize === 'string'
  );
}

function isAuthorization(doc: Partial<AcmeAuthorization>): boolean {
  return (
    typeof doc.status === 'string' &&
    Array.isArray(doc.challenges) &&
    typeof doc.identifier?.value === 'string'
  );
}

/** The account contact `acme.email` asks for: its mailto URL, none without one. */
export function contactFor(email: string | undefined): string[] {
  return email === undefined ? [] : [`mailto:${email}`];
}

/** An account's `contact` as the CA sent it: its strings, none when it sent none (or no list). */
function keptContact(contact: unknown): string[] {
  return Array.isArray(contact) ? contact.filter((c): c is string => typeof c === 'string') : [];
}

/** The same contacts, in any order. */
export function sameContact(a: readonly string[], b: readonly string[]): boolean {
  return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
}

function header(answer: AcmeAnswer, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

// biome-ignore lint/suspicious/noExplicitAny: a JSON document from the CA, checked field by field where read
function parseJson(answer: AcmeAnswer): any {
  try {
    return JSON.parse(answer.body.toString('utf8'));
  } catch {
    return undefined;
  }
}
