import { createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { CompactEncrypt } from 'jose';
import { cookieValue, cookieValues } from '../../../core/http1/cookie.ts';
import type { FieldMap } from '../../../core/net/downstream.ts';
import { MAX_PARTS } from './gateway-cookies.ts';

/**
 * The most of a sealed value one cookie carries: browsers keep 4096 bytes of name, value and
 * attributes (RFC 6265 §6.1), and the attributes take about a hundred.
 */
const PART = 3800;

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
