/**
 * Test certificates, made with the `openssl` command once per process into a temp directory
 * (removed at exit): a throwaway CA and leaves it signed, plus one self-signed leaf.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface CertificateFiles {
  readonly certPath: string;
  readonly keyPath: string;
  /** PEM text. */
  readonly cert: string;
  readonly key: string;
}

export interface TestCertificates {
  readonly dir: string;
  /** The CA to trust (PEM text and path): it signed `localhost`, `expired`, `wrongHost` and `client`. */
  readonly ca: string;
  readonly caPath: string;
  /** CN=localhost, SAN DNS:localhost + IP:127.0.0.1, valid for 2 days. */
  readonly localhost: CertificateFiles;
  /** Same names, valid only from 2020-01-01 to 2020-01-02. */
  readonly expired: CertificateFiles;
  /** CN/SAN other.example only. */
  readonly wrongHost: CertificateFiles;
  /** CN=localhost with the right SANs, but signed by itself, not the CA. */
  readonly selfSigned: CertificateFiles;
  /** A client certificate (CN=candor-gateway, clientAuth) for the client-certificate server. */
  readonly client: CertificateFiles;
}

const CONFIG = `
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca ]
default_ca = kit
[ kit ]
database = index.txt
new_certs_dir = issued
serial = serial
default_md = sha256
policy = any
unique_subject = no
[ any ]
commonName = supplied
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ localhost ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[ other ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
`;

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

let cached: TestCertificates | undefined;

/** The test certificates, generated on first use. Throws a clear error if `openssl` is missing. */
export function testCertificates(): TestCertificates {
  cached ??= generate();
  return cached;
}

function generate(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'candor-fault-kit-tls-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const openssl = (...args: string[]): void => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === 'ENOENT') {
        throw new Error(
          'fault kit: the TLS faults need the `openssl` command, which is not installed (apt-get install openssl)',
        );
      }
      throw new Error(`fault kit: openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`);
    }
  };
  writeFileSync(join(dir, 'openssl.cnf'), CONFIG);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  mkdirSync(join(dir, 'issued'));
  const req = ['req', '-config', 'openssl.cnf'];
  const files = (name: string): CertificateFiles => {
    const certPath = join(dir, `${name}.pem`);
    const keyPath = join(dir, `${name}.key`);
    return { certPath, keyPath, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  };
  openssl(
    ...req,
    '-x509',
    ...EC_KEY,
    '-days',
    '2',
    '-subj',
    '/CN=Candor fault kit CA',
    '-extensions',
    'ca_ext',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  const leaf = (name: string, subject: string, extensions: string): CertificateFiles => {
    openssl(
      ...req,
      '-x509',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      ...EC_KEY,
      '-days',
      '2',
      '-subj',
      subject,
      '-extensions',
      extensions,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
    );
    return files(name);
  };
  const localhost = leaf('localhost', '/CN=localhost', 'localhost');
  const wrongHost = leaf('wrong-host', '/CN=other.example', 'other');
  const client = leaf('client', '/CN=candor-gateway', 'client');
  // `req -x509` in OpenSSL 3.0 cannot backdate; `openssl ca` can set both dates.
  openssl(
    ...req,
    '-new',
    ...EC_KEY,
    '-subj',
    '/CN=localhost',
    '-keyout',
    'expired.key',
    '-out',
    'expired.csr',
  );
  openssl(
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
    '-extensions',
    'localhost',
    '-in',
    'expired.csr',
    '-out',
    'expired.pem',
  );
  const expired = files('expired');
  openssl(
    ...req,
    '-x509',
    ...EC_KEY,
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-extensions',
    'localhost',
    '-keyout',
    'self-signed.key',
    '-out',
    'self-signed.pem',
  );
  const selfSigned = files('self-signed');
  const caPath = join(dir, 'ca.pem');
  return { dir, ca: readFileSync(caPath, 'utf8'), caPath, localhost, expired, wrongHost, selfSigned, client };
}
