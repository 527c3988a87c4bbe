import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { readStateFile } from '../../core/state-file.ts';
import type { CaIssuers } from './ca-issuers.ts';
import { servableCertificate } from './servable-certificate.ts';

/** The largest file of the store read: a chain and key, a challenge, a few KiB each. */
const MAX_STORED = 1024 * 1024;

/**
 * `acme.storage`, the folder that holds what automatic HTTPS must not lose (so that a restart
 * orders nothing): the account key per ACME directory, each name's certificate chain and key,
 * and the challenges being validated now (read by every worker that may take the CA's
 * connection). Owner-only: the folders 0700, the files 0600, each file written whole to a
 * temporary name and renamed, so no reader ever sees half of one.
 *
 *   accounts/<directory hash>.key
 *   accounts/<directory hash>.contact   (the contact last brought to the CA, JSON)
 *   accounts/<directory hash>.issuers   (the CA's issuers seen in this gateway's orders, JSON: ca-issuers.ts)
 *   certificates/<name>/chain.pem, key.pem   (a wildcard's <name> is _.example.com)
 *   challenges/http-01/<token>          (the name and its key authorization, JSON)
 *   challenges/tls-alpn-01/<name>.pem   (certificate, then key)
 *   challenges/dns-01/<id>.json         (a TXT record added to the zone and not removed yet: dns01-solver.ts)
 */
/**
 * `acme.storage` could not be opened (ENOTDIR, EACCES, EROFS): said with the field and the folder,
 * so that `candor serve` names them and exits `unavailable`, not with a stack trace. `candor
 * check` finds a root that cannot be written (acme-checks.ts); this is what it cannot see (a
 * file where one of the store's own folders belongs, a folder changed since).
 */
export class AcmeStorageError extends Error {
  /** What is wrong, without the field: a start refusal says it at the field's line (primary.ts). */
  readonly reason: string;

  constructor(root: string, cause: Error) {
    const reason = `cannot keep certificates in ${JSON.stringify(root)}: ${cause.message}`;
    super(`acme.storage: ${reason}`, { cause });
    this.name = 'AcmeStorageError';
    this.reason = reason;
  }
}

/**
 * A name's last failed order as the store keeps it: the CA's problem, when, and — for the next
 * start of the same `acme` config — how many orders had failed in a row and when the next may
 * go (a gateway restarted in a loop would otherwise ask the CA at every start: Let's Encrypt
 * refuses a name for an hour after five failed validations).
 */
export interface StoredFailure {
  readonly type: string;
  readonly detail: string;
  readonly at: string;
  readonly failures?: number;
  readonly retry_at?: string;
  /** The fingerprint of the `acme` config that failed (acme-manager.ts): a changed one tries at once. */
  readonly config?: string;
}

export class AcmeStore {
  readonly root: string;
  /**
   * Whom what root writes here must belong to: the root folder's owner, when this process runs
   * as root and the folder is another user's (`sudo candor diagnose --acme` beside a gateway run
   * as its own user). A file or folder made root's, 0600 or 0700, is one the gateway can neither
   * read nor replace: its challenge answered 500, its next certificate never saved.
   */
  #owner: { uid: number; gid: number } | undefined | null = null;

  constructor(root: string) {
    this.root = root;
  }

  /**
   * Makes the folders, and makes the root owner-only even when it existed (a key lives there).
   * Throws AcmeStorageError when it cannot.
   */
  open(): void {
    try {
      this.#open();
    } catch (error) {
      throw new AcmeStorageError(this.root, error as Error);
    }
  }

