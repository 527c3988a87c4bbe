/**
 * A CA of client certificates made with the openssl command line, in a folder of its own: it
 * issues certificates for `clientAuth`, revokes them, and writes its CRL (`crl.pem`, written at
 * once, empty), for a TLS listener's `client_certificates: { ca, crl }`; or server certificates
 * for an upstream's `tls: { ca, crl }`.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp-dir.ts';

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
[named]
basicConstraints = CA:false
extendedKeyUsage = clientAuth
subjectAltName = $ENV::SAN
[bare]
basicConstraints = CA:false
extendedKeyUsage = clientAuth
[server]
basicConstraints = CA:false
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
`;

/** What a certificate is issued with besides its CN: by default SAN email:CN@example.com, good for two days from now. */
export interface IssueOptions {
  /** Its files' name (`name`.pem, `name`.key), when the CN is no file name; the CN by default. */
  readonly name?: string;
  /** Its SANs in openssl's syntax (`DNS:a.example,URI:spiffe://…`); empty: no SAN extension at all. */
  readonly san?: string;
  /** Its dates as openssl's GeneralizedTime (`20250101000000Z`). */
  readonly startDate?: string;
  readonly endDate?: string;
  /** A TLS server's certificate (`serverAuth`, SAN `san`): what an upstream presents, with the CRL of this CA. */
  readonly server?: boolean;
  /** Its key: an RSA one of 1024 bits (OpenSSL's level 2 refuses it), not the P-256 one. */
  readonly weakRsa?: boolean;
}

export interface ClientCa {
  /** The CA's certificate (a listener's `ca`). */
  readonly ca: string;
  /** Its revocation list (a listener's `crl`). */
  readonly crl: string;
  /** Issues a certificate for CN=`cn` (and SAN email:`cn`@example.com, unless `options` say): what a client presents. */
  issue(cn: string, options?: IssueOptions): { readonly cert: Buffer; readonly key: Buffer };
  /** The DER of `name`'s certificate as RFC 9440's Client-Cert carries it (`:base64:`). */
  der(name: string): string;
  /** Revokes `cn`'s certificate and writes the CRL again. */
  revoke(cn: string): void;
  /** Writes the CRL again with these dates (openssl's GeneralizedTime): one past its next update, or not yet in force. */
  dateCrl(lastUpdate: string, nextUpdate: string): void;
  remove(): void;
}

export function makeClientCa(): ClientCa {
  const dir = tempDir('candor-client-ca-');
  const openssl = (args: string[], cn = 'none', san = 'none') =>
    execFileSync('openssl', args, {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CN: cn, SAN: san },
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
  const gencrl = (dates: string[] = []) =>
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
      ...dates,
    ]);
  gencrl();
  return {
    ca: join(dir, 'ca.pem'),
    crl: join(dir, 'crl.pem'),
    issue(cn, options = {}) {
      const name = options.name ?? cn;
      const subject = `/CN=${cn.replaceAll('/', '\\/')}`;
      const extensions = options.server
        ? 'server'
        : options.san === undefined
          ? 'leaf'
          : options.san === ''
            ? 'bare'
            : 'named';
      const dates =
        options.startDate === undefined && options.endDate === undefined
          ? ['-days', '2']
          : [
              '-startdate',
              options.startDate ?? '20250101000000Z',
              '-enddate',
              options.endDate ?? '20991231000000Z',
            ];
      const key = options.weakRsa ? ['-newkey', 'rsa:1024', '-nodes'] : ec;
      openssl(['req', '-new', ...key, '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
      openssl(
        ['ca', '-config', 'ca.cnf', '-batch', '-notext', '-cert', 'ca.pem', '-keyfile', 'ca.key']
          .concat(dates)
          .concat(['-extensions', extensions, '-in', `${name}.csr`, '-out', `${name}.pem`]),
        cn,
        options.san,
      );
      return { cert: readFileSync(join(dir, `${name}.pem`)), key: readFileSync(join(dir, `${name}.key`)) };
    },
    der(name) {
      return `:${new X509Certificate(readFileSync(join(dir, `${name}.pem`))).raw.toString('base64')}:`;
    },
    revoke(cn) {
      openssl(['ca', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-revoke', `${cn}.pem`]);
      gencrl();
    },
    dateCrl(lastUpdate, nextUpdate) {
      gencrl(['-crl_lastupdate', lastUpdate, '-crl_nextupdate', nextUpdate]);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
