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
  /**
   * The key argument of `crypto.verify`: the KeyObject itself wherever it can be, since Node
   * (24) takes an options object (`{ key, padding }`) through two brand checks that throw and
   * catch, about 12 µs a call, more than half an RSA-2048 check; PSS alone needs its padding.
   */
  keyInput(key: KeyObject): KeyObject | VerifyKeyObjectInput;
  /** The signature as OpenSSL reads it (ECDSA: DER); undefined when it cannot be one of this algorithm. */
  readonly toOpenSsl?: (signature: Buffer) => Buffer | undefined;
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

/** ECDSA's signature in a JWS is R ‖ S, fixed-width (RFC 7518 §3.4), made DER here (see keyInput). */
const ecdsa = (bits: number, crv: string, size: number): JwsAlgorithm => ({
  name: `ES${bits}`,
  kty: 'EC',
  crv,
  digest: `sha${bits}`,
  keyInput: (key) => key,
  toOpenSsl: (signature) => p1363ToDer(signature, size),
});

/**
 * R ‖ S, each `size` bytes, as the DER SEQUENCE of two INTEGERs (RFC 3279 §2.2.3) in the one
 * form OpenSSL accepts (shortest, a 0 byte before a high bit); undefined when the signature is
 * not 2 × size bytes (WebCrypto, and so jose, refuses those too).
 */
export function p1363ToDer(signature: Buffer, size: number): Buffer | undefined {
  if (signature.length !== 2 * size) return undefined;
  const r = derInteger(signature.subarray(0, size));
  const s = derInteger(signature.subarray(size));
  const body = r.length + s.length;
  // P-521's two INTEGERs may pass 127 bytes: the long form of the length.
  const head = body < 0x80 ? [0x30, body] : [0x30, 0x81, body];
  return Buffer.concat([Buffer.from(head), r, s], head.length + body);
}

function derInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const pad = bytes[start] >= 0x80 ? 1 : 0;
  const length = pad + bytes.length - start;
  const out = Buffer.alloc(2 + length);
  out[0] = 0x02;
  out[1] = length;
  bytes.copy(out, 2 + pad, start);
  return out;
}

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
    ecdsa(256, 'P-256', 32),
    ecdsa(384, 'P-384', 48),
    ecdsa(512, 'P-521', 66),
    ed25519('EdDSA'),
    ed25519('Ed25519'),
  ].map((algorithm) => [algorithm.name, algorithm]),
);
