import { createHash } from 'node:crypto';

/**
 * SHA-crypt (`$5$` SHA-256, `$6$` SHA-512), as glibc's crypt(3) and Apache's htpasswd write
 * them: Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" (2007), written from that
 * specification and held to its test vectors (test/proxy/admit/sha-crypt.test.ts). No
 * maintained npm package does only this without native code, and the algorithm is short.
 */

const B64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ROUNDS_DEFAULT = 5000;
const ROUNDS_MIN = 1000;
const ROUNDS_MAX = 999_999_999;
const SALT_MAX = 16;

/** The order the spec writes the final digest's bytes in, three at a time (the last group shorter). */
const ORDER_256 = [
  [0, 10, 20],
  [21, 1, 11],
  [12, 22, 2],
  [3, 13, 23],
  [24, 4, 14],
  [15, 25, 5],
  [6, 16, 26],
  [27, 7, 17],
  [18, 28, 8],
  [9, 19, 29],
];
const ORDER_512 = [
  [0, 21, 42],
  [22, 43, 1],
  [44, 2, 23],
  [3, 24, 45],
  [25, 46, 4],
  [47, 5, 26],
  [6, 27, 48],
  [28, 49, 7],
  [50, 8, 29],
  [9, 30, 51],
  [31, 52, 10],
  [53, 11, 32],
  [12, 33, 54],
  [34, 55, 13],
  [56, 14, 35],
  [15, 36, 57],
  [37, 58, 16],
  [59, 17, 38],
  [18, 39, 60],
  [40, 61, 19],
  [62, 20, 41],
];

interface Variant {
  readonly algorithm: 'sha256' | 'sha512';
  readonly size: number;
  readonly order: readonly (readonly number[])[];
}
const VARIANTS: Readonly<Record<string, Variant>> = {
  '5': { algorithm: 'sha256', size: 32, order: ORDER_256 },
  '6': { algorithm: 'sha512', size: 64, order: ORDER_512 },
};

/** A `$5$`/`$6$` hash read: its variant, rounds (as the spec clamps them) and salt. */
export interface ShaCryptSetting {
  readonly variant: '5' | '6';
  readonly rounds: number;
  /** Whether the hash names its rounds (the output repeats "rounds=N$" only then). */
  readonly explicitRounds: boolean;
  readonly salt: string;
}

/** Reads "$5$[rounds=N$]salt[$hash]"; undefined when it is not one. */
export function parseShaCrypt(text: string): ShaCryptSetting | undefined {
  const match = /^\$([56])\$(?:rounds=(\d{1,10})\$)?([^$]*)(?:\$[./0-9A-Za-z]*)?$/.exec(text);
  if (!match) return undefined;
  const asked = match[2] === undefined ? ROUNDS_DEFAULT : Number(match[2]);
  return {
    variant: match[1] as '5' | '6',
    rounds: Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, asked)),
    explicitRounds: match[2] !== undefined,
    salt: match[3].slice(0, SALT_MAX),
  };
}

/** The hash of `password` with the setting's variant, rounds and salt, in crypt(3)'s form. */
export function shaCrypt(password: Buffer, setting: ShaCryptSetting): string {
  const hashing = begin(password, setting);
  hashing.rounds(0, setting.rounds);
  return hashing.end();
}

/** The specification's steps before the rounds, then its rounds `from` to `to`, then the encoding. */
function begin(password: Buffer, setting: ShaCryptSetting) {
  const { algorithm, size, order } = VARIANTS[setting.variant];
  const salt = Buffer.from(setting.salt, 'utf8');
  const hash = (...parts: Buffer[]) => {
    const h = createHash(algorithm);
    for (const part of parts) h.update(part);
    return h.digest();
  };
  /** `source` repeated to `length` bytes. */
  const stretch = (source: Buffer, length: number) => {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i += source.length)
      source.copy(out, i, 0, Math.min(source.length, length - i));
    return out;
  };

  const b = hash(password, salt, password);
  const a = createHash(algorithm).update(password).update(salt).update(stretch(b, password.length));
  for (let n = password.length; n > 0; n >>= 1) a.update(n & 1 ? b : password);
  let result = a.digest();

  const dp = createHash(algorithm);
  for (let i = 0; i < password.length; i++) dp.update(password);
  const p = stretch(dp.digest(), password.length);
  const ds = createHash(algorithm);
  for (let i = 0; i < 16 + result[0]; i++) ds.update(salt);
  const s = stretch(ds.digest(), salt.length);

  return {
    rounds(from: number, to: number): void {
      for (let i = from; i < to; i++) {
        const c = createHash(algorithm);
        c.update(i & 1 ? p : result);
        if (i % 3 !== 0) c.update(s);
        if (i % 7 !== 0) c.update(p);
        c.update(i & 1 ? result : p);
        result = c.digest();
      }
    },
    end(): string {
      let encoded = '';
      const put = (word: number, chars: number) => {
        for (let i = 0; i < chars; i++, word >>= 6) encoded += B64[word & 0x3f];
      };
      for (const [x, y, z] of order) put((result[x] << 16) | (result[y] << 8) | result[z], 4);
      if (size === 32) put((result[31] << 8) | result[30], 3);
      else put(result[63], 2);
      const rounds = setting.explicitRounds ? `rounds=${setting.rounds}$` : '';
      return `$${setting.variant}$${rounds}${setting.salt}$${encoded}`;
    },
  };
}
