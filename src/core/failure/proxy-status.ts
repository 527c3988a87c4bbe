import { trimOws } from '../ows.ts';
import type { Failure } from './failure.ts';
import { sfString, sfTokenOrString } from './structured-field.ts';
import { FAILURES, type FailureKind, type FailureType } from './taxonomy.ts';

/**
 * Proxy-Status (RFC 9209), both ways: the members this gateway writes, and the reading of a
 * header a gateway wrote (diagnose probing through one, candor/client deciding a retry).
 */

/**
 * Proxy-Status (RFC 9209) members for one gateway.
 * The member name is the gateway's name; `next-hop` is the upstream's name, or its address
 * when the config allows exposing it. `minimal` (errors.detail: minimal) leaves out `details`
 * and `next-hop`, for operators who must not show them; the log keeps them.
 */
export function failureProxyStatus(
  proxyName: string,
  failure: Failure,
  nextHop: string | undefined,
  minimal = false,
): string {
  const type = proxyStatusType(failure.type);
  let member = type === null ? sfTokenOrString(proxyName) : `${sfTokenOrString(proxyName)}; error=${type}`;
  const { params } = failure;
  if (params.rcode !== undefined) member += `; rcode=${sfString(params.rcode)}`;
  if (params.alertId !== undefined) member += `; alert-id=${params.alertId}`;
  if (params.alertMessage !== undefined) member += `; alert-message=${sfString(params.alertMessage)}`;
  // The status the next hop gave (RFC 9209 §2.1.4): the route's upstream's, when the gateway failed
  // on its answer; a failure naming a hop of its own (a plugin's fetch) got none from that hop. That
  // hop's failure after the route's upstream answered says so in a parameter of Candor's own
  // (UPSTREAM_STATUS_PARAM): its type alone (`connection_refused`) reads as a request that reached
  // nothing, and a client resent a POST the upstream had acted on.
  if (failure.receivedStatus !== undefined)
    member +=
      failure.nextHop === undefined
        ? `; received-status=${failure.receivedStatus}`
        : `; ${UPSTREAM_STATUS_PARAM}=${failure.receivedStatus}`;
  if (minimal) return member;
  if (failure.details) member += `; details=${sfString(failure.details)}`;
  if (nextHop !== undefined) member += `; next-hop=${sfString(nextHop)}`;
  return member;
}

/**
 * The RFC 9209 type Proxy-Status carries for a failure type: the type itself, or the registered
 * one a type of Candor's own is a case of (null: none, the member carries no `error`).
 */
export function proxyStatusType(type: FailureType): string | null {
  const kind: FailureKind = FAILURES[type];
  return kind.proxyStatus === undefined ? type : kind.proxyStatus;
}

/**
 * The failure type an answer with this status and RFC 9209 `error` stands for: a type of
 * Candor's own that is a case of a registered one at this status (only-if-cached's 504 says
 * `proxy_internal_response`, whose own row is the 503 of maintenance), else the type named.
 */
export function typeAnswered(error: FailureType | undefined, status: number): FailureType | undefined {
  if (error === undefined || FAILURES[error].status === status) return error;
  for (const type of CANDOR_CASES.get(error) ?? []) if (FAILURES[type].status === status) return type;
  return error;
}

/** Each registered type of which Candor has types of its own, with those types. */
const CANDOR_CASES = new Map<string, FailureType[]>();
for (const type of Object.keys(FAILURES) as FailureType[]) {
  const registered = (FAILURES[type] as FailureKind).proxyStatus;
  if (registered === undefined || registered === null) continue;
  CANDOR_CASES.set(registered, [...(CANDOR_CASES.get(registered) ?? []), type]);
}

/**
 * The member for a response the upstream made itself: its status passes through untouched.
 * No `next-hop` when it is undefined (errors.detail: minimal).
 */
export function receivedStatusProxyStatus(
  proxyName: string,
  status: number,
  nextHop: string | undefined,
): string {
  const member = `${sfTokenOrString(proxyName)}; received-status=${status}`;
  return nextHop === undefined ? member : `${member}; next-hop=${sfString(nextHop)}`;
}

/**
 * The Proxy-Status parameter (an extension: RFC 9209 §2.1 lets a member carry parameters beyond
 * the registered ones, which readers that do not know them ignore) with the status of the route's
 * upstream's answer, on a failure of another hop of the gateway's own that came after it (a
 * plugin's `context.fetch` let out of onResponse): the request was delivered, and may have been
 * acted on, whatever the failed hop's type says of that hop.
 */
export const UPSTREAM_STATUS_PARAM = 'candor-upstream-status';

/** One member of a Proxy-Status header, as read. */
export interface ProxyStatusMember {
  readonly proxy: string;
  readonly error?: FailureType;
  /** An error type this version does not know. */
  readonly unknownError?: string;
  readonly details?: string;
  readonly receivedStatus?: number;
  /** UPSTREAM_STATUS_PARAM: the route's upstream answered this status before another hop failed. */
  readonly upstreamStatus?: number;
  readonly nextHop?: string;
  /** The resolver's answer to a dns_error, and a tls_alert_received's alert: as Candor writes them. */
  readonly rcode?: string;
  readonly alertId?: number;
  readonly alertMessage?: string;
}

