/**
 * An ES256 issuer for JWT routes: its public key set in a keys_file on disk (kid `k1`), and a
 * signer of tokens for a subject that expire in five minutes (or, `exp: false`, never: no exp claim).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { tempDir } from './temp-dir.ts';

export interface FileIssuer {
  /** The keys_file path. */
  readonly file: string;
  sign(sub: string, exp?: string | false): Promise<string>;
}

export async function fileIssuer(): Promise<FileIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const file = join(tempDir('candor-issuer-'), 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
  return {
    file,
    sign: (sub, exp = '5m') => {
      const token = new SignJWT({ sub }).setProtectedHeader({ alg: 'ES256', kid: 'k1' });
      return (exp === false ? token : token.setExpirationTime(exp)).sign(privateKey);
    },
  };
}
