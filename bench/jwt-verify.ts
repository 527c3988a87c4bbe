/**
 * What one JWT check costs in CPU, per algorithm, in a tight loop in this process (no gateway,
 * no sockets): the signature check alone in node:crypto (the floor), Candor's check
 * (src/proxy/admit/jwt-verify.ts: parse, key choice, signature, claims), and jose's
 * `jwtVerify` with `createLocalJWKSet` (what Candor used before: WebCrypto, asynchronous).
 *
 *   npm run bench:jwt                                   # 3 rounds of 1 s per cell
 *   node_modules/.bin/node bench/jwt-verify.ts --rounds=1 --seconds=0.2   # a smoke check
 *
 * Each cell is CPU µs per check (process.cpuUsage(), user + system, of every thread: jose's
 * WebCrypto work runs on libuv's pool) over as many checks as fit in --seconds; the cells are
 * alternated round after round and the median printed. 64 tokens per algorithm, each with its
 * own jti, are checked in turn. The target (issue 34): a JWT check with a cached key
 * under 20 µs of CPU.
 */
import { constants, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createLocalJWKSet, type JWK, jwtVerify } from 'jose';
import { JwkSet } from '../src/proxy/admit/jwk-set.ts';
import { verifyJwt } from '../src/proxy/admit/jwt-verify.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '1' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const TOKENS = 64;

interface Alg {
  readonly alg: string;
  readonly keys: { publicKey: KeyObject; privateKey: KeyObject };
  readonly digest: string | null;
  /** The key argument of sign/verify: padding or signature encoding the algorithm means. */
  readonly params: Record<string, unknown>;
}
const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const ALGS: readonly Alg[] = [
  { alg: 'RS256', keys: rsa(), digest: 'sha256', params: {} },
  {
    alg: 'PS256',
    keys: rsa(),
    digest: 'sha256',
    params: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
  },
  {
    alg: 'ES256',
    keys: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    digest: 'sha256',
    params: { dsaEncoding: 'ieee-p1363' },
  },
  {
    alg: 'ES384',
    keys: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    digest: 'sha384',
    params: { dsaEncoding: 'ieee-p1363' },
  },
  { alg: 'EdDSA', keys: generateKeyPairSync('ed25519'), digest: null, params: {} },
];

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = Math.floor(Date.now() / 1000);

interface Cell {
  readonly name: string;
  readonly alg: string;
  /** Runs `n` checks (each must succeed), in order. */
  run(n: number): void | Promise<void>;
}

const cells: Cell[] = [];
for (const { alg, keys, digest, params } of ALGS) {
  const jwk = { ...(keys.publicKey.export({ format: 'jwk' }) as JWK), kid: 'k', alg, use: 'sig' };
  const tokens: string[] = [];
  const inputs: Buffer[] = [];
  const signatures: Buffer[] = [];
  // The floor: the fastest call node:crypto has for this check. The KeyObject itself (an options
  // object costs Node two thrown brand checks a call) and, for ECDSA, the signature in DER (the
  // same R and S): only PSS needs the object, for its padding.
  const pss = 'padding' in params;
  const rawParams = pss ? params : {};
  for (let i = 0; i < TOKENS; i++) {
    const input = `${b64({ alg, kid: 'k' })}.${b64({ sub: 'bench', jti: String(i), iss: 'https://idp.bench/', aud: 'bench', iat: now, exp: now + 7200 })}`;
    const signature = sign(digest, Buffer.from(input), { key: keys.privateKey, ...params });
    tokens.push(`${input}.${signature.toString('base64url')}`);
    inputs.push(Buffer.from(input));
    signatures.push(alg.startsWith('ES') ? sign(digest, Buffer.from(input), keys.privateKey) : signature);
  }
  const keyInput = pss ? { key: keys.publicKey, ...rawParams } : keys.publicKey;
  const ours = new JwkSet({ keys: [jwk] });
  const rules = {
    algorithms: new Set([alg]),
    issuer: 'https://idp.bench/',
    audiences: ['bench'],
    clockSkew: 30_000,
    requireExp: true,
  };
  const theirs = createLocalJWKSet({ keys: [jwk] });
  const options = {
    algorithms: [alg],
    issuer: 'https://idp.bench/',
    audience: ['bench'],
    clockTolerance: 30,
  };
  cells.push(
    {
      name: 'node:crypto',
      alg,
      run(n) {
        for (let i = 0; i < n; i++)
          if (!verify(digest, inputs[i % TOKENS], keyInput as never, signatures[i % TOKENS]))
            throw new Error(`${alg}: node:crypto refused its own signature`);
      },
    },
    {
      name: 'candor',
      alg,
      run(n) {
        for (let i = 0; i < n; i++) {
          const checked = verifyJwt(tokens[i % TOKENS], ours, rules);
          if (!('claims' in checked))
            throw new Error(`${alg}: Candor refused a good token (${checked.invalid})`);
        }
      },
    },
    {
      name: 'jose',
      alg,
      async run(n) {
        for (let i = 0; i < n; i++) await jwtVerify(tokens[i % TOKENS], theirs, options);
      },
    },
  );
}

/** CPU µs per check of `cell` over about `seconds` (the count sized from a first short run). */
async function measure(cell: Cell, seconds: number): Promise<number> {
  let n = 16;
  for (;;) {
    const before = process.cpuUsage();
    const started = performance.now();
    await cell.run(n);
    const elapsed = performance.now() - started;
    const used = process.cpuUsage(before);
    if (elapsed >= seconds * 1000 || n >= 1e7) return (used.user + used.system) / n;
    n = Math.ceil(n * Math.min(100, Math.max(2, (seconds * 1000 * 1.1) / Math.max(elapsed, 1))));
  }
}

// Warm-up: every path compiled, jose's keys imported.
for (const cell of cells) await measure(cell, Math.min(0.2, SECONDS));
const results = new Map<Cell, number[]>(cells.map((cell) => [cell, []]));
for (let round = 0; round < ROUNDS; round++)
  for (let k = 0; k < cells.length; k++) {
    const cell = cells[(k + round) % cells.length];
    results.get(cell)?.push(await measure(cell, SECONDS));
  }

const median = (list: readonly number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const figure = (alg: string, name: string) =>
  median(results.get(cells.find((c) => c.alg === alg && c.name === name) as Cell) as number[]);
process.stdout.write(
  `CPU µs per check (user + system, all threads), median of ${ROUNDS} × ${SECONDS} s, ${TOKENS} tokens in turn:\n\n`,
);
process.stdout.write(
  '| alg | node:crypto verify alone | Candor (jwt-verify.ts) | jose jwtVerify | Candor − node:crypto | jose ÷ Candor |\n|---|--:|--:|--:|--:|--:|\n',
);
for (const { alg } of ALGS) {
  const raw = figure(alg, 'node:crypto');
  const ours = figure(alg, 'candor');
  const theirs = figure(alg, 'jose');
  process.stdout.write(
    `| ${alg} | ${raw.toFixed(1)} | ${ours.toFixed(1)} | ${theirs.toFixed(1)} | ${ours - raw >= 0 ? '+' : ''}${(ours - raw).toFixed(1)} | ${(theirs / ours).toFixed(2)}× |\n`,
  );
}
