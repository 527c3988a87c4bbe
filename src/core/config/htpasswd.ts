/**
 * An htpasswd file (Apache's `user:hash` lines), read when the config is: every line must hold
 * a hash Candor can check in bounded time, so a file `candor check` passed never refuses a
 * right password, and a hash costly enough to make each login a denial of service is refused.
 */

/** bcrypt as htpasswd -B writes it ($2y$) and as other tools do ($2a$, $2b$); cost 4 to 12. */
const BCRYPT = /^\$2[aby]\$(0[4-9]|1[0-2])\$[./A-Za-z0-9]{53}$/;
const BCRYPT_ANY = /^\$2[aby]\$(\d\d)\$/;
/** SHA-crypt ($5$ SHA-256, $6$ SHA-512), as crypt(3) writes it (htpasswd -2, -5). */
const SHA_CRYPT = /^\$([56])\$(?:rounds=(\d{1,10})\$)?[^$:]{0,16}\$([./0-9A-Za-z]+)$/;
/**
 * Beyond this many rounds one login costs seconds of CPU (a round is some microseconds in
 * sha-crypt.ts): checked on a hash thread it holds no other request, but each login still pays it.
 */
export const SHA_CRYPT_MAX_ROUNDS = 1_000_000;
const SHA_CRYPT_MIN_ROUNDS = 1000;

export interface Htpasswd {
  /** User name → hash, as the file has them. */
  readonly users: ReadonlyMap<string, string>;
  /** What is wrong with the file, one line each ("line 3: …"); the file is used only without any. */
  readonly problems: readonly string[];
}

/** Why this hash cannot be used, or undefined when it can. */
function hashProblem(hash: string): string | undefined {
  if (BCRYPT.test(hash)) return undefined;
  const bcrypt = BCRYPT_ANY.exec(hash);
  if (bcrypt)
    return Number(bcrypt[1]) > 12
      ? `a bcrypt cost of ${bcrypt[1]} makes every login a CPU burden: use 12 or less`
      : 'a bcrypt hash that is not whole';
  const sha = SHA_CRYPT.exec(hash);
  if (sha) {
    const rounds = sha[2] === undefined ? 5000 : Number(sha[2]);
    if (rounds < SHA_CRYPT_MIN_ROUNDS || rounds > SHA_CRYPT_MAX_ROUNDS)
      return `SHA-crypt rounds must be ${SHA_CRYPT_MIN_ROUNDS} to ${SHA_CRYPT_MAX_ROUNDS}, not ${rounds}`;
    if (sha[3].length !== (sha[1] === '5' ? 43 : 86)) return 'a SHA-crypt hash that is not whole';
    return undefined;
  }
  if (hash.startsWith('$apr1$')) return 'an MD5 ($apr1$) hash is too weak: use bcrypt (htpasswd -B)';
  if (hash.startsWith('{SHA}')) return 'an unsalted SHA-1 ({SHA}) hash is too weak: use bcrypt (htpasswd -B)';
  return 'not a bcrypt ($2y$) or SHA-crypt ($5$, $6$) hash: write it with htpasswd -B';
}

export function parseHtpasswd(text: string): Htpasswd {
  const users = new Map<string, string>();
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const where = `line ${index + 1}`;
    if (colon <= 0) {
      problems.push(`${where}: expected user:hash`);
      continue;
    }
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    const problem = hashProblem(hash);
    if (problem !== undefined) problems.push(`${where}: user ${JSON.stringify(user)}: ${problem}`);
    else if (users.has(user))
      problems.push(`${where}: user ${JSON.stringify(user)} is already on an earlier line`);
    else users.set(user, hash);
  }
  return { users, problems };
}
