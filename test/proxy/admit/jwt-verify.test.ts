/**
 * Differential test of Candor's synchronous JWT check (jwt-verify.ts, keys from jwk-set.ts)
 * against jose's `jwtVerify` with `createLocalJWKSet`, which it replaced (each candidate tried when
 * several keys fit, as jose's documentation does it): tokens signed by RS256,
 * PS256, ES256, ES384 and EdDSA keys are mutated (header fields, alg, kid, crit and b64, claims,
 * signature bytes, base64url padding and whitespace, extra dots, non-base64url characters) and
 * re-signed or not; both must make the same decision, with the same claims when they accept,
 * and give the same jose error code when they refuse (the log names it).
 *
 * JWT_DIFFERENTIAL_RUNS (per algorithm) and JWT_DIFFERENTIAL_SEED run more or other cases.
 */
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { createLocalJWKSet, type JSONWebKeySet, type JWK, jwtVerify } from 'jose';
import { normalTyp } from '../../../src/core/config/policy-values.ts';
import { JWT_ALGORITHMS } from '../../../src/core/config/schema-access.ts';
import { JwkSet } from '../../../src/proxy/admit/jwk-set.ts';
import { JWS_ALGORITHMS, p1363ToDer } from '../../../src/proxy/admit/jws-algorithms.ts';
import { type JwtCheck, type JwtRules, verifyJwt } from '../../../src/proxy/admit/jwt-verify.ts';

const RUNS = Number(process.env.JWT_DIFFERENTIAL_RUNS ?? 400);
const SEED = Number(process.env.JWT_DIFFERENTIAL_SEED ?? 20261123);
const ISSUER = 'https://idp.example.test/';

// ── Keys ─────────────────────────────────────────────────────────────────────────────────

type Kty = 'RSA' | 'EC' | 'OKP';
interface Pair {
  readonly kty: Kty;
  readonly privateKey: KeyObject;
  readonly jwk: JWK;
}
function pair(kind: 'rsa' | 'rsa-1024' | 'P-256' | 'P-384' | 'ed25519'): Pair {
  const { publicKey, privateKey } =
    kind === 'rsa' || kind === 'rsa-1024'
      ? generateKeyPairSync('rsa', { modulusLength: kind === 'rsa' ? 2048 : 1024 })
      : kind === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: kind });
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  return { kty: jwk.kty as Kty, privateKey, jwk };
}

/** The five algorithms the tokens are first signed with, each with its own key. */
const BASES = [
  { alg: 'RS256', kid: 'rs', key: pair('rsa') },
  { alg: 'PS256', kid: 'ps', key: pair('rsa') },
  { alg: 'ES256', kid: 'es256', key: pair('P-256') },
  { alg: 'ES384', kid: 'es384', key: pair('P-384') },
  { alg: 'EdDSA', kid: 'ed', key: pair('ed25519') },
] as const;
type Base = (typeof BASES)[number];

const extraRsa = pair('rsa');
const smallRsa = pair('rsa-1024');
const extraEc = pair('P-256');
const privateEc = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

/** The key sets a token is checked against: what selection by kid, alg, kty, crv, use and key_ops meets. */
function keySets(base: Base): { keys: object[] }[] {
  const published = BASES.map((b) => ({ ...b.key.jwk, kid: b.kid, alg: b.alg, use: 'sig' }));
  return [
    {
      keys: [
        ...published,
        { ...extraRsa.jwk }, // no kid, no alg: any RSA algorithm, and a second candidate for kid-less RS tokens
        { ...extraEc.jwk, kid: 'es256-enc', use: 'enc' },
        { ...extraEc.jwk, kid: 'ops', key_ops: ['verify'] },
        { ...extraEc.jwk, kid: 'ops-sign', key_ops: ['sign'] },
        { ...extraEc.jwk, kid: 'ops-both', key_ops: ['verify', 'sign'] },
        { ...base.key.jwk, kid: 'dup' },
        { ...base.key.jwk, kid: 'dup' },
        { ...smallRsa.jwk, kid: 'small', alg: 'RS256' },
        { ...(privateEc as JWK), kid: 'private' },
        { ...extraEc.jwk, kid: 'ext', ext: 'yes' },
        { ...extraEc.jwk, kid: 'ops-text', key_ops: 'verify' },
      ],
    },
    // The token's key alone, without kid or alg: a kid-less token finds it, any algorithm of its kind.
    { keys: [{ ...base.key.jwk }] },
    { keys: [{ ...base.key.jwk, kid: base.kid, use: 'sig' }] },
  ];
}

