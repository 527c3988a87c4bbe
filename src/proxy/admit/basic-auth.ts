import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseHtpasswd } from '../../core/config/htpasswd.ts';
import type { BasicAuthConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import { passwordChecks } from './password-checks.ts';
import { passwordHashThreads } from './password-hash-threads.ts';
import { parseShaCrypt } from './sha-crypt.ts';

/** Longer than any Basic credentials worth reading: past it the field is not decoded. */
const MAX_AUTHORIZATION = 4096;
/** Credentials already checked good, kept so a client's every request does not pay a bcrypt. */
const MAX_REMEMBERED = 1024;
/**
 * The key of the remembered credentials' HMAC, the process's own: a plain SHA-256 of a user and
 * password, kept in memory, is a hash a core dump or heap snapshot hands to an offline guesser
 * at billions a second, the very thing the file's bcrypt is there to prevent. A KeyObject made
 * once: given its bytes, createHmac made a KeyObject of them at every call, some 14 µs of a
 * remembered login's request and 1.8 KB of its allocations (an HMAC itself is 2 µs).
 */
const REMEMBER_KEY = createSecretKey(randomBytes(32));
/**
 * UTF-8 that refuses malformed bytes: the challenge asks for UTF-8 (RFC 7617 §2.1), and a lenient
 * decode made every malformed byte U+FFFD, so `\xff` and `\xfe` were one password (and one
 * remembered login) and the log named a user the client never sent.
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** The salt and digest of a bcrypt decoy: any well-formed pair costs what the cost says. */
const BCRYPT_DECOY_TAIL = '46ePIxxrxBn0driqD8mLV.h66kXk7FPTYJkkcqtpSW92Abr6xTDoe';

/**
 * Why a request's Basic credentials are not good, for the log (never sent to the client), or
 * the gateway's failure to check them (too many checks under way).
 */
export type BasicVerdict =
  | { readonly user: string }
  | { readonly refused: string }
  | { readonly failed: Failure };

/**
 * HTTP Basic authentication (RFC 7617) against an htpasswd file: bcrypt (bcryptjs) and SHA-crypt
 * (sha-crypt.ts), checked on the worker's hash threads (password-hash-threads.ts), off the event
 * loop, as many at once as there are threads and a bounded queue (password-checks.ts).
 * Credentials found good are remembered by their HMAC (at most MAX_REMEMBERED, for the
 * config snapshot's life), so a client's every request does not pay the hash again: a
 * remembered login costs the field's scheme and shape checked and one HMAC of it, nothing
 * decoded and nothing allocated past the HMAC's key string (the verdict is the one kept).
 */
export class BasicAuth {
  readonly challenge: string;
  readonly #users: ReadonlyMap<string, string>;
  readonly #decoy: string;
  /** The verdicts of credentials checked good, by their key (oldest first). */
  readonly #remembered = new Map<string, BasicVerdict>();
  /** Checks under way, by the same key: the same credentials again (a page's parallel requests) wait for that one. */
  readonly #checking = new Map<string, Promise<BasicVerdict>>();

  constructor(config: BasicAuthConfig) {
    // The loader refused a file with any problem; one changed since is read as it is now.
    this.#users = parseHtpasswd(readFileSync(config.usersFile, 'utf8')).users;
    this.#decoy = decoyFor(this.#users);
    this.challenge = `Basic realm="${config.realm}", charset="UTF-8"`;
  }

  /** `client`: the address a client's share of the password checks is counted by (password-checks.ts). */
  verify(fields: FieldMap, client: string): BasicVerdict | Promise<BasicVerdict> {
    const token = basicToken(fields.authorization);
    if (typeof token !== 'string') return token;
    // The key is of the credentials as sent, the base64 of "user:password" (well-formed: ASCII
    // alone), one string: no other user and password make it. Joined from the decoded user and
    // password by a separator alone, "a" with "b\0c" and "a\0b" with "c" once made one key, and
    // the second, no user of the file, was let in as remembered.
    const key = createHmac('sha256', REMEMBER_KEY).update(token, 'latin1').digest('base64');
    const remembered = this.#remembered.get(key);
    if (remembered !== undefined) return remembered;
    const checking = this.#checking.get(key);
    if (checking !== undefined) return checking;
    const credentials = basicCredentials(token);
    if (typeof credentials === 'string') return { refused: credentials };
    const { user, password } = credentials;
    const hash = this.#users.get(user);
    const good = (ok: boolean): BasicVerdict => {
      if (!ok || hash === undefined) return { refused: `bad credentials for user ${describe(user)}` };
      if (this.#remembered.size >= MAX_REMEMBERED)
        this.#remembered.delete(this.#remembered.keys().next().value as string);
      const verdict = { user };
      this.#remembered.set(key, verdict);
      return verdict;
    };
    // An unknown user goes through the same hash function, on the same threads and queue, as a
    // known one does; good() refuses it.
    const checked = hash ?? this.#decoy;
    const run = passwordChecks.run(
      () => passwordHashThreads.matches(password, checked).then(good, threadLost),
      client,
    );
    if (run instanceof Failure) return { failed: run };
    const verdict = run.finally(() => this.#checking.delete(key));
    this.#checking.set(key, verdict);
    return verdict;
  }
}

/**
 * What an unknown user is checked against, so that it costs what a wrong password for a known
 * user does (no telling which users exist by the time an answer takes): a hash of the scheme,
 * cost and salt length most of the file's users have (the first such, on a tie), matching no
 * password. Without users, bcrypt cost 10 (what htpasswd -B and most tools write).
 */
export function decoyFor(users: ReadonlyMap<string, string>): string {
  const counts = new Map<string, number>();
  let best = `$2b$10$${BCRYPT_DECOY_TAIL}`;
  for (const hash of users.values()) {
    const decoy = decoyLike(hash);
    const count = (counts.get(decoy) ?? 0) + 1;
    counts.set(decoy, count);
    if (count > (counts.get(best) ?? 0)) best = decoy;
  }
  return best;
}

/** A hash that costs what `hash` does to check, of a salt and digest no password makes. */
function decoyLike(hash: string): string {
  const sha = parseShaCrypt(hash);
  if (sha === undefined) return `${hash.slice(0, 7)}${BCRYPT_DECOY_TAIL}`; // "$2y$05$": the loader checked
  const rounds = sha.explicitRounds ? `rounds=${sha.rounds}$` : '';
  const digest = '.'.repeat(sha.variant === '5' ? 43 : 86);
  return `$${sha.variant}$${rounds}${'s'.repeat(sha.salt.length)}$${digest}`;
}

/** The scheme `Basic` and the space after it, in any case (RFC 9110 §11.1): tested, no copy made. */
const BASIC_SCHEME = /^basic /i;
/** A token68 of base64: what the credentials of `Basic` are (RFC 7617 §2). */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The credentials of `Authorization: Basic …` as sent (their base64, well-formed), or why there are none. */
function basicToken(field: string | string[] | undefined): string | { readonly refused: string } {
  if (field === undefined) return NO_CREDENTIALS;
  if (typeof field !== 'string' || field.length > MAX_AUTHORIZATION) return MALFORMED;
  if (!BASIC_SCHEME.test(field)) return NO_BASIC_CREDENTIALS;
  const encoded = field.slice(6).trim();
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) return MALFORMED;
  return encoded;
}

const NO_CREDENTIALS = { refused: 'no credentials' } as const;
const NO_BASIC_CREDENTIALS = { refused: 'no basic credentials' } as const;
const MALFORMED = { refused: 'malformed credentials' } as const;

/** The user and password of a well-formed base64 token (basicToken's), or why there are none. */
function basicCredentials(encoded: string): { readonly user: string; readonly password: string } | string {
  let decoded: string;
  try {
    decoded = UTF8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    return 'credentials that are not UTF-8';
  }
  const colon = decoded.indexOf(':');
  if (colon === -1) return 'malformed credentials';
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A check whose hash thread died under it: the gateway's failure, not the client's credentials. */
function threadLost(err: unknown): BasicVerdict {
  return {
    failed: new Failure('proxy_internal_error', 'the password check was lost with its hash thread', {
      cause: err,
    }),
  };
}

/** A client's value for the log: bounded, quoted. */
function describe(value: string): string {
  return JSON.stringify(value.slice(0, 64));
}
