/**
 * Two CAs made with the openssl command line, a root and an intermediate it signed, each keeping
 * its own revocation list: the intermediate issues client certificates (`clientAuth`), the root
 * may revoke the intermediate. For a listener whose `ca` holds the root alone (the client sends
 * its intermediate) and whose `crl` holds one list from each CA of the chain.
 */
import { execFileSync } from 'node:child_process';
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
[subca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
[leaf]
basicConstraints = CA:false
extendedKeyUsage = clientAuth
[server]
basicConstraints = CA:false
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
`;
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface ClientCaChain {
  /** The root's certificate (the listener's `ca`). */
  readonly root: string;
  /**
   * Issues a client certificate for CN=`cn` by the intermediate (with `server`, a server's for
   * localhost): its PEM then the intermediate's (what the peer sends), and its key.
   */
  issue(cn: string, options?: { readonly server?: boolean }): { readonly cert: string; readonly key: string };
  /** The intermediate revokes `cn`'s certificate. */
  revoke(cn: string): void;
  /** The root revokes the intermediate. */
  revokeIntermediate(): void;
  /** The lists of `which` CAs (the root's, the intermediate's, in that order) as one PEM file's text, written now. */
  lists(which: readonly ('root' | 'intermediate')[]): string;
  remove(): void;
}

export function makeClientCaChain(): ClientCaChain {
  const dir = tempDir('candor-client-chain-');
  const openssl = (cwd: string, args: string[]) =>
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const root = join(dir, 'root');
  const intermediate = join(dir, 'intermediate');
  for (const ca of [root, intermediate]) {
    mkdirSync(join(ca, 'db'), { recursive: true });
    writeFileSync(join(ca, 'db', 'index.txt'), '');
    writeFileSync(join(ca, 'db', 'serial'), '1000\n');
    writeFileSync(join(ca, 'db', 'crlnumber'), '1000\n');
    writeFileSync(join(ca, 'ca.cnf'), CA_CONFIG);
  }
  const sign = (ca: string, csr: string, out: string, extensions: string) =>
    openssl(
      ca,
      ['ca', '-config', 'ca.cnf', '-batch', '-notext', '-cert', 'ca.pem', '-keyfile', 'ca.key'].concat([
        '-days',
        '2',
        '-extensions',
        extensions,
        '-in',
        csr,
        '-out',
        out,
      ]),
    );
  openssl(
    root,
    [
      'req',
      '-x509',
      ...EC,
      '-days',
      '2',
      '-subj',
      '/CN=client root',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
    ].concat([
      '-addext',
      'basicConstraints=critical,CA:true',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]),
  );
  openssl(intermediate, [
    'req',
    '-new',
    ...EC,
    '-subj',
    '/CN=client intermediate',
    '-keyout',
    'ca.key',
    '-out',
    'ca.csr',
  ]);
  sign(root, join(intermediate, 'ca.csr'), join(intermediate, 'ca.pem'), 'subca');
  const read = (file: string) => readFileSync(file, 'utf8');
  const revoke = (ca: string, pem: string) =>
    openssl(ca, ['ca', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-revoke', pem]);
  const listOf = (ca: string) => {
    openssl(ca, [
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
    return read(join(ca, 'crl.pem'));
  };
  return {
    root: join(root, 'ca.pem'),
    issue(cn, options = {}) {
      openssl(intermediate, [
        'req',
        '-new',
        ...EC,
        '-subj',
        `/CN=${cn}`,
        '-keyout',
        `${cn}.key`,
        '-out',
        `${cn}.csr`,
      ]);
      sign(intermediate, `${cn}.csr`, `${cn}.pem`, options.server ? 'server' : 'leaf');
      return {
        cert: read(join(intermediate, `${cn}.pem`)) + read(join(intermediate, 'ca.pem')),
        key: read(join(intermediate, `${cn}.key`)),
      };
    },
    revoke: (cn) => revoke(intermediate, `${cn}.pem`),
    revokeIntermediate: () => revoke(root, join(intermediate, 'ca.pem')),
    lists: (which) => which.map((ca) => listOf(ca === 'root' ? root : intermediate)).join(''),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
