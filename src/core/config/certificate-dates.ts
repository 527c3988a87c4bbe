/**
 * Certificates and revocation lists whose dates make them refused, told by `candor check` (and
 * serve's start and reload, which run the same warnings): a file that loads fine but that every
 * peer refuses went unsaid until the first handshake failed. Warnings, not problems: serving an
 * expired certificate is legal (a client may be told to take it), and a list is renewed in place
 * (read again on reload). What each date does is OpenSSL's verdict at each handshake:
 * - a listener's certificate expired or not yet valid: every client refuses it
 *   (CERT_HAS_EXPIRED, CERT_NOT_YET_VALID); one in its last days, told before it is;
 * - a CA of `client_certificates.ca` or of an upstream's `tls.ca` out of its dates: every
 *   certificate it issued is refused, the chain's own dates are checked to the root;
 * - a revocation list past its next update (or before its this update): every certificate of its
 *   CA is refused (CRL_HAS_EXPIRED, CRL_NOT_YET_VALID), docs/configuration.md's `crl` rows;
 * - an upstream's client certificate (`tls.cert`) out of its dates: a target that asks for one
 *   refuses it.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { children, type Node, node } from '../tls/certificate-id.ts';
import { crlsIn } from '../tls/crl-list.ts';
import type { PathSegment } from './schema.ts';
import type { GatewayConfig } from './types.ts';

type Warning = { path: readonly PathSegment[]; message: string };

const DAY = 24 * 60 * 60 * 1000;

/**
 * A served certificate is told of in its last 14 days, and only in the last third of its
 * lifetime (as ACME renews): a short-lived one (a day, a week, renewed by a sidecar) is always
 * within 14 days of its end, and saying so at every reload would be noise.
 */
const RENEW_WITHIN_DAYS = 14;

export function certificateDateWarnings(config: GatewayConfig, now = Date.now()): Warning[] {
  const warnings: Warning[] = [];
  for (const [index, listener] of config.listen.entries()) {
    const tls = listener.tls;
    if (tls === undefined) continue;
    const at: PathSegment[] = ['listen', index, 'tls'];
    if (tls.cert !== undefined) warnings.push(...servedCertificate(tls.cert, [...at, 'cert'], now));
    for (const [n, { cert }] of tls.certificates.entries())
      warnings.push(...servedCertificate(cert, [...at, 'certificates', n, 'cert'], now));
    const clients = tls.clientCertificates;
    if (clients === undefined) continue;
    const refused = 'so every client certificate it issued is refused';
    warnings.push(...caFile(clients.ca, [...at, 'client_certificates', 'ca'], refused, now));
    if (clients.crl !== undefined)
      warnings.push(
        ...crlFile(clients.crl, [...at, 'client_certificates', 'crl'], 'every client certificate', now),
      );
  }
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const { tls } = upstream;
    const at: PathSegment[] = ['upstreams', name, 'tls'];
    if (tls.ca !== undefined)
      warnings.push(
        ...caFile(tls.ca, [...at, 'ca'], "so every target's certificate it issued is refused (502)", now),
      );
    if (tls.crl !== undefined)
      warnings.push(...crlFile(tls.crl, [...at, 'crl'], "every target's certificate", now));
    if (tls.cert !== undefined) {
      const cert = firstCertificate(tls.cert);
      const problem = cert === undefined ? undefined : outOfDates(cert, now);
      if (problem !== undefined)
        warnings.push({
          path: [...at, 'cert'],
          message: `${JSON.stringify(tls.cert)} (${named(cert as X509Certificate)}) ${problem}: a target that asks for a client certificate refuses it; renew it`,
        });
    }
  }
  return warnings;
}

/** A listener's certificate: out of its dates, or in its last days. */
function servedCertificate(file: string, path: PathSegment[], now: number): Warning[] {
  const cert = firstCertificate(file);
  if (cert === undefined) return [];
  const problem = outOfDates(cert, now);
  if (problem !== undefined)
    return [
      {
        path,
        message: `${JSON.stringify(file)} (${named(cert)}) ${problem}: it is served, and every client refuses it; renew it`,
      },
    ];
  const end = cert.validToDate.getTime();
  const lifetime = end - cert.validFromDate.getTime();
  const left = end - now;
  if (left >= RENEW_WITHIN_DAYS * DAY || left >= lifetime / 3) return [];
  return [
    {
      path,
      message: `${JSON.stringify(file)} (${named(cert)}) expires on ${day(cert.validToDate)}, in ${Math.ceil(left / DAY)} day(s): from then every client refuses it; renew it`,
    },
  ];
}

/** Each CA of a file out of its dates. */
function caFile(file: string, path: PathSegment[], refused: string, now: number): Warning[] {
  const warnings: Warning[] = [];
  for (const [index, cert] of certificatesIn(file).entries()) {
    const problem = outOfDates(cert, now);
    if (problem !== undefined)
      warnings.push({
        path,
        message: `${JSON.stringify(file)}: CA certificate ${index + 1} (${named(cert)}) ${problem}, ${refused}; replace it`,
      });
  }
  return warnings;
}

