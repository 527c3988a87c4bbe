import { createPublicKey, type JsonWebKey, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import type { JwsAlgorithm } from './jws-algorithms.ts';

/** One key ready for `crypto.verify`, with an RSA key's modulus. */
export interface ChosenKey {
  readonly key: KeyObject | VerifyKeyObjectInput;
  readonly rsaBits: number | undefined;
}

/**
 * The keys a token's header chose, in the set's order (more than one only for a header whose
 * `kid` does not single one out); or why there is none (jose's names, as the log shows them).
 */
export type KeyChoice = { readonly keys: readonly ChosenKey[] } | { readonly invalid: string };

/** One JWK of the set: the members a token's header is matched against, and the key, imported once. */
interface Member {
  readonly kty: unknown;
  readonly kid: unknown;
  readonly alg: unknown;
  readonly crv: unknown;
  /** `ext`, `key_ops` and `use` allow a signature check. */
  readonly forSignatures: boolean;
  /** The public key; undefined when the JWK is a private one or could not be imported. */
  readonly key: KeyObject | undefined;
  /** An RSA key's modulus, read once (a KeyObject's details are made anew at each read). */
  readonly rsaBits: number | undefined;
  /** The key argument of `crypto.verify` for each algorithm it served, made once (as a choice of this key alone). */
  readonly inputs: Map<string, { readonly keys: readonly ChosenKey[] }>;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const NO_MATCHING_KEY = { invalid: 'ERR_JWKS_NO_MATCHING_KEY' } as const;
const UNUSABLE_KEY = { invalid: 'ERR_JWKS_INVALID' } as const;

/**
 * A JSON Web Key Set (RFC 7517 §5) whose keys are imported into node:crypto once, when the set
 * is read (a JWKS fetched, a keys_file loaded), so that a token's check is one synchronous
 * `crypto.verify`. A token's key is chosen as jose's local key set chooses it: among the JWKs
 * whose `kid` is the header's (any, when the header has none), whose `kty` and `crv` fit the
 * algorithm, whose `alg` is the token's when the JWK has one, whose `use` is `sig` and whose
 * `key_ops` include `verify` when present; none is ERR_JWKS_NO_MATCHING_KEY (the caller may fetch
 * the set again). More than one are all given, for the token to be tried against each: an issuer
 * that puts no `kid` in its tokens (RFC 7515 §4.1.4 makes it optional) publishes its next key
 * beside the current one while tokens of both are alive, and refusing the token there (jose's
 * ERR_JWKS_MULTIPLE_MATCHING_KEYS, which Candor gave before) refused every user during every
 * rotation. A candidate whose key cannot be used is passed over, as jose's iterator of those
 * candidates passes it over.
 */
export class JwkSet {
  /** Members by their kid (a token naming one looks only there). */
  readonly #byKid = new Map<string, Member[]>();
  /** Members by their kty (a token without kid looks there). */
  readonly #byKty = new Map<unknown, Member[]>();

  /** `set` as parsed from JSON; throws when it is not `{"keys": [ {…}, … ]}`. */
  constructor(set: unknown) {
    const keys = isObject(set) ? set.keys : undefined;
    if (!Array.isArray(keys) || !keys.every(isObject)) throw new TypeError('JSON Web Key Set malformed');
    for (const jwk of keys) {
      const member = toMember(jwk);
      if (typeof member.kid === 'string') push(this.#byKid, member.kid, member);
      push(this.#byKty, member.kty, member);
    }
  }

  /** The key for a token signed with `algorithm` whose header names `kid` (undefined: none named). */
  choose(algorithm: JwsAlgorithm, kid: unknown): KeyChoice {
    if (kid !== undefined && typeof kid !== 'string') return NO_MATCHING_KEY;
    const members = kid === undefined ? this.#byKty.get(algorithm.kty) : this.#byKid.get(kid);
    let found: Member | undefined;
    let more: ChosenKey[] | undefined;
    let unusable = false;
    for (const member of members ?? []) {
      if (!fits(member, algorithm)) continue;
      if (member.key === undefined) {
        unusable = true;
        continue;
      }
      if (found === undefined) {
        found = member;
        continue;
      }
      more ??= [...inputOf(found, algorithm).keys];
      more.push(...inputOf(member, algorithm).keys);
    }
    if (more !== undefined) return { keys: more };
    if (found !== undefined) return inputOf(found, algorithm);
    return unusable ? UNUSABLE_KEY : NO_MATCHING_KEY;
  }
}

/** The member's key as `crypto.verify` takes it for `algorithm`, made once. */
function inputOf(member: Member, algorithm: JwsAlgorithm): { readonly keys: readonly ChosenKey[] } {
  let input = member.inputs.get(algorithm.name);
  if (input === undefined) {
    input = { keys: [{ key: algorithm.keyInput(member.key as KeyObject), rsaBits: member.rsaBits }] };
    member.inputs.set(algorithm.name, input);
  }
  return input;
}

function push(index: Map<unknown, Member[]>, at: unknown, member: Member): void {
  const list = index.get(at);
  if (list === undefined) index.set(at, [member]);
  else list.push(member);
}

function fits(member: Member, algorithm: JwsAlgorithm): boolean {
  return (
    member.forSignatures &&
    member.kty === algorithm.kty &&
    (member.alg === undefined || member.alg === algorithm.name) &&
    (algorithm.crv === undefined || member.crv === algorithm.crv)
  );
}

function toMember(jwk: Record<string, unknown>): Member {
  const { kty, kid, alg, crv, use, ext, key_ops: ops } = jwk;
  const opsValid =
    ops === undefined ||
    (Array.isArray(ops) &&
      ops.every((op, i) => typeof op === 'string' && ops.indexOf(op) === i) &&
      ops.includes('verify'));
  // A public key whose `key_ops` name more than `verify` cannot be a verifying key in
  // WebCrypto either (jose's import fails there): it stays in the set, chosen and unusable.
  const key = Array.isArray(ops) && ops.some((op) => op !== 'verify') ? undefined : importPublic(jwk);
  return {
    kty,
    kid,
    alg,
    crv,
    forSignatures:
      (ext === undefined || typeof ext === 'boolean') && opsValid && (use === undefined || use === 'sig'),
    key,
    rsaBits: key?.asymmetricKeyDetails?.modulusLength,
    inputs: new Map(),
  };
}

/** The JWK as a node:crypto public key; undefined for a private JWK (never a verifying key) or one node cannot read. */
function importPublic(jwk: Record<string, unknown>): KeyObject | undefined {
  if (jwk.d !== undefined || jwk.priv !== undefined) return undefined;
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') return undefined;
  try {
    return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return undefined;
  }
}
