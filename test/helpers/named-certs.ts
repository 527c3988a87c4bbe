import { type ExecFileSyncOptions, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CertificateFiles, testCertificates } from '../../src/kits/fault-kit/tls-certs.ts';

let made = 0;

/**
 * A server certificate for these DNS names (an entry `IP:ADDRESS` is an IP address SAN), signed
 * by the fault kit's test CA (see src/kits/fault-kit/tls-certs.ts), in the kit's temporary
 * folder: for tests of SNI.
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
      `/CN=${names[0].replace(/^IP:/, '')}`,
      '-addext',
      `subjectAltName=${names.map((n) => (n.startsWith('IP:') ? n : `DNS:${n}`)).join(',')}`,
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

/**
 * As certificateFor, but one that ended long ago (valid for one day of 2020, as the kit's
 * `expired`, which names only localhost): for a stored certificate of these names past not_after.
 */
export function expiredCertificateFor(names: readonly string[]): CertificateFiles {
  const { dir } = testCertificates();
  const name = `expired-${process.pid}-${++made}`;
  const options: ExecFileSyncOptions = { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] };
  execFileSync(
    'openssl',
    [
      'req',
      '-config',
      'openssl.cnf',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=${names[0]}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ],
    options,
  );
  writeFileSync(
    join(dir, `${name}.ext`),
    `[names]\nsubjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\n`,
  );
  execFileSync(
    'openssl',
    [
      'ca',
      '-config',
      'openssl.cnf',
      '-batch',
      '-notext',
      '-cert',
      'ca.pem',
      '-keyfile',
      'ca.key',
      '-startdate',
      '20200101000000Z',
      '-enddate',
      '20200102000000Z',
      '-extfile',
      `${name}.ext`,
      '-extensions',
      'names',
      '-in',
      `${name}.csr`,
      '-out',
      `${name}.pem`,
    ],
    options,
  );
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  return { certPath, keyPath, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

/**
 * A certificate for the key of `csrPem` (a CA's answer to a finalize), signed by the fault kit's
 * test CA, naming `names`, valid for `days` from now (-1: it ended a day before it began).
 */
export function signedRequest(csrPem: string, names: readonly string[], days: number): string {
  const { dir } = testCertificates();
  const name = `signed-${process.pid}-${++made}`;
  writeFileSync(join(dir, `${name}.csr`), csrPem);
  writeFileSync(
    join(dir, `${name}.ext`),
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\n`,
  );
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-days',
      String(days),
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return readFileSync(join(dir, `${name}.pem`), 'utf8');
}
