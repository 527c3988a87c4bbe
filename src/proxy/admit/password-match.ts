import { timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { parseShaCrypt, shaCrypt } from './sha-crypt.ts';

/**
 * Whether `password` makes the htpasswd `hash` (bcrypt or SHA-crypt), checked at once: the whole
 * hash in one call, so it runs on a thread of the hash pool (password-hash-threads.ts), never on
 * the event loop that serves requests. A hash that cannot be checked (a file changed since the
 * loader read it) matches no password.
 */
export function passwordMatches(password: string, hash: string): boolean {
  if (!/^\$[56]\$/.test(hash)) {
    try {
      return bcrypt.compareSync(password, hash);
    } catch {
      return false;
    }
  }
  const setting = parseShaCrypt(hash);
  if (setting === undefined) return false;
  const made = Buffer.from(shaCrypt(Buffer.from(password, 'utf8'), setting));
  const stored = Buffer.from(hash);
  return made.length === stored.length && timingSafeEqual(made, stored);
}