  #open(): void {
    for (const dir of CHALLENGE_DIRS.concat('accounts', 'certificates'))
      mkdirSync(join(this.root, dir), { recursive: true, mode: 0o700 });
    chmodSync(this.root, 0o700);
    const owner = this.#rootOwner();
    if (owner !== undefined)
      for (const dir of CHALLENGE_DIRS.concat('accounts', 'certificates', 'challenges'))
        chownSync(join(this.root, dir), owner.uid, owner.gid);
  }

  /** The root folder's owner, if this process is root and it is not (see #owner); read once. */
  #rootOwner(): { uid: number; gid: number } | undefined {
    if (this.#owner !== null) return this.#owner;
    const { uid, gid } = lstatSync(this.root);
    this.#owner = process.getuid?.() === 0 && uid !== 0 ? { uid, gid } : undefined;
    return this.#owner;
  }

  /**
   * Takes away every challenge an order left behind when it did not end (a crash, a kill): only
   * the tokens of orders under way are answered, never one of a validation long over. DNS-01's
   * records stay listed: they are in the zone, and go once the solver has removed them there.
   */
  clearChallenges(): void {
    for (const dir of ['challenges/http-01', 'challenges/tls-alpn-01']) {
      rmSync(join(this.root, dir), { recursive: true, force: true });
      mkdirSync(join(this.root, dir), { recursive: true, mode: 0o700 });
    }
  }

  accountKey(directory: string): string | undefined {
    return this.#read(this.accountKeyFile(directory));
  }

  saveAccountKey(directory: string, pem: string): void {
    this.#write(this.accountKeyFile(directory), pem);
  }

  /**
   * The account's contact as the CA last confirmed it (account found, made or updated); undefined
   * when never recorded (or unreadable: then it is looked at again, which costs one request).
   */
  accountContact(directory: string): string[] | undefined {
    const text = this.#read(this.accountKeyFile(directory).replace(/\.key$/, '.contact'));
    try {
      const contact = text === undefined ? undefined : JSON.parse(text);
      return Array.isArray(contact) && contact.every((c) => typeof c === 'string') ? contact : undefined;
    } catch {
      return undefined;
    }
  }

  saveAccountContact(directory: string, contact: readonly string[]): void {
    this.#write(this.accountKeyFile(directory).replace(/\.key$/, '.contact'), JSON.stringify(contact));
  }

  /**
   * The name's stored chain and key; undefined when there is none. Throws, naming the folder,
   * when they cannot serve (a chain or key that does not parse, a key that is not the
   * certificate's, a certificate that does not name `name`): damaged on disk or put there by hand, they would fail every handshake.
   */
  certificate(name: string): { chain: string; key: string } | undefined {
    const dir = join(this.root, 'certificates', safeName(name));
    const chain = this.#read(join(dir, 'chain.pem'));
    const key = this.#read(join(dir, 'key.pem'));
    if (chain === undefined || key === undefined) return undefined;
    try {
      servableCertificate(name, chain, key);
    } catch (error) {
      throw new Error(`${dir}: chain.pem and key.pem: ${(error as Error).message}`);
    }
    return { chain, key };
  }

  /** The key first: a reader that finds the new chain finds its key too. */
  saveCertificate(name: string, chain: string, key: string): void {
    const dir = join(this.root, 'certificates', safeName(name));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#write(join(dir, 'key.next.pem'), key);
    this.#write(join(dir, 'chain.next.pem'), chain);
    renameSync(join(dir, 'key.next.pem'), join(dir, 'key.pem'));
    renameSync(join(dir, 'chain.next.pem'), join(dir, 'chain.pem'));
  }

  /**
   * The last failed order of `name`, kept for `candor diagnose --acme` and for the next start
   * (its backoff: StoredFailure); undefined once one succeeds.
   */
  lastError(name: string): StoredFailure | undefined {
    const text = this.#read(join(this.root, 'certificates', safeName(name), 'last-error.json'));
    return text === undefined ? undefined : JSON.parse(text);
  }

  setLastError(name: string, error: StoredFailure | undefined): void {
    const dir = join(this.root, 'certificates', safeName(name));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#set(join(dir, 'last-error.json'), error === undefined ? undefined : JSON.stringify(error));
  }

  /** The HTTP-01 challenge of `token` being validated now, with the name it proves. */
  httpChallenge(token: string): HttpChallenge | undefined {
    if (!TOKEN.test(token)) return undefined;
    const text = this.#read(join(this.root, 'challenges/http-01', token));
    return text === undefined ? undefined : httpChallengeOf(text);
  }

  setHttpChallenge(token: string, challenge: HttpChallenge | undefined): void {
    if (!TOKEN.test(token)) throw new Error(`not an ACME token: ${JSON.stringify(token)}`);
    this.#set(
      join(this.root, 'challenges/http-01', token),
      challenge === undefined ? undefined : JSON.stringify(challenge),
    );
  }

  alpnChallenge(name: string): string | undefined {
    return this.#read(join(this.root, 'challenges/tls-alpn-01', `${safeName(name)}.pem`));
  }

  setAlpnChallenge(name: string, pem: string | undefined): void {
    this.#set(join(this.root, 'challenges/tls-alpn-01', `${safeName(name)}.pem`), pem);
  }

  /**
   * The DNS-01 records added to a zone and not removed yet, by id: listed before each is added,
   * unlisted once removed, so a crash between the two leaves what the next start removes.
   */
  dnsRecords(): Map<string, string> {
    const dir = join(this.root, 'challenges/dns-01');
    const records = new Map<string, string>();
    for (const name of readdirSync(dir))
      if (name.endsWith('.json')) records.set(name.slice(0, -5), this.#read(join(dir, name)) ?? '');
    return records;
  }

  setDnsRecord(id: string, text: string | undefined): void {
    this.#set(join(this.root, 'challenges/dns-01', `${id}.json`), text);
  }

  /** Where the account key of `directory` is kept (one per directory: accounts are the CA's). */
  accountKeyFile(directory: string): string {
    return join(this.root, 'accounts', `${directoryId(directory)}.key`);
  }

  /**
   * What this gateway learned of the CA of `directory` from its own orders (ca-issuers.ts);
   * undefined when it ordered nothing from it yet, or the file is of another hand.
   */
  issuers(directory: string): CaIssuers | undefined {
    const text = this.#read(this.accountKeyFile(directory).replace(/\.key$/, '.issuers'));
    try {
      const { issuers, longestMs } = JSON.parse(text ?? 'null') ?? {};
      return Array.isArray(issuers) &&
        issuers.every((pem) => typeof pem === 'string') &&
        typeof longestMs === 'number'
        ? { issuers, longestMs }
        : undefined;
    } catch {
      return undefined;
    }
  }

  saveIssuers(directory: string, issuers: CaIssuers): void {
    this.#write(this.accountKeyFile(directory).replace(/\.key$/, '.issuers'), JSON.stringify(issuers));
  }

  #set(path: string, text: string | undefined): void {
    if (text === undefined) rmSync(path, { force: true });
    else this.#write(path, text);
  }

  /**
   * Created 0600 by the open itself, never opened up after: a fresh name, and `wx` (O_EXCL), for
   * a file that existed would keep its own mode (a `<pid>.tmp` left by a crash, the pid being 1
   * at every start of a container, 0644 and then renamed over the key).
   */
  #write(path: string, text: string): void {
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`; // as TEMPORARY reads it
    try {
      writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
      const owner = this.#rootOwner();
      if (owner !== undefined) chownSync(temporary, owner.uid, owner.gid);
      renameSync(temporary, path);
    } catch (err) {
      rmSync(temporary, { force: true });
      throw err;
    }
  }

  #read(path: string): string | undefined {
    try {
      // Without waiting: a FIFO in a key's place held the process for good (state-file.ts).
      return readStateFile(path, MAX_STORED);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}

const CHALLENGE_DIRS = ['challenges/http-01', 'challenges/tls-alpn-01', 'challenges/dns-01'];

/**
 * An HTTP-01 challenge as it is kept (in the store, and in a fleet's Redis): the key
 * authorization with the name it proves, for it is told only to a request for that name
 * (RFC 8555 §8.3: the CA asks with the name as Host), never to one for any host that points here.
 */
export interface HttpChallenge {
  readonly name: string;
  readonly keyAuthorization: string;
}

/** What the store or Redis holds, read back; undefined for anything else (a file of another version). */
export function httpChallengeOf(text: string): HttpChallenge | undefined {
  try {
    const { name, keyAuthorization } = JSON.parse(text) as Partial<Record<keyof HttpChallenge, unknown>>;
    return typeof name === 'string' && typeof keyAuthorization === 'string'
      ? { name, keyAuthorization }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An ACME token is base64url (RFC 8555 §8.3): nothing else may name a file. At most 238
 * characters, what a file name holds (255 bytes) beside #write's temporary suffix (17): one of
 * 256 was asked of the file system, whose ENAMETOOLONG made any client's request for
 * `/.well-known/acme-challenge/<256 characters>` a 500. A CA's token is 43 (Let's Encrypt).
 */
const TOKEN = /^[A-Za-z0-9_-]{1,238}$/;
/** The name of a temporary file of #write (the file's own name, 12 hex digits, `.tmp`), or of its earlier form (a pid). */
export const TEMPORARY = /\.(?:[0-9a-f]{12}|[0-9]+)\.tmp$/;

/** The short id of an ACME directory: its account key's file name, and its entries' keys in a fleet's Redis. */
export function directoryId(directory: string): string {
  return createHash('sha256').update(directory).digest('hex').slice(0, 16);
}

/** A name as a file name: a wildcard's `*` (which a shell would expand) written `_`, a label no DNS name of an order has. */
function safeName(name: string): string {
  const file = name.startsWith('*.') ? `_.${name.slice(2)}` : name;
  if (!/^(?:_\.)?[a-z0-9.-]{1,253}$/.test(file) || file.includes('..'))
    throw new Error(`not a DNS name: ${name}`);
  return file;
}
