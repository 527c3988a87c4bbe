/** The upstream's certificate in a few readable facts: who, signed by whom, until when, for which names. */
import tls from 'node:tls';
import type { CertificateFacts, TlsFacts } from './types.ts';

type Names = Record<string, string | string[] | undefined>;

function formatName(name: Names | undefined): string {
  if (!name) return '(none)';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(name)) {
    for (const item of Array.isArray(value) ? value : [value])
      if (item !== undefined) parts.push(`${key}=${item}`);
  }
  return parts.join(', ') || '(empty)';
}

function isoDate(text: string): string {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toISOString().slice(0, 10);
}

export function describeCertificate(
  cert: tls.PeerCertificate | undefined,
  checkedName: string,
): CertificateFacts | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  return {
    subject: formatName(cert.subject as unknown as Names),
    issuer: formatName(cert.issuer as unknown as Names),
    validFrom: isoDate(cert.valid_from),
    validTo: isoDate(cert.valid_to),
    subjectAltName: cert.subjectaltname ?? '',
    checkedName,
    hostnameMatch: tls.checkServerIdentity(checkedName, cert) === undefined,
  };
}

/** "expired 1650 days ago" / "expires in 2 days". */
function expiryText(validTo: string, now = Date.now()): string {
  const end = Date.parse(validTo);
  if (Number.isNaN(end)) return `valid to ${validTo}`;
  const days = Math.round((end - now) / 86_400_000);
  if (end < now) return `expired on ${validTo} (${-days} days ago)`;
  return `valid to ${validTo} (${days} days left)`;
}

export function tlsNotes(facts: TlsFacts): string[] {
  const cert = facts.certificate;
  if (!cert) return [];
  const selfSigned = cert.issuer === cert.subject ? ' (self-signed)' : '';
  return [
    `certificate ${cert.subject}, issued by ${cert.issuer}${selfSigned}, ${expiryText(cert.validTo)}`,
    `names ${cert.subjectAltName || '(no subjectAltName)'}; checked against "${cert.checkedName}": ${cert.hostnameMatch ? 'matches' : 'does NOT match'}`,
  ];
}
