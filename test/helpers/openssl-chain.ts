/**
 * Certificate chains made by the openssl command line that break one rule of the CA that signed
 * them, for an upstream the gateway (or `candor diagnose`) must refuse: a root, an intermediate
 * it signed, and a leaf for localhost the intermediate signed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ChainFault {
  /** The root may sign no other CA (`pathlen:0`), and signs the intermediate all the same (PATH_LENGTH_EXCEEDED). */
  readonly rootPathLength?: 0;
  /** The leaf's extendedKeyUsage: `clientAuth` makes it no server certificate (INVALID_PURPOSE). */
  readonly leafUsage?: 'serverAuth' | 'clientAuth';
  /** The intermediate is no CA (`CA:FALSE`), and signs the leaf all the same (INVALID_CA). */
  readonly intermediateIsCa?: boolean;
}

/** The root's file (to trust), the chain the server sends (leaf, intermediate) and the leaf's key. */
export function makeChain(dir: string, fault: ChainFault): { root: string; chain: string; key: string } {
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const intermediate =
    fault.intermediateIsCa === false
      ? 'basicConstraints=critical,CA:FALSE'
      : 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign';
  writeFileSync(
    join(dir, 'ext.cnf'),
    `[intermediate]\n${intermediate}\n[leaf]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\nextendedKeyUsage=${fault.leafUsage ?? 'serverAuth'}\n`,
  );
  const pathLength = fault.rootPathLength === 0 ? ',pathlen:0' : '';
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'root.key',
    '-out',
    'root.pem',
    '-days',
    '2',
    '-subj',
    '/CN=root',
    '-addext',
    `basicConstraints=critical,CA:TRUE${pathLength}`,
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  for (const [name, issuer] of [
    ['intermediate', 'root'],
    ['leaf', 'intermediate'],
  ]) {
    const cn = name === 'leaf' ? 'localhost' : name;
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.pem`,
      '-CAkey',
      `${issuer}.key`,
      '-set_serial',
      String(name.length),
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
      '-extensions',
      name,
    );
  }
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  return {
    root: join(dir, 'root.pem'),
    chain: read('leaf.pem') + read('intermediate.pem'),
    key: read('leaf.key'),
  };
}
