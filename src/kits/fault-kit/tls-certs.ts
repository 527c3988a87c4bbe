/**
 * Test certificates, made with the `openssl` command once per process into a temp directory
 * (removed at exit): a throwaway CA and leaves it signed, plus one self-signed leaf.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertificateFiles {
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
  writeFileSync(join(dir, 'openssl.cnf'), CONFIG);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  mkdirSync(join(dir, 'issued'));
  makeCa(dir);
  const localhost = issueLeaf(dir, 'localhost', '/CN=localhost', 'localhost');
  const wrongHost = issueLeaf(dir, 'wrong-host', '/CN=other.example', 'other');
  const client = issueLeaf(dir, 'client', '/CN=candor-gateway', 'client');
  const expired = issueExpired(dir);
  const selfSigned = makeSelfSigned(dir);
  const caPath = join(dir, 'ca.pem');
  return { dir, ca: readFileSync(caPath, 'utf8'), caPath, localhost, expired, wrongHost, selfSigned, client };
}

/** Runs `openssl` in `dir`; a missing command or a failure is an error that says which. */
function openssl(dir: string, ...args: string[]): void {
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
}

const REQ = ['req', '-config', 'openssl.cnf'];

function filesOf(dir: string, name: string): CertificateFiles {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  return { certPath, keyPath, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

/** The CA every leaf but the self-signed one is issued by: ca.pem and ca.key. */
function makeCa(dir: string): void {
  openssl(
    dir,
    ...REQ,
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
}

/** A leaf the CA issues for two days, with the extensions of its section in openssl.cnf. */
function issueLeaf(dir: string, name: string, subject: string, extensions: string): CertificateFiles {
  openssl(
    dir,
    ...REQ,
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
  return filesOf(dir, name);
}

/** A localhost leaf of the CA's that expired on 2 January 2020. */
function issueExpired(dir: string): CertificateFiles {
  // `req -x509` in OpenSSL 3.0 cannot backdate; `openssl ca` can set both dates.
  openssl(
    dir,
    ...REQ,
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
    dir,
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
  return filesOf(dir, 'expired');
}

/** A localhost certificate that signed itself: no CA vouches for it. */
function makeSelfSigned(dir: string): CertificateFiles {
  openssl(
    dir,
    ...REQ,
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
  return filesOf(dir, 'self-signed');
}