// ── Signing (node:crypto, neither of the two under test) ────────────────────────────────

function signature(privateKey: KeyObject, kty: Kty, alg: unknown, data: Buffer): Buffer {
  const name = typeof alg === 'string' && JWS_SPEC[alg]?.kty === kty ? alg : fallbackAlg(kty, privateKey);
  const spec = JWS_SPEC[name];
  const bits = Number(name.slice(2)) || 256;
  if (name.startsWith('PS'))
    return sign(spec.digest, data, {
      key: privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: bits / 8,
    });
  if (name.startsWith('ES')) return sign(spec.digest, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return sign(spec.digest, data, privateKey);
}
const JWS_SPEC: Record<string, { kty: Kty; digest: string | null }> = {
  RS256: { kty: 'RSA', digest: 'sha256' },
  RS384: { kty: 'RSA', digest: 'sha384' },
  RS512: { kty: 'RSA', digest: 'sha512' },
  PS256: { kty: 'RSA', digest: 'sha256' },
  PS384: { kty: 'RSA', digest: 'sha384' },
  PS512: { kty: 'RSA', digest: 'sha512' },
  ES256: { kty: 'EC', digest: 'sha256' },
  ES384: { kty: 'EC', digest: 'sha384' },
  EdDSA: { kty: 'OKP', digest: null },
  Ed25519: { kty: 'OKP', digest: null },
};
function fallbackAlg(kty: Kty, key: KeyObject): string {
  if (kty === 'RSA') return 'RS256';
  if (kty === 'OKP') return 'EdDSA';
  return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'ES384' : 'ES256';
}

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64url');

// ── Mutations ────────────────────────────────────────────────────────────────────────────

const ANY_ALG = [...JWT_ALGORITHMS, 'none', 'HS256', '', 'rs256', 5, null];
const KIDS = [
  'rs',
  'ps',
  'es256',
  'es384',
  'ed',
  'dup',
  'small',
  'private',
  'es256-enc',
  'ops',
  'ops-sign',
  'ops-both',
  'ops-text',
  'ext',
  'unknown',
  '',
  5,
  null,
];

type Edit = (value: Record<string, unknown>) => void;
const set =
  (name: string, value: unknown): Edit =>
  (o) => {
    if (value === undefined) delete o[name];
    else o[name] = value;
  };

const arbHeaderEdit: fc.Arbitrary<Edit> = fc.oneof(
  fc.constantFrom(...ANY_ALG).map((alg) => set('alg', alg)),
  fc.constantFrom(...KIDS, undefined).map((kid) => set('kid', kid)),
  fc
    .tuple(
      fc.constantFrom<unknown>(
        ['b64'],
        ['exp'],
        [],
        [''],
        'b64',
        ['b64', 'b64'],
        ['b64', 'x'],
        ['x', 'b64'],
        [5],
        undefined,
      ),
      fc.constantFrom<unknown>(true, false, 'yes', undefined),
    )
    .map(
      ([crit, b64value]): Edit =>
        (o) => {
          set('crit', crit)(o);
          set('b64', b64value)(o);
        },
    ),
  fc
    .constantFrom<unknown>('JWT', 'at+jwt', 'AT+JWT', 'application/at+jwt', 'logout+jwt', 5)
    .map((typ) => set('typ', typ)),
  fc.constantFrom('jku', 'x5u', 'zip', 'cty').map((name) => set(name, 'https://evil.test/')),
);

/** Offsets from now, in seconds, far enough from every skew's edge (0, 1.5 s, 30 s) that a slow run cannot cross one. */
const OFFSETS = [-3600, -60, -20, -5, 5, 20, 60, 3600];
type ClaimEdit = (claims: Record<string, unknown>, now: number) => void;
const arbClaimEdit: fc.Arbitrary<ClaimEdit> = fc.oneof(
  fc
    .constantFrom<unknown>('https://other.test/', [ISSUER], 5, undefined, ISSUER.toUpperCase())
    .map((iss): ClaimEdit => set('iss', iss)),
  fc
    .constantFrom<unknown>(
      'billing',
      ['orders'],
      ['billing', 'orders'],
      ['billing'],
      [5, 'orders'],
      [],
      5,
      undefined,
      'a',
    )
    .map((aud): ClaimEdit => set('aud', aud)),
  fc
    .tuple(fc.constantFrom('exp', 'nbf', 'iat'), fc.constantFrom<unknown>('soon', null, undefined, true))
    .map(([name, value]): ClaimEdit => set(name, value)),
  // The times, thrice as often: each side of every skew.
  ...['exp', 'nbf', 'iat'].map((name) =>
    fc.constantFrom(...OFFSETS).map(
      (offset): ClaimEdit =>
        (c, now) =>
          set(name, now + offset)(c),
    ),
  ),
  fc.constantFrom('sub', 'roles', 'email').map((name): ClaimEdit => set(name, { nested: [1, 'x'] })),
);

/** Raw text for a segment that is not JSON of an object, or bytes that are not UTF-8. */
const arbRawSegment = fc.constantFrom<string | Buffer>(
  '[]',
  '5',
  'null',
  '"x"',
  '{',
  '',
  Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
  '\uFEFF{"alg":"RS256"}',
);

type Mangle = (token: string) => string;
function segmentsEdit(index: number, edit: (segment: string) => string): Mangle {
  return (token) => {
    const parts = token.split('.');
    if (index < parts.length) parts[index] = edit(parts[index]);
    return parts.join('.');
  };
}
const arbMangle: fc.Arbitrary<Mangle> = fc.oneof(
  // Signature bytes.
  fc.nat(600).map((i) =>
    segmentsEdit(2, (s) => {
      const bytes = Buffer.from(s, 'base64url');
      if (bytes.length > 0) bytes[i % bytes.length] ^= 1 << (i % 8);
      return bytes.toString('base64url');
    }),
  ),
  fc
    .constantFrom<(b: Buffer) => Buffer>(
      (b) => b.subarray(1),
      (b) => Buffer.concat([b, Buffer.from([0])]),
      (b) => Buffer.concat([Buffer.from([0]), b]),
      () => Buffer.alloc(0),
      (b) => Buffer.alloc(b.length),
    )
    .map((edit) => segmentsEdit(2, (s) => edit(Buffer.from(s, 'base64url')).toString('base64url'))),
  // Base64url spelling: padding, whitespace, the other alphabet, trailing bits, foreign characters.
  fc
    .tuple(
      fc.nat(2),
      fc.constantFrom('=', '==', '===', '=A', ' ', '\t', '+', '/', 'é', '*', '\n'),
      fc.nat(400),
      fc.boolean(),
    )
    .map(([index, text, at, append]) =>
      segmentsEdit(index, (s) =>
        append ? s + text : s.slice(0, at % (s.length + 1)) + text + s.slice(at % (s.length + 1)),
      ),
    ),
  fc.nat(2).map((index) =>
    segmentsEdit(index, (s) => {
      // The last character's unused low bits set: the same bytes to a forgiving decoder.
      if (s.length % 4 === 0 || s.length === 0) return s;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(s[s.length - 1]);
      return s.slice(0, -1) + alphabet[last | (s.length % 4 === 2 ? 0x0f : 0x03)];
    }),
  ),
  fc.constantFrom<Mangle>(
    (t) => `${t}.`,
    (t) => `${t}.x`,
    (t) => `.${t}`,
    (t) => t.slice(0, t.lastIndexOf('.')),
    (t) => t.replace('.', '..'),
    (t) => `${t.slice(0, t.lastIndexOf('.'))}.`,
    (t) => t.replaceAll('-', '+').replaceAll('_', '/'),
  ),
);

/** What a case edits: one family of mutations (most cases), all of them at once, or nothing. */
type Focus = 'none' | 'header' | 'claims' | 'encoding' | 'raw' | 'all';

interface Case {
  readonly focus: Focus;
  readonly setIndex: number;
  readonly header: readonly Edit[];
  readonly rawHeader: string | Buffer | undefined;
  readonly claims: readonly ClaimEdit[];
  readonly rawClaims: string | Buffer | undefined;
  readonly resign: boolean;
  readonly mangles: readonly Mangle[];
  readonly algorithms: readonly string[];
  readonly issuer: boolean;
  readonly audiences: readonly string[] | undefined;
  readonly clockSkew: number;
  /** A token without `exp` refused (jose's `requiredClaims: ['exp']`). */
  readonly requireExp: boolean;
  /**
   * One `typ` asked for, RFC 9068's (jose's `typ` option takes one and refuses a token without
   * any, as ours does for any but JWT, which a token without typ counts as); undefined: any.
   */
  readonly typ: string | undefined;
}

const weighted = <T>(...choices: [T, number][]): fc.Arbitrary<T> =>
  fc.oneof(...choices.map(([value, weight]) => ({ arbitrary: fc.constant(value), weight })));

function arbCase(base: Base): fc.Arbitrary<Case> {
  return fc.record({
    focus: weighted<Focus>(
      ['none', 1],
      ['header', 3],
      ['claims', 3],
      ['encoding', 3],
      ['raw', 1],
      ['all', 1],
    ),
    setIndex: weighted([0, 2], [1, 1], [2, 1]),
    header: fc.array(arbHeaderEdit, { minLength: 1, maxLength: 3 }),
    rawHeader: fc.option(arbRawSegment, { nil: undefined }),
    claims: fc.array(arbClaimEdit, { minLength: 1, maxLength: 3 }),
    rawClaims: fc.option(arbRawSegment, { nil: undefined }),
    resign: weighted([true, 3], [false, 1]),
    mangles: fc.array(arbMangle, { minLength: 1, maxLength: 2 }),
    algorithms: fc.oneof(
      { arbitrary: fc.constant([base.alg]), weight: 2 },
      { arbitrary: fc.constant([...JWT_ALGORITHMS]), weight: 2 },
      { arbitrary: fc.subarray([...JWT_ALGORITHMS], { minLength: 1 }), weight: 1 },
    ),
    issuer: fc.boolean(),
    audiences: fc.constantFrom(undefined, ['orders'], ['billing', 'orders'], ['billing']),
    clockSkew: fc.constantFrom(0, 1500, 30_000),
    requireExp: fc.boolean(),
    typ: fc.constantFrom(undefined, 'at+jwt', 'application/AT+JWT'),
  });
}

function tokenOf(base: Base, c: Case): string {
  const now = Math.floor(Date.now() / 1000);
  const on = (focus: Focus) => c.focus === focus || c.focus === 'all';
  // The key set without kids (1) is met by tokens without one.
  const header: Record<string, unknown> =
    c.setIndex === 1 ? { alg: base.alg } : { alg: base.alg, kid: base.kid };
  const claims: Record<string, unknown> = {
    sub: 'user-7',
    roles: ['a', 'b'],
    iss: ISSUER,
    aud: 'orders',
    iat: now,
    exp: now + 300,
  };
  const original = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  if (on('header')) for (const edit of c.header) edit(header);
  if (on('claims')) for (const edit of c.claims) edit(claims, now);
  const raw = on('raw') ? c : { rawHeader: undefined, rawClaims: undefined };
  const signingInput = `${b64(raw.rawHeader ?? JSON.stringify(header))}.${b64(raw.rawClaims ?? JSON.stringify(claims))}`;
  // Signed again over the edited parts (by the header's alg where the key can make it), or the
  // signature of the token before its edits kept.
  const signed = c.resign ? signingInput : original;
  const sig = signature(
    base.key.privateKey,
    base.key.kty,
    c.resign ? header.alg : base.alg,
    Buffer.from(signed),
  );
  let token = `${signingInput}.${sig.toString('base64url')}`;
  if (on('encoding')) for (const mangle of c.mangles) token = mangle(token);
  return token;
}

async function jose(token: string, set: ReturnType<typeof createLocalJWKSet>, c: Case): Promise<JwtCheck> {
  const options = {
    algorithms: [...c.algorithms],
    ...(c.issuer ? { issuer: ISSUER } : {}),
    ...(c.audiences === undefined ? {} : { audience: [...c.audiences] }),
    clockTolerance: c.clockSkew / 1000,
    ...(c.requireExp ? { requiredClaims: ['exp'] } : {}),
    ...(c.typ === undefined ? {} : { typ: c.typ }),
  };
  try {
    const { payload } = await jwtVerify(token, set, options);
    return { claims: payload };
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS')
      return eachCandidate(token, err as AsyncIterable<Parameters<typeof jwtVerify>[1] & object>, options);
    return joseRefusal(err);
  }
}

/**
 * Each key of jose's JWKSMultipleMatchingKeys tried in turn, as jose's documentation of that
 * error does it: a signature failure or a key too small (jose's TypeError) goes on to the next;
 * any other refusal is the token's (its signature was good). None good: the signature failed,
 * or, when no key could be tried, the key's refusal.
 */
async function eachCandidate(
  token: string,
  candidates: AsyncIterable<Parameters<typeof jwtVerify>[1] & object>,
  options: Parameters<typeof jwtVerify>[2],
): Promise<JwtCheck> {
  let signatureTried = false;
  let any = false;
  for await (const key of candidates) {
    any = true;
    try {
      const { payload } = await jwtVerify(token, key, options);
      return { claims: payload };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') signatureTried = true;
      else if (code !== undefined) return joseRefusal(err);
    }
  }
  if (signatureTried) return { invalid: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' };
  return { invalid: any ? 'ERR_JWT_INVALID' : 'ERR_JWKS_INVALID' };
}

function joseRefusal(err: unknown): JwtCheck {
  {
    // As jwt-auth.ts named jose's failures for the log, with the claim jose names (jwt-verify.ts's NO_EXP and kin).
    const { code, claim, reason } = err as { code?: unknown; claim?: unknown; reason?: unknown };
    const which =
      claim === 'exp' && reason === 'missing'
        ? ' (no exp claim: require_exp)'
        : claim === 'typ'
          ? ' (typ is none of types)'
          : claim === 'iss'
            ? ' (iss is not issuer)'
            : claim === 'aud'
              ? ' (aud names none of audiences)'
              : reason === 'invalid'
                ? ` (${String(claim)} is not a number)`
                : claim === 'nbf'
                  ? ' (nbf is ahead of the clock: clock_skew)'
                  : '';
    return { invalid: `${String(code ?? 'ERR_JWT_INVALID')}${which}` };
  }
}

function ours(token: string, set: JwkSet, c: Case): JwtCheck {
  const rules: JwtRules = {
    algorithms: new Set(c.algorithms),
    ...(c.issuer ? { issuer: ISSUER } : {}),
    ...(c.audiences === undefined ? {} : { audiences: c.audiences }),
    clockSkew: c.clockSkew,
    requireExp: c.requireExp,
    ...(c.typ === undefined ? {} : { types: new Set([normalTyp(c.typ)]) }),
  };
  return verifyJwt(token, set, rules);
}

/**
 * Where the codes may differ, the decision being the same: a `b64: false` token is refused as
 * ERR_JWT_INVALID before its key is looked for (it can never be a JWT, RFC 7797 §7), where jose
 * first checks its key and signature; and a key WebCrypto cannot import (`key_ops` naming `sign`
 * on a public key) is jose's DOMException, whose code is a number, where ours says ERR_JWKS_INVALID.
 */
function codesMayDiffer(token: string, joseCode: string): boolean {
  if (!joseCode.startsWith('ERR_')) return true;
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
    return header.b64 === false;
  } catch {
    return false;
  }
}

for (const base of BASES) {
  test(`${base.alg}: the same decision, claims and code as jose on mutated tokens`, async (t) => {
    const sets = keySets(base);
    const joseSets = sets.map((s) => createLocalJWKSet(s as JSONWebKeySet));
    const ourSets = sets.map((s) => new JwkSet(s));
    /** Cases by outcome (accepted, or jose's code), reported with the test. */
    const tally: Record<string, number> = { accepted: 0 };
    await fc.assert(
      fc.asyncProperty(arbCase(base), async (c) => {
        const token = tokenOf(base, c);
        const expected = await jose(token, joseSets[c.setIndex], c);
        const actual = ours(token, ourSets[c.setIndex], c);
        const why = `token ${JSON.stringify(token)} against set ${c.setIndex}: jose ${JSON.stringify(expected)}, ours ${JSON.stringify(actual)}`;
        assert.equal('claims' in actual, 'claims' in expected, why);
        if ('claims' in expected) {
          assert.deepEqual(actual, expected, why);
          tally.accepted++;
        } else {
          if (!codesMayDiffer(token, expected.invalid)) assert.deepEqual(actual, expected, why);
          tally[expected.invalid] = (tally[expected.invalid] ?? 0) + 1;
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
    t.diagnostic(JSON.stringify(tally));
    // Both sides of the decision were exercised, not only refusals.
    assert.ok(tally.accepted >= RUNS / 20, JSON.stringify(tally));
    assert.ok(tally.accepted <= RUNS * 0.75, JSON.stringify(tally));
  });
}

test('every algorithm the config offers has its node:crypto parameters, and nothing else is offered', () => {
  assert.deepEqual([...JWS_ALGORITHMS.keys()].sort(), [...JWT_ALGORITHMS].sort());
});

test('a key set that is not {"keys": [objects]} is refused when it is read, as jose refuses it', () => {
  for (const bad of [null, [], {}, { keys: {} }, { keys: [5] }, { keys: [null] }, { keys: [[]] }]) {
    assert.throws(() => new JwkSet(bad), /JSON Web Key Set malformed/, JSON.stringify(bad));
    assert.throws(() => createLocalJWKSet(bad as JSONWebKeySet), JSON.stringify(bad));
  }
  assert.doesNotThrow(() => new JwkSet({ keys: [] }));
});

test('an ECDSA signature made DER (P-256, P-384, P-521, whose long form needs two length bytes) verifies exactly when node:crypto verifies R ‖ S', () => {
  for (const [curve, size] of [
    ['P-256', 32],
    ['P-384', 48],
    ['P-521', 66],
  ] as const) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
    for (let i = 0; i < 64; i++) {
      const data = Buffer.from(`message ${i}`);
      const good = sign('sha512', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      // The signature as made, with a bit flipped, with leading zero bytes, all zeros, all ones.
      const flipped = Buffer.from(good);
      flipped[i % flipped.length] ^= 1 << (i % 8);
      const zeroed = Buffer.from(good);
      zeroed.fill(0, 0, i % 4);
      zeroed.fill(0, size, size + (i % 3));
      for (const signature of [good, flipped, zeroed, Buffer.alloc(2 * size), Buffer.alloc(2 * size, 0xff)]) {
        const expected = verify('sha512', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
        const der = p1363ToDer(signature, size);
        assert.ok(der !== undefined);
        let actual = false;
        try {
          actual = verify('sha512', data, publicKey, der);
        } catch {}
        assert.equal(actual, expected, `${curve} ${signature.toString('hex')}`);
      }
    }
    assert.equal(p1363ToDer(Buffer.alloc(2 * size - 1), size), undefined);
    assert.equal(p1363ToDer(Buffer.alloc(2 * size + 1), size), undefined);
  }
});
