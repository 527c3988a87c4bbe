/**
 * A CA of client certificates made with the openssl command line, in a folder of its own: it
 * issues certificates for `clientAuth`, revokes them, and writes its CRL (`crl.pem`, written at
 * once, empty), for a TLS listener's `client_certificates: { ca, crl }`.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CA_CONFIG = `[ca]
default_ca = own
[own]
dir = .
database = db/index.txt
serial = db/serial
crlnumber = db/crlnumber
new_certs_dir = db
default_md = sha256
default_crl_days = 2
unique_subject = no
policy = any
[any]
commonName = supplied
[leaf]
basicConstraints = CA:false
extendedKeyUsage = clientAuth
subjectAltName = email:$ENV::CN@example.com
`;

export interface ClientCa {
  /** The CA's certificate (a listener's `ca`). */
  readonly ca: string;
  /** Its revocation list (a listener's `crl`). */
  readonly crl: string;
  /** Issues a certificate for CN=`cn` (and SAN email:`cn`@example.com): what a client presents. */
  issue(cn: string): { readonly cert: Buffer; readonly key: Buffer };
  /** The DER of `cn`'s certificate as RFC 9440's Client-Cert carries it (`:base64:`). */
  der(cn: string): string;
  /** Revokes `cn`'s certificate and writes the CRL again. */
  revoke(cn: string): void;
  remove(): void;
}

export function makeClientCa(): ClientCa {
  const dir = mkdtempSync(join(tmpdir(), 'candor-client-ca-'));
  const openssl = (args: string[], cn = 'none') =>
    execFileSync('openssl', args, {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CN: cn },
    });
  mkdirSync(join(dir, 'db'));
  writeFileSync(join(dir, 'db', 'index.txt'), '');
  writeFileSync(join(dir, 'db', 'serial'), '1000\n');
  writeFileSync(join(dir, 'db', 'crlnumber'), '1000\n');
  writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=clients', '-keyout', 'ca.key', '-out', 'ca.pem']
      .concat(['-addext', 'basicConstraints=critical,CA:true'])
      .concat(['-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
  );
  const gencrl = () =>
    openssl([
      'ca',
      '-config',
      'ca.cnf',
      '-cert',
      'ca.pem',
      '-keyfile',
      'ca.key',
      '-gencrl',
      '-out',
      'crl.pem',
    ]);
  gencrl();
  return {
    ca: join(dir, 'ca.pem'),
    crl: join(dir, 'crl.pem'),
    issue(cn) {
      openssl(['req', '-new', ...ec, '-subj', `/CN=${cn}`, '-keyout', `${cn}.key`, '-out', `${cn}.csr`]);
      openssl(
        ['ca', '-config', 'ca.cnf', '-batch', '-notext', '-cert', 'ca.pem', '-keyfile', 'ca.key'].concat([
          '-days',
          '2',
          '-extensions',
          'leaf',
          '-in',
          `${cn}.csr`,
          '-out',
          `${cn}.pem`,
        ]),
        cn,
      );
      return { cert: readFileSync(join(dir, `${cn}.pem`)), key: readFileSync(join(dir, `${cn}.key`)) };
    },
    der(cn) {
      return `:${new X509Certificate(readFileSync(join(dir, `${cn}.pem`))).raw.toString('base64')}:`;
    },
    revoke(cn) {
      openssl(['ca', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-revoke', `${cn}.pem`]);
      gencrl();
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
