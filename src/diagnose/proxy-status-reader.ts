/**
 * Reads the last member of a Proxy-Status header (RFC 9209): what the gateway in front said
 * about the failure it answered for, when the probe went through a gateway.
 */
import { FAILURES, type FailureType } from '../failure/taxonomy.ts';

export interface ProxyStatusMember {
  readonly proxy: string;
  readonly error?: FailureType;
  /** An error type this version does not know. */
  readonly unknownError?: string;
  readonly details?: string;
  readonly receivedStatus?: number;
  readonly nextHop?: string;
}

/** Splits on commas outside quoted strings. */
function members(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted && c === '\\') {
      current += c + (value[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      out.push(current.trim());
      current = '';
    } else current += c;
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}

export function readProxyStatus(value: string | undefined): ProxyStatusMember | undefined {
  if (value === undefined) return undefined;
  const last = members(value).at(-1);
  if (last === undefined) return undefined;
  const params = new Map<string, string>();
  const param = /;\s*([a-z*][a-z0-9_.*-]*)=("(?:[^"\\]|\\.)*"|[^;]*)/g;
  for (const match of last.matchAll(param)) {
    const raw = match[2].trim();
    params.set(match[1], raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw);
  }
  const proxy = last.split(';')[0].trim().replace(/^"|"$/g, '');
  const error = params.get('error');
  const received = params.get('received-status');
  return {
    proxy,
    error: error !== undefined && Object.hasOwn(FAILURES, error) ? (error as FailureType) : undefined,
    unknownError: error !== undefined && !Object.hasOwn(FAILURES, error) ? error : undefined,
    details: params.get('details'),
    receivedStatus: received === undefined ? undefined : Number(received),
    nextHop: params.get('next-hop'),
  };
}
