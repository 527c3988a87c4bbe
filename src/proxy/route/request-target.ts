import { trimOws } from '../../core/http1/syntax.ts';
import type { FieldMap } from '../../core/net/downstream.ts';

/** The authority (host[:port]) and origin-form path of a request, from its target and Host. */
interface RequestTarget {
  readonly authority: string;
  readonly path: string;
}

/**
 * RFC 9112 §3.2.2: a server must accept the absolute form, and then its authority
 * replaces the Host header. The origin form keeps the path exactly as the client sent it.
 */
export function splitTarget(url: string, host: string): RequestTarget {
  if (url.charCodeAt(0) === 0x2f /* / */ || url === '*') return { authority: host, path: url };
  const schemeEnd = url.indexOf('://') + 3;
  const pathStart = url.slice(schemeEnd).search(/[/?]/);
  if (pathStart === -1) return { authority: url.slice(schemeEnd), path: '/' };
  const authority = url.slice(schemeEnd, schemeEnd + pathStart);
  const path = url.slice(schemeEnd + pathStart);
  return { authority, path: path.charCodeAt(0) === 0x3f /* ? */ ? '/' + path : path };
}

/**
 * The fields as the gateway reads them: with an absolute-form target, Host is the target's
 * authority (RFC 9112 §3.2.2: the Host field received with it is ignored), as it is for the
 * route's `match.host` and the upstream's Host, so that a route's condition on Host, a rate
 * limit or hash keyed on it and the log read the host the request goes to, not one the client
 * wrote beside it. The field as received is still checked (request-checks.ts). A copy only
 * for that form (the origin form, the common one, starts with `/`: no pattern run for it).
 */
export function addressedFields(fields: FieldMap, target: string): FieldMap {
  if (target.charCodeAt(0) === 0x2f /* / */ || !/^https?:\/\//i.test(target)) return fields;
  // No prototype, as fieldMap's: a field named `constructor` is a field like any other.
  return Object.assign(Object.create(null), fields, { host: splitTarget(target, '').authority });
}

/**
 * Whether this gateway's own name is already a received-by in Via (RFC 9110 §7.6.3), in any case:
 * a received-by is a host or a pseudonym, and a host is case-insensitive (§4.2.3), so a hop that
 * wrote `EDGE-1` for `edge-1` (or a name given in capitals in another gateway's config) still
 * loops. Only a request that came through a proxy has a Via to read.
 */
export function isLoop(via: string | undefined, name: string): boolean {
  if (via === undefined) return false;
  const lower = via.toLowerCase();
  const own = name.toLowerCase();
  if (!lower.includes(own)) return false;
  for (const entry of lower.split(',')) {
    const receivedBy = trimOws(entry).split(/[ \t]+/)[1];
    if (receivedBy === own) return true;
  }
  return false;
}