/** Each revocation list of a file past its next update, or not in force yet. */
function crlFile(file: string, path: PathSegment[], covered: string, now: number): Warning[] {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return []; // The loader's own check says why it cannot be read.
  }
  const warnings: Warning[] = [];
  for (const [index, pem] of crlsIn(text).entries()) {
    const dates = crlDates(pem);
    if (dates === undefined) continue;
    const which = `list ${index + 1}${dates.issuer === undefined ? '' : ` (issuer CN=${dates.issuer})`}`;
    if (dates.nextUpdate !== undefined && dates.nextUpdate.getTime() < now)
      warnings.push({
        path,
        message: `${JSON.stringify(file)}: ${which} was due for its next update on ${day(dates.nextUpdate)}: ${covered} of its CA is refused (CRL_HAS_EXPIRED) until a new list is put in its place`,
      });
    else if (dates.thisUpdate.getTime() > now)
      warnings.push({
        path,
        message: `${JSON.stringify(file)}: ${which} is not in force before ${day(dates.thisUpdate)} (its this update): ${covered} of its CA is refused (CRL_NOT_YET_VALID) until then; check its dates or the clock`,
      });
  }
  return warnings;
}

/** Why a certificate is refused for its dates now, or undefined. */
function outOfDates(cert: X509Certificate, now: number): string | undefined {
  if (cert.validToDate.getTime() < now) return `expired on ${day(cert.validToDate)} (CERT_HAS_EXPIRED)`;
  if (cert.validFromDate.getTime() > now)
    return `is not valid before ${day(cert.validFromDate)} (CERT_NOT_YET_VALID)`;
  return undefined;
}

/** Its subject's CN and its SANs, what an operator finds it by. */
function named(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  const parts = [cn === undefined ? cert.subject.replaceAll('\n', ', ') : `CN=${cn}`];
  if (cert.subjectAltName !== undefined) parts.push(cert.subjectAltName);
  return parts.join(', ');
}

const day = (date: Date): string => date.toISOString().replace('.000Z', 'Z');

function certificatesIn(file: string): X509Certificate[] {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return [];
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const certs: X509Certificate[] = [];
  for (const block of blocks)
    try {
      certs.push(new X509Certificate(block));
    } catch {
      // The loader's own check (file-checks.ts) says which cannot be read.
    }
  return certs;
}

function firstCertificate(file: string): X509Certificate | undefined {
  return certificatesIn(file)[0];
}

/**
 * A CRL's thisUpdate and nextUpdate (RFC 5280 §5.1: CertificateList → TBSCertList → version?,
 * signature, issuer, thisUpdate, nextUpdate?), and its issuer's CN; undefined where the DER is
 * not that (node:crypto reads no CRL, and OpenSSL loaded it already: crlProblem).
 */
export function crlDates(pem: string): { thisUpdate: Date; nextUpdate?: Date; issuer?: string } | undefined {
  const body = pem.replace(/-----(BEGIN|END) X509 CRL-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(body, 'base64');
  const outer = node(der, 0, der.length);
  const [tbs] = outer === undefined ? [] : children(der, outer);
  if (tbs?.tag !== 0x30) return undefined;
  const fields = children(der, tbs);
  // version (an INTEGER) is there only from v2 on.
  const [algorithm, issuer, thisItem, next] = fields.slice(fields[0]?.tag === 0x02 ? 1 : 0);
  if (algorithm?.tag !== 0x30 || issuer?.tag !== 0x30) return undefined;
  const thisUpdate = timeOf(der, thisItem);
  if (thisUpdate === undefined) return undefined;
  const nextUpdate = timeOf(der, next);
  return {
    thisUpdate,
    ...(nextUpdate === undefined ? {} : { nextUpdate }),
    ...issuerCn(der.subarray(issuer.start, issuer.end)),
  };
}

/** A UTCTime (RFC 5280: YY below 50 is 20YY) or GeneralizedTime, in UTC ("Z"). */
function timeOf(der: Buffer, item: Node | undefined): Date | undefined {
  if (item === undefined || (item.tag !== 0x17 && item.tag !== 0x18)) return undefined;
  const text = der.subarray(item.start, item.end).toString('latin1');
  const digits = item.tag === 0x17 ? /^(\d{2})(\d{10})Z$/.exec(text) : /^(\d{4})(\d{10})Z$/.exec(text);
  if (digits === null) return undefined;
  const year =
    item.tag === 0x17 ? (Number(digits[1]) < 50 ? 2000 : 1900) + Number(digits[1]) : Number(digits[1]);
  const [mo, d, h, mi, s] = digits[2].match(/\d{2}/g)?.map(Number) ?? [];
  return new Date(Date.UTC(year, mo - 1, d, h, mi, s));
}

/** The issuer Name's commonName (OID 2.5.4.3), the string after it. */
function issuerCn(name: Buffer): { issuer?: string } {
  const oid = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]);
  const at = name.indexOf(oid);
  if (at === -1) return {};
  const value = node(name, at + oid.length, name.length);
  return value === undefined ? {} : { issuer: name.subarray(value.start, value.end).toString('utf8') };
}
