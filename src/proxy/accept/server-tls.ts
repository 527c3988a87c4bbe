import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { ListenerTlsConfig } from '../../core/config/types.ts';
import type { ClientCertificate } from '../../core/net/client-certificate.ts';
import { LEVEL2_CIPHERS } from '../../core/net/tls-floor.ts';
import { servedNames } from '../../core/tls/certificate-names.ts';
import { type ClientCa, loadClientCa } from './client-ca.ts';

/**
 * A listener's TLS: the default certificate, more certificates chosen by SNI from the names
 * each carries (its DNS subject alternative names, else its common name; `*.example.com`
 * covers one label), and the lowest protocol version. Any TLS server can use it (node:https
 * today, Candor's own server on node:tls alike): `options` go to the server's constructor,
 * `prepare` re-reads every file for the handshakes that follow.
 */
export interface ServerTls {
  readonly options: tls.TlsOptions;
  /**
   * Reads the certificates and keys again (a renewed certificate under the same path): what can
   * fail (a file gone, a pair that does not match) throws here, and nothing changed. The function
   * returned serves them from now on; true when the client CAs or revocation lists changed: the
   * certificates of the connections open now were judged under the old ones (listener.ts ends those connections).
   */
  prepare(config: ListenerTlsConfig, server: tls.Server): () => boolean;
  /**
   * Whether a request for `host` (no port) came on a connection whose SNI chose another
   * certificate than the one that names `host` (RFC 9110 §15.5.20: misdirected, 421). A host no
   * certificate names is not misdirected (no other connection would be more right for it), nor
   * one the connection's certificate names too (a wildcard: the client checked it for the host,
   * as HTTP/2 coalescing does), nor anything on a listener with `allow_misdirected`.
   */
  misdirected(servername: string | undefined, host: string): boolean;
  /**
   * The certificate a connection's client presented, judged once its handshake is done; undefined
   * on a listener without `client_certificates`.
   */
  clientCertificate(socket: tls.TLSSocket): ClientCertificate | undefined;
  /** Whether the listener's client certificates are `mode: require` (no connection without a good one). */
  requiresCertificate(): boolean;
  /**
   * Whether a handshake for `servername` (undefined: the client sent none) has a certificate to
   * be served: one that names it, else the default. False only on a listener whose certificates
   * all come from ACME, for a name it orders none for (or none issued yet).
   */
  serves(servername: string | undefined): boolean;
}

/** A certificate's names: exact ones, and wildcards by the part after "*.". */
interface CertificateNames {
  readonly exact: ReadonlySet<string>;
  readonly wildcard: ReadonlySet<string>;
}

interface SniTable {
  readonly exact: ReadonlyMap<string, tls.SecureContext>;
  /** By the part after "*.", e.g. "example.com" for "*.example.com". */
  readonly wildcard: ReadonlyMap<string, tls.SecureContext>;
  /** The names of the default certificate, as a table that chooses nothing else. */
  readonly fallback: CertificateNames;
  /** Each listed certificate's names, by its context. */
  readonly names: ReadonlyMap<tls.SecureContext, CertificateNames>;
  readonly allowMisdirected: boolean;
  /** What every context of the listener carries besides its pair: the lowest version, the client CAs. */
  readonly shared: Readonly<tls.SecureContextOptions>;
}

/**
 * Certificates the listener does not read from its config files: those the gateway ordered by
 * ACME, looked up at each handshake (a renewal serves from the next one on).
 */
export interface CertificateSource {
  /** `shared`: the listener's options besides the pair (SniTable.shared), one object per config, which the source keeps its contexts by. */
  contextFor(servername: string, shared: Readonly<tls.SecureContextOptions>): tls.SecureContext | undefined;
}

/** Stands for the default certificate when certificates are compared (its context is the server's own). */
const DEFAULT_CERTIFICATE = Symbol('default certificate');

export function createServerTls(config: ListenerTlsConfig, ordered?: CertificateSource): ServerTls {
  let clientCa = config.clientCertificates && loadClientCa(config.clientCertificates);
  let table = sniTable(config, clientCa);
  let hasDefault = config.cert !== undefined && config.key !== undefined;
  // A configured certificate first (the operator named it), then an ordered one; undefined:
  // the server's default context (the listener's own cert and key, if it has one).
  const pick = (name: string) => contextFor(table, name) ?? ordered?.contextFor(sniName(name), table.shared);
  const SNICallback = (
    servername: string,
    callback: (err: Error | null, ctx?: tls.SecureContext) => void,
  ) => {
    callback(null, pick(servername));
  };
  return {
    options: { ...contextOptions(config.cert, config.key, table.shared), ...askFor(clientCa), SNICallback },
    prepare(next, server) {
      const nextCa = next.clientCertificates && loadClientCa(next.clientCertificates);
      const nextTable = sniTable(next, nextCa);
      const options = contextOptions(next.cert, next.key, nextTable.shared);
      // Made once here so that a pair that does not match throws now, before anything changed.
      tls.createSecureContext(options);
      return () => {
        server.setSecureContext(options);
        // Read by node:tls for each connection it accepts (setSecureContext leaves them alone).
        Object.assign(server, askFor(nextCa));
        table = nextTable;
        hasDefault = next.cert !== undefined && next.key !== undefined;
        const judgedAlike = clientCa?.judgesBy === nextCa?.judgesBy;
        clientCa = nextCa;
        return !judgedAlike;
      };
    },
    clientCertificate: (socket) => clientCa?.judge(socket),
    requiresCertificate: () => clientCa?.rejectUnauthorized ?? false,
    serves: (servername) => hasDefault || (servername !== undefined && pick(servername) !== undefined),
    misdirected(servername, host) {
      if (table.allowMisdirected) return false;
      const wanted = pick(host) ?? certificateNaming(table, host);
      if (wanted === undefined) return false;
      const chosen = (servername === undefined ? undefined : pick(servername)) ?? DEFAULT_CERTIFICATE;
      if (wanted === chosen) return false;
      const carried = chosen === DEFAULT_CERTIFICATE ? table.fallback : table.names.get(chosen);
      return carried === undefined || !covers(carried, host);
    },
  };
}

