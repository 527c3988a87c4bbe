import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CertificateFiles, testCertificates } from '../../src/kits/fault-kit/tls-certs.ts';

let made = 0;

/**
 * A server certificate for these DNS names, signed by the fault kit's test CA (see
 * src/kits/fault-kit/tls-certs.ts), in the kit's temporary folder: for tests of SNI.
 */
export function certificateFor(names: readonly string[]): CertificateFiles {
  const { dir } = testCertificates();
  const name = `named-${process.pid}-${++made}`;
  execFileSync(
    'openssl',
    [
      'req',
      '-config',
      'openssl.cnf',
      '-x509',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${names[0]}`,
      '-addext',
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
      '-addext',
      'extendedKeyUsage=serverAuth',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  return { certPath, keyPath, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}
