import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { parseHtpasswd } from '../../core/config/htpasswd.ts';
import type { BasicAuthConfig } from '../../core/config/types.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import { parseShaCrypt, shaCrypt } from './sha-crypt.ts';

/** Longer than any Basic credentials worth reading: past it the field is not decoded. */
const MAX_AUTHORIZATION = 4096;
/** Credentials already checked good, kept so a client's every request does not pay a bcrypt. */
const MAX_REMEMBERED = 1024;
/**
 * Checked against when the user is unknown, so that an unknown user costs what a wrong password
 * does (no telling which users exist by the time an answer takes). Cost 10: what htpasswd -B
 * and most tools write.
 */
const DECOY = '$2b$10$46ePIxxrxBn0driqD8mLV.h66kXk7FPTYJkkcqtpSW92Abr6xTDoe';

/** Why a request's Basic credentials are not good, for the log (never sent to the client). */
export type BasicVerdict = { readonly user: string } | { readonly refused: string };

/**
 * HTTP Basic authentication (RFC 7617) against an htpasswd file: bcrypt (bcryptjs, pure JS,
 * asked asynchronously so a login does not hold the event loop) and SHA-crypt (sha-crypt.ts).
 * Credentials found good are remembered by their SHA-256 (at most MAX_REMEMBERED, for the
 * config snapshot's life), so a client's every request does not pay the hash again.
 */
export class BasicAuth {
  readonly challenge: string;
  readonly #users: ReadonlyMap<string, string>;
  readonly #remembered = new Set<string>();

  constructor(config: BasicAuthConfig) {
    // The loader refused a file with any problem; one changed since is read as it is now.
    this.#users = parseHtpasswd(readFileSync(config.usersFile, 'utf8')).users;
    this.challenge = `Basic realm="${config.realm}", charset="UTF-8"`;
  }

  verify(fields: FieldMap): BasicVerdict | Promise<BasicVerdict> {
    const credentials = basicCredentials(fields.authorization);
    if (typeof credentials === 'string') return { refused: credentials };
    const { user, password } = credentials;
    const key = createHash('sha256').update(user).update('\0').update(password).digest('base64');
    if (this.#remembered.has(key)) return { user };
    const hash = this.#users.get(user);
    const good = (ok: boolean): BasicVerdict => {
      if (!ok || hash === undefined) return { refused: `bad credentials for user ${describe(user)}` };
      if (this.#remembered.size >= MAX_REMEMBERED)
        this.#remembered.delete(this.#remembered.values().next().value as string);
      this.#remembered.add(key);
      return { user };
    };
    if (hash !== undefined && /^\$[56]\$/.test(hash)) return good(shaCryptMatches(password, hash));
    return bcrypt.compare(password, hash ?? DECOY).then(good, () => good(false));
  }
}

function shaCryptMatches(password: string, hash: string): boolean {
  const setting = parseShaCrypt(hash);
  if (setting === undefined) return false;
  const made = Buffer.from(shaCrypt(Buffer.from(password, 'utf8'), setting));
  const stored = Buffer.from(hash);
  return made.length === stored.length && timingSafeEqual(made, stored);
}

/** The user and password of `Authorization: Basic …`, or why there are none. */
function basicCredentials(
  field: string | string[] | undefined,
): { readonly user: string; readonly password: string } | string {
  if (field === undefined) return 'no credentials';
  if (typeof field !== 'string' || field.length > MAX_AUTHORIZATION) return 'malformed credentials';
  const space = field.indexOf(' ');
  if (space === -1 || field.slice(0, space).toLowerCase() !== 'basic') return 'no basic credentials';
  const encoded = field.slice(space + 1).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return 'malformed credentials';
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return 'malformed credentials';
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A client's value for the log: bounded, quoted. */
function describe(value: string): string {
  return JSON.stringify(value.slice(0, 64));
}
