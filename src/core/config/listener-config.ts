/**
 * The config's listeners as the gateway runs them: address, TLS certificates and the ACME
 * account that orders them, connection bounds, HTTP/2, PROXY protocol.
 */

export interface ListenerConfig {
  /** What routes name it by (`match.listener`); the address as written when the file gives none. Unique. */
  readonly name: string;
  /** As written in the config, e.g. "127.0.0.1:8080" or "[::1]:8443". */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly tls?: ListenerTlsConfig;
  /** Load shedding: requests in flight on this listener beyond which new ones get 503. */
  readonly maxInFlight?: number;
  /** In a cluster worker, the listener's max_in_flight that `maxInFlight` is this worker's share of. */
  readonly maxInFlightOf?: number;
  /** In a cluster worker, the listener's max_connections that `maxConnections` is this worker's share of. */
  readonly maxConnectionsOf?: number;
  /**
   * Open client connections (idle keep-alive, busy, and tunnels after a 101 alike) beyond which
   * a new one is closed as soon as it is accepted: the bound on the file descriptors one
   * listener can hold.
   */
  readonly maxConnections: number;
  /**
   * Offer HTTP/2 beside HTTP/1.1 (`h2` by ALPN on TLS, h2c by prior knowledge on a plain
   * port), each stream one request (proxy/accept/listener.ts); the bounds are `limits.http2`.
   */
  readonly http2: boolean;
  /**
   * Where a request's client certificate comes from: `handshake`, the listener's own TLS
   * (`tls.client_certificates`); `forwarded`, the RFC 9440 `Client-Cert` (and
   * `Client-Cert-Chain`) of a TLS terminator in `trust_forwarded_from`, which verified it
   * (proxy/accept/forwarded-certificate.ts).
   */
  readonly clientCertificatesFrom: 'handshake' | 'forwarded';
  /**
   * PROXY protocol (v1, v2) from TCP load balancers at these addresses or CIDR blocks: their
   * connections must open with a header, whose client then stands for the peer; anyone
   * else's must not (proxy/accept/proxy-gate.ts).
   */
  readonly proxyProtocol?: { readonly from: readonly string[] };
}

export interface ListenerTlsConfig {
  /**
   * The default certificate: served when no certificate of `certificates` (nor of `acme`) names
   * the SNI host. Absent on a listener whose certificates all come from ACME: a handshake for
   * another name then fails.
   */
  readonly cert?: string;
  readonly key?: string;
  /** More certificates, each served to the SNI names it carries (wildcards included). */
  readonly certificates: readonly { readonly cert: string; readonly key: string }[];
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** Names whose certificates the gateway orders from the `acme` CA, each served by SNI. */
  readonly acme?: { readonly names: readonly string[] };
  /**
   * Let through a request whose Host names another certificate than the one its connection's
   * SNI chose (domain fronting, or a connection reused for another host); false: 421.
   */
  readonly allowMisdirected: boolean;
  /** Mutual TLS: the certificates clients are asked for, and what vouches for them; absent: none asked. */
  readonly clientCertificates?: ClientCertificatesConfig;
}

/**
 * `listen[].tls.client_certificates`: every handshake asks the client for a certificate, checked
 * by OpenSSL against `ca` (and `crl`). With `require` a connection without a good one is refused
 * in its handshake; with `optional` it is let in, and a route that requires one answers 403.
 */
export interface ClientCertificatesConfig {
  /** Absolute path of the PEM file of the CAs that issue client certificates (read again on reload). */
  readonly ca: string;
  readonly mode: 'require' | 'optional';
  /** Absolute path of a PEM file of revocation lists (read again on reload); absent: none checked. */
  readonly crl?: string;
}

export type AcmeChallengeType = 'http-01' | 'tls-alpn-01' | 'dns-01';

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512';

/**
 * DNS-01 (RFC 8555 §8.4) by dynamic update: the `_acme-challenge` TXT record written at the
 * zone's primary (RFC 2136), signed with a TSIG key (RFC 8945), seen at every authoritative
 * server before the CA is asked, removed after.
 */
export interface Dns01Config {
  /** The primary, as written (for what is said of it) and parsed. */
  readonly server: { readonly address: string; readonly host: string; readonly port: number };
  /** The zone the names are in, lowercase, no final dot. */
  readonly zone: string;
  readonly tsig: { readonly name: string; readonly algorithm: TsigAlgorithm; readonly secretEnv: string };
  /** Where the record is looked for before the CA is asked; absent: the zone's NS, on port 53. */
  readonly nameservers?: readonly { readonly host: string; readonly port: number }[];
  /** How long the record may take to be seen at every one of them. */
  readonly propagationTimeout: number;
}

/** Automatic HTTPS: where certificates for `listen[].tls.acme.names` are ordered and kept. */
export interface AcmeConfig {
  /** The ACME server's directory URL. */
  readonly directory: string;
  readonly email?: string;
  /** Absolute path of a PEM file: the root the ACME server's own HTTPS chains to (a private CA). */
  readonly ca?: string;
  /** In order of preference. */
  readonly challenges: readonly AcmeChallengeType[];
  /** Renew this long before expiry; absent: the CA's renewal window (ARI), else a third of the lifetime before. */
  readonly renewBefore?: number;
  /** Absolute path of the folder that keeps the account key and the certificates (owner-only). */
  readonly storage: string;
  readonly dns01?: Dns01Config;
}
