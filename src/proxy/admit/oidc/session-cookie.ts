import { createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { CompactEncrypt } from 'jose';
import { cookieValue, cookieValues } from '../../../core/http1/cookie.ts';
import type { FieldMap } from '../../../core/net/downstream.ts';
import type { AnswerEdit } from '../../../core/net/own-answer.ts';

/**
 * The most of a sealed value one cookie carries: browsers keep 4096 bytes of name, value and
 * attributes (RFC 6265 §6.1), and the attributes take about a hundred.
 */
const PART = 3800;
/** The most cookies one sealed value is split into: past it (15 KB) the value is refused, not sent. */
const MAX_PARTS = 4;

/** The protected header every sealed value has ({"alg":"dir","enc":"A256GCM"}), as `seal` writes it. */
const SEALED_HEADER = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM' })).toString('base64url');

/**
 * Values sealed into cookies: encrypted and authenticated as a JWE (RFC 7516, `dir` with
 * A256GCM: the tag of AES-GCM is the seal a tampered cookie fails), by a key derived with HKDF
 * from the configured secret and what the cookie is for, so the session's and the sign-in's
 * cookies are never each other's. A client can read nothing of it, and change nothing.
 */
export class CookieSeal {
  /** A KeyObject made once: a cipher given raw bytes imports them again on every call. */
  readonly #key: KeyObject;

  constructor(secret: string, purpose: string) {
    this.#key = createSecretKey(new Uint8Array(hkdfSync('sha256', secret, 'candor oidc', purpose, 32)));
  }

  seal(value: object): Promise<string> {
    return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(value)))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .encrypt(this.#key);
  }

  /**
   * The value sealed, or undefined for anything this key did not seal (tampered, another key's,
   * garbage). Opened with node:crypto, synchronously, as RFC 7516 §5.2 decrypts a compact JWE of
   * `dir` and A256GCM (the protected header exactly the one `seal` writes, an empty encrypted
   * key, the header's ASCII the additional data): jose's compactDecrypt decides the same
   * (test/proxy/admit/oidc-cookie.test.ts) through WebCrypto's round trip, which made a signed-in
   * request cost the gateway about twice a plain one's CPU (bench/oidc-session.ts).
   */
  open(sealed: string): Record<string, unknown> | undefined {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== SEALED_HEADER || parts[1] !== '') return undefined;
    const iv = Buffer.from(parts[2], 'base64url');
    const tag = Buffer.from(parts[4], 'base64url');
    if (iv.length !== 12 || tag.length !== 16) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: 16 });
      decipher.setAAD(Buffer.from(parts[0], 'ascii'));
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(Buffer.from(parts[3], 'base64url')), decipher.final()]);
      const value: unknown = JSON.parse(plain.toString('utf8'));
      return typeof value === 'object' && value !== null && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  }
}

/** The attributes every cookie of the sign-in is set with: Secure where the request came over TLS. */
export function cookieAttributes(secure: boolean, maxAge?: number): string {
  return `; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}${maxAge === undefined ? '' : `; Max-Age=${maxAge}`}`;
}

/** The names of the parts of a value sealed under `name`: `name`, then `name.1`, `name.2`… */
function partName(name: string, index: number): string {
  return index === 0 ? name : `${name}.${index}`;
}

/**
 * The Set-Cookie values carrying `sealed` under `name`, split into numbered cookies when one
 * cannot hold it; the parts a longer value left behind cleared. Undefined when it is over
 * MAX_PARTS cookies: what no browser would keep is not sent.
 */
export function setSealed(name: string, sealed: string, attributes: string): string[] | undefined {
  const count = Math.ceil(sealed.length / PART);
  if (count > MAX_PARTS) return undefined;
  const out: string[] = [];
  for (let i = 0; i < count; i++)
    out.push(`${partName(name, i)}=${sealed.slice(i * PART, (i + 1) * PART)}${attributes}`);
  for (let i = count; i < MAX_PARTS; i++) out.push(`${partName(name, i)}=; Max-Age=0${attributes}`);
  return out;
}

/** The Set-Cookie values that clear every part of `name`. */
export function clearSealed(name: string, attributes: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < MAX_PARTS; i++) out.push(`${partName(name, i)}=; Max-Age=0${attributes}`);
  return out;
}

/** The sealed value the request's cookies carry under `name`, its parts joined in order; undefined: none. */
export function readSealed(fields: FieldMap, name: string): string | undefined {
  const first = cookieValue(fields.cookie, name);
  return first === undefined || first === '' ? undefined : first + restOf(fields, name);
}

/**
 * Each sealed value the request's cookies carry under `name`, in the order sent, each with the
 * parts after it (their first copies): a cookie of the same name set from a sibling subdomain
 * (cookie tossing) comes first when its path is longer, and read alone it would sign the user
 * out, every sign-in again losing to it. Only a value the gateway sealed opens.
 */
