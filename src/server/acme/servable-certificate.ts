import { createPrivateKey, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { certificateNames } from './managed-name.ts';

/**
 * The names of `names` the certificate does not carry: a wildcard (`*.example.com`) must be
 * one of its names as written (checkHost would take it for a host to match), any other name
 * must be one of its names exactly, not matched by one of its wildcards.
 */
export function namesMissing(leaf: X509Certificate, names: readonly string[]): string[] {
  const carried = (leaf.subjectAltName ?? '').split(', ').map((entry) => entry.toLowerCase());
  return names.filter((name) =>
    name.startsWith('*.')
      ? !carried.includes(`dns:${name}`)
      : leaf.checkHost(name, { wildcards: false }) === undefined,
  );
}

/**
 * The leaf of `chain` when the chain and key can serve `name` by SNI: both parse (every
 * certificate of the chain), the key is
 * the certificate's, and the certificate names `name`. Throws saying which is wrong otherwise:
 * such a pair (damaged on disk, copied in by hand, put in the fleet's Redis by another hand)
 * would fail every handshake, or be another name's certificate served for this one.
 */
export function servableCertificate(name: string, chain: string, key: string): X509Certificate {
  let leaf: X509Certificate;
  let matches: boolean;
  try {
    leaf = new X509Certificate(chain);
    matches = leaf.checkPrivateKey(createPrivateKey(key));
    // The whole chain, as a handshake will load it: a damaged certificate after the leaf.
    if (matches) tls.createSecureContext({ cert: chain, key });
  } catch (error) {
    throw new Error(`the certificate or key cannot be read: ${(error as Error).message}`);
  }
  if (!matches) throw new Error("the key is not the key of the chain's certificate");
  if (namesMissing(leaf, certificateNames(name)).length > 0)
    throw new Error(
      `the certificate does not name ${name} (it names ${leaf.subjectAltName ?? leaf.subject})`,
    );
  return leaf;
}
