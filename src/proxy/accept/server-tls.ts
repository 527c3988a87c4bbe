import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { ListenerTlsConfig } from '../../core/config/types.ts';

/**
 * A listener's TLS: the default certificate, more certificates chosen by SNI from the names
 * each carries (its DNS subject alternative names, else its common name; `*.example.com`
 * covers one label), and the lowest protocol version. Any TLS server can use it (node:https
 * today, Candor's own server on node:tls alike): `options` go to the server's constructor,
 * `reload` re-reads every file for the handshakes that follow.
 */
export interface ServerTls {
  readonly options: tls.TlsOptions;
  /** Reads the certificates and keys again (a renewed certificate under the same path) and serves them from now on. */
  reload(config: ListenerTlsConfig, server: tls.Server): void;
}

interface SniTable {
  readonly exact: ReadonlyMap<string, tls.SecureContext>;
  /** By the part after "*.", e.g. "example.com" for "*.example.com". */
  readonly wildcard: ReadonlyMap<string, tls.SecureContext>;
}

/**
 * Certificates the listener does not read from its config files: those the gateway ordered by
 * ACME, looked up at each handshake (a renewal serves from the next one on).
 */
export interface CertificateSource {
  contextFor(servername: string): tls.SecureContext | undefined;
}

export function createServerTls(config: ListenerTlsConfig, ordered?: CertificateSource): ServerTls {
  let table = sniTable(config);
  const SNICallback = (
    servername: string,
    callback: (err: Error | null, ctx?: tls.SecureContext) => void,
  ) => {
    // A configured certificate first (the operator named it), then an ordered one; undefined:
    // the server's default context (the listener's own cert and key, if it has one).
    callback(null, contextFor(table, servername) ?? ordered?.contextFor(servername.toLowerCase()));
  };
  return {
    options: { ...contextOptions(config.cert, config.key, config.minVersion), SNICallback },
    reload(next, server) {
      const nextTable = sniTable(next);
      server.setSecureContext(contextOptions(next.cert, next.key, next.minVersion));
      table = nextTable;
    },
  };
}

/** A listener whose certificates all come from ACME has no default pair: a handshake for another name fails. */
function contextOptions(
  cert: string | undefined,
  key: string | undefined,
  minVersion: tls.SecureVersion,
): tls.SecureContextOptions {
  return cert === undefined || key === undefined
    ? { minVersion }
    : { cert: readFileSync(cert), key: readFileSync(key), minVersion };
}

function sniTable(config: ListenerTlsConfig): SniTable {
  const exact = new Map<string, tls.SecureContext>();
  const wildcard = new Map<string, tls.SecureContext>();
  for (const pair of config.certificates) {
    const options = contextOptions(pair.cert, pair.key, config.minVersion);
    const context = tls.createSecureContext(options);
    // The first certificate in the list that names a host serves it.
    for (const name of certificateNames(options.cert as Buffer)) {
      if (name.startsWith('*.')) {
        if (!wildcard.has(name.slice(2))) wildcard.set(name.slice(2), context);
      } else if (!exact.has(name)) exact.set(name, context);
    }
  }
  return { exact, wildcard };
}

/** An exact name first, then a wildcard one label up ("a.example.com" → "*.example.com"); else the default. */
function contextFor(table: SniTable, servername: string): tls.SecureContext | undefined {
  const name = servername.toLowerCase();
  const found = table.exact.get(name);
  if (found !== undefined) return found;
  const dot = name.indexOf('.');
  return dot === -1 ? undefined : table.wildcard.get(name.slice(dot + 1));
}

/** The DNS names a certificate (the first of a PEM chain) is for, lower-cased. */
function certificateNames(pem: Buffer | string): string[] {
  const cert = new X509Certificate(pem);
  const dns = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  if (dns.length > 0) return dns;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}