/**
 * Splits on commas outside quoted strings; a problem instead when the value cannot be read: a
 * string left open (it swallows the rest), or a member with no name, or a name with a space in
 * it (`edge error=x`, `; error=x`). RFC 9651 §4.2 has such a field ignored whole, and a guess at
 * it (`details="cut` read as `cu`, an empty proxy name) would be a statement never made. The
 * rest is read leniently, as before: spaces around `;`, bytes past ASCII in a name. The problem
 * says where (`candor explain --proxy-status` quotes it to whoever pasted the value).
 */
function split(value: string): { members: string[] } | { problem: string } {
  const out: string[] = [];
  let current = '';
  let opened = -1;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (opened >= 0 && c === '\\') {
      current += c + (value[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') opened = opened >= 0 ? -1 : i;
    if (c === ',' && opened < 0) {
      out.push(trimOws(current));
      current = '';
    } else current += c;
  }
  if (trimOws(current) !== '') out.push(trimOws(current));
  if (opened >= 0) return { problem: `a string opened at character ${opened + 1} is never closed` };
  if (out.length === 0) return { problem: 'it has no member' };
  const nameless = out.findIndex((member) => !MEMBER_NAME.test(member));
  if (nameless < 0) return { members: out };
  const name = /^[^;=]*/.exec(out[nameless])?.[0].trim() ?? '';
  return {
    problem:
      name === '' || name.includes('"')
        ? `member ${nameless + 1} has no name: ${JSON.stringify(out[nameless].slice(0, 60))}`
        : `member ${nameless + 1}'s name ${JSON.stringify(name.slice(0, 60))} has a space in it`,
  };
}

function members(value: string): string[] | undefined {
  const read = split(value);
  return 'members' in read ? read.members : undefined;
}

/** Why a Proxy-Status value cannot be read, and where; undefined when it can be. */
export function proxyStatusProblem(value: string): string | undefined {
  const read = split(value);
  return 'problem' in read ? read.problem : undefined;
}

/** A member's name: an sf-string, or a run with no space, quote, comma, `;` or `=` (a token, leniently). */
const MEMBER_NAME = /^(?:"(?:[^"\\]|\\.)*"|[^ \t",;=]+)(?:[ \t]*;|$)/;

function readMember(text: string): ProxyStatusMember {
  // The member's name is a token or an sf-string, which may hold `;` and escapes of its own:
  // the parameters are read after it, never inside it.
  const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(text);
  const proxy = quoted ? quoted[1].replace(/\\(.)/g, '$1') : trimOws(text.split(';')[0]);
  const params = new Map<string, string>();
  const param = /;[ \t]*([a-z*][a-z0-9_.*-]*)=("(?:[^"\\]|\\.)*"|[^;]*)/g;
  for (const match of text.slice(quoted ? quoted[0].length : 0).matchAll(param)) {
    const raw = trimOws(match[2]);
    params.set(match[1], raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw);
  }
  const error = params.get('error');
  const received = params.get('received-status');
  const receivedStatus = received === undefined ? undefined : Number(received);
  const upstreamStatus = Number(params.get(UPSTREAM_STATUS_PARAM));
  const alertId = Number(params.get('alert-id'));
  return {
    proxy,
    error: error !== undefined && Object.hasOwn(FAILURES, error) ? (error as FailureType) : undefined,
    unknownError: error !== undefined && !Object.hasOwn(FAILURES, error) ? error : undefined,
    details: params.get('details'),
    receivedStatus: Number.isInteger(receivedStatus) ? receivedStatus : undefined,
    nextHop: params.get('next-hop'),
    ...(Number.isInteger(upstreamStatus) && params.has(UPSTREAM_STATUS_PARAM) ? { upstreamStatus } : {}),
    ...(params.has('rcode') ? { rcode: params.get('rcode') } : {}),
    ...(Number.isInteger(alertId) && params.has('alert-id') ? { alertId } : {}),
    ...(params.has('alert-message') ? { alertMessage: params.get('alert-message') } : {}),
  };
}

/**
 * Every member, in header order: the hop nearest the origin first, each intermediary after it
 * (RFC 9209 §2: a proxy appends its member). None when the value cannot be read (`members`).
 */
export function readProxyStatusMembers(value: string | undefined): ProxyStatusMember[] {
  return value === undefined ? [] : (members(value)?.map(readMember) ?? []);
}

/** A Proxy-Status that is there but cannot be read (`readProxyStatusMembers` ignores it). */
export function isMalformedProxyStatus(value: string | undefined): boolean {
  return value !== undefined && members(value) === undefined;
}

/**
 * The last member: what the gateway nearest the reader said, and the only member a client of
 * that gateway may act on. An inner member naming an error says what an inner hop met, not
 * how far this request got: when the nearest gateway wrote `received-status`, it delivered the
 * request, and whatever answered (an inner gateway, an origin that copied a header) may have
 * processed it.
 */
export function readProxyStatus(value: string | undefined): ProxyStatusMember | undefined {
  return readProxyStatusMembers(value).at(-1);
}