export function sealedCopies(fields: FieldMap, name: string): string[] {
  const copies = cookieValues(fields.cookie, name).filter((value) => value !== '');
  if (copies.length === 0) return copies;
  const rest = restOf(fields, name);
  return copies.map((value) => value + rest);
}

/** The parts after the first of `name`'s sealed value, joined in order. */
function restOf(fields: FieldMap, name: string): string {
  let value = '';
  for (let i = 1; i < MAX_PARTS; i++) {
    const part = cookieValue(fields.cookie, partName(name, i));
    if (part === undefined || part === '') break;
    value += part;
  }
  return value;
}

/** Whether a cookie named `cookie` is one of the parts of `name` (taken out of the request sent upstream). */
export function isPartOf(cookie: string, name: string): boolean {
  if (cookie === name) return true;
  if (!cookie.startsWith(`${name}.`)) return false;
  const index = Number(cookie.slice(name.length + 1));
  return Number.isInteger(index) && index > 0 && index < MAX_PARTS;
}

/** The prefix of the cookies the sign-ins of a route whose session cookie is `name` keep their flows in (sign-in.ts). */
export function flowPrefixOf(name: string): string {
  return `${name}_flow_`;
}

/**
 * The edit of the request sent upstream that takes the session's cookies (every part of `name`)
 * and the sign-in's (every name starting with `flowPrefix`) out of its Cookie fields: sealed for
 * the gateway alone, of no use to the app, and kilobytes on every request.
 */
export function withoutSealed(name: string, flowPrefix: string): AnswerEdit {
  return withoutSealedOf([name], [flowPrefix]);
}

/**
 * The gateway's own cookies, those of every OpenID Connect route (`names`: their sessions' names),
 * kept from the upstream of every route: undefined where no route signs in. The session cookie
 * is its host's (Path=/), so a browser sends it to the host's other routes too, and it is a
 * bearer credential: an upstream beside the signed-in app that reads it can replay it there as
 * its user. A request without a Cookie field (most) is passed as it is, nothing made.
 */
export function withoutGatewayCookies(names: readonly string[]): AnswerEdit | undefined {
  if (names.length === 0) return undefined;
  const strip = withoutSealedOf(names, names.map(flowPrefixOf));
  return (headers) => {
    for (let i = 0; i < headers.length; i += 2)
      if (headers[i].length === 6 && headers[i].toLowerCase() === 'cookie') return strip(headers);
    return headers as string[];
  };
}

/**
 * The edit of an upstream's answer that drops its Set-Cookie fields for the gateway's own cookies
 * (every OpenID Connect route's session, its parts and its sign-in flows; `names`: the sessions'
 * names), then applies `then` (the route's own answer edit, which sets the gateway's): no upstream
 * sets a session of its choosing (an attacker's own, sealed at their sign-in), which would sign
 * the user in as someone else. Made once (undefined where no route signs in); `then` per request.
 */
export function withoutUpstreamSetCookies(
  names: readonly string[],
): ((then: AnswerEdit | undefined) => AnswerEdit) | undefined {
  if (names.length === 0) return undefined;
  const isGateways = gatewayCookieTest(names, names.map(flowPrefixOf));
  const planted = (headers: readonly string[], i: number) => {
    if (headers[i].length !== 10 || headers[i].toLowerCase() !== 'set-cookie') return false;
    const line = headers[i + 1];
    const eq = line.indexOf('=');
    return isGateways((eq === -1 ? line : line.slice(0, eq)).trim());
  };
  return (then) => (headers, failed) => {
    let kept = headers;
    for (let i = 0; i < headers.length; i += 2)
      if (planted(headers, i)) {
        kept = headers.filter((_, j) => !planted(headers, j - (j % 2)));
        break;
      }
    return then === undefined ? (kept as string[]) : then(kept, failed);
  };
}

/** Whether a cookie's name is the gateway's: one of the sessions `names` (or a part of one), or a sign-in's flow. */
function gatewayCookieTest(
  names: readonly string[],
  flowPrefixes: readonly string[],
): (named: string) => boolean {
  return (named) =>
    flowPrefixes.some((prefix) => named.startsWith(prefix)) || names.some((name) => isPartOf(named, name));
}

function withoutSealedOf(names: readonly string[], flowPrefixes: readonly string[]): AnswerEdit {
  const ours = gatewayCookieTest(names, flowPrefixes);
  return (headers) => {
    const out: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i].toLowerCase() !== 'cookie') {
        out.push(headers[i], headers[i + 1]);
        continue;
      }
      const kept = headers[i + 1]
        .split(';')
        .map((pair) => pair.trim())
        .filter((pair) => {
          const eq = pair.indexOf('=');
          const named = eq === -1 ? pair : pair.slice(0, eq).trim();
          return pair !== '' && !ours(named);
        });
      if (kept.length > 0) out.push(headers[i], kept.join('; '));
    }
    return out;
  };
}
