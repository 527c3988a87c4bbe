import { constants, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';

/**
 * A JWS signature algorithm (RFC 7518 §3, RFC 8037) as node:crypto checks it: the key it needs
 * (kty, and the curve where there is one) and the arguments of `crypto.verify`. Only key-pair
 * algorithms: the config offers nothing else (no `none`, no HMAC).
 */
export interface JwsAlgorithm {
  readonly name: string;
  readonly kty: 'RSA' | 'EC' | 'OKP';
  /** The JWK's `crv` it needs (EC and OKP). */
  readonly crv?: string;
  /** The digest `crypto.verify` is given; null for EdDSA, which hashes by itself. */
  readonly digest: string | null;
  /** RSA keys under 2048 bits are refused (RFC 7518 §3.3, §3.5; jose refuses them too). */
  readonly minRsaBits?: number;
  /** The key argument of `crypto.verify`: the key, with the padding or signature encoding the algorithm means. */
  keyInput(key: KeyObject): KeyObject | VerifyKeyObjectInput;
}

const pkcs1 = (bits: number): JwsAlgorithm => ({
  name: `RS${bits}`,
  kty: 'RSA',
  digest: `sha${bits}`,
  minRsaBits: 2048,
  keyInput: (key) => key,
});

/** RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash (RFC 7518 §3.5). */
const pss = (bits: number): JwsAlgorithm => ({
  name: `PS${bits}`,
  kty: 'RSA',
  digest: `sha${bits}`,
  minRsaBits: 2048,
  keyInput: (key) => ({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 }),
});

/** ECDSA's signature in a JWS is R ‖ S, fixed-width (RFC 7518 §3.4), not DER. */
const ecdsa = (bits: number, crv: string): JwsAlgorithm => ({
  name: `ES${bits}`,
  kty: 'EC',
  crv,
  digest: `sha${bits}`,
  keyInput: (key) => ({ key, dsaEncoding: 'ieee-p1363' }),
});

const ed25519 = (name: string): JwsAlgorithm => ({
  name,
  kty: 'OKP',
  crv: 'Ed25519',
  digest: null,
  keyInput: (key) => key,
});

/** Every algorithm a route may accept, by its `alg`. */
export const JWS_ALGORITHMS: ReadonlyMap<string, JwsAlgorithm> = new Map(
  [
    pkcs1(256),
    pkcs1(384),
    pkcs1(512),
    pss(256),
    pss(384),
    pss(512),
    ecdsa(256, 'P-256'),
    ecdsa(384, 'P-384'),
    ecdsa(512, 'P-521'),
    ed25519('EdDSA'),
    ed25519('Ed25519'),
  ].map((algorithm) => [algorithm.name, algorithm]),
);