/** The certificate the SNI `host` would choose, the default one when it carries the name; undefined when none names it. */
function certificateNaming(
  table: SniTable,
  host: string,
): tls.SecureContext | typeof DEFAULT_CERTIFICATE | undefined {
  const chosen = contextFor(table, host);
  if (chosen !== undefined) return chosen;
  return covers(table.fallback, host) ? DEFAULT_CERTIFICATE : undefined;
}

/** Whether a certificate's names cover `host`: exactly, or by a wildcard one label up. */
function covers(names: CertificateNames, host: string): boolean {
  const name = host.toLowerCase();
  const dot = name.indexOf('.');
  return names.exact.has(name) || (dot !== -1 && names.wildcard.has(name.slice(dot + 1)));
}

function namesOf(list: readonly string[]): CertificateNames {
  const exact = new Set<string>();
  const wildcard = new Set<string>();
  for (const name of list) {
    if (name.startsWith('*.')) wildcard.add(name.slice(2));
    else exact.add(name);
  }
  return { exact, wildcard };
}

/**
 * Whether node:tls asks each client for a certificate, and refuses the handshake of one without
 * a good one (`require`). With `optional` the connection is made whatever the client sends (no
 * TLS alert a browser cannot explain) and a route that requires one answers 403.
 */
function askFor(clientCa: ClientCa | undefined): { requestCert: boolean; rejectUnauthorized: boolean } {
  return { requestCert: clientCa !== undefined, rejectUnauthorized: clientCa?.rejectUnauthorized ?? true };
}

/** A listener whose certificates all come from ACME has no default pair: a handshake for another name fails. */
function contextOptions(
  cert: string | undefined,
  key: string | undefined,
  shared: Readonly<tls.SecureContextOptions>,
): tls.SecureContextOptions {
  return cert === undefined || key === undefined
    ? { ...shared }
    : { cert: readFileSync(cert), key: readFileSync(key), ...shared };
}

function sniTable(config: ListenerTlsConfig, clientCa: ClientCa | undefined): SniTable {
  const shared = {
    minVersion: config.minVersion,
    // A client's certificate with a 1024-bit RSA key refused on Node 22 as on 24 (tls-floor.ts).
    ...(LEVEL2_CIPHERS === undefined ? {} : { ciphers: LEVEL2_CIPHERS }),
    ...clientCa?.contextOptions,
  };
  const exact = new Map<string, tls.SecureContext>();
  const wildcard = new Map<string, tls.SecureContext>();
  const names = new Map<tls.SecureContext, CertificateNames>();
  for (const pair of config.certificates) {
    const options = contextOptions(pair.cert, pair.key, shared);
    const context = tls.createSecureContext(options);
    const carried = servedNames(options.cert as Buffer);
    names.set(context, namesOf(carried));
    // The first certificate in the list that names a host serves it.
    for (const name of carried) {
      if (name.startsWith('*.')) {
        if (!wildcard.has(name.slice(2))) wildcard.set(name.slice(2), context);
      } else if (!exact.has(name)) exact.set(name, context);
    }
  }
  const fallback = namesOf(config.cert === undefined ? [] : servedNames(readFileSync(config.cert)));
  return { exact, wildcard, fallback, names, allowMisdirected: config.allowMisdirected, shared };
}

/** An exact name first, then a wildcard one label up ("a.example.com" → "*.example.com"); else the default. */
function contextFor(table: SniTable, servername: string): tls.SecureContext | undefined {
  const name = sniName(servername);
  const found = table.exact.get(name);
  if (found !== undefined) return found;
  const dot = name.indexOf('.');
  return dot === -1 ? undefined : table.wildcard.get(name.slice(dot + 1));
}

/**
 * A server name as the certificates' names are kept: lower-cased, without the trailing dot of a
 * fully qualified name, which some clients send (RFC 6066 §3 has none), as the router drops
 * it from Host: kept, it would choose the default certificate and make the request misdirected.
 */
function sniName(servername: string): string {
  const name = servername.toLowerCase();
  return name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name;
}
