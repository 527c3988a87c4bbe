import { receivedStatusProxyStatus } from '../../core/failure/proxy-status.ts';
import { appendSfMember, isSfList } from '../../core/failure/structured-field.ts';
import { MAX_FIELDS } from '../../core/http1/field-lines.ts';
import { connectionNominated, isHopByHopName, isLoneOption } from '../../core/http1/hop-by-hop.ts';
import { appendListMember, listMembers, listValue, nameIs } from '../../core/http1/syntax.ts';

/** What becomes of an upstream's field downstream (fateOf). */
const PASSED = 0;
const DROPPED = 1;
/** Said again in this hop's own Via, after the upstream's entries. */
const VIA = 2;
/** Said again in one Proxy-Status with this gateway's member, when it has one. */
const PROXY_STATUS = 3;

/**
 * The fate of each field of the head being built, decided in the first walk over its fields
 * and read in the second: bytes, one store for every head of the parser's most fields (a
 * longer list, which only a head the gateway did not parse could be, gets its own).
 */
const FATES = new Uint8Array(MAX_FIELDS);

/**
 * The downstream response's headers from the upstream's parsed head, as a flat [name, value, …]
 * list: hop-by-hop fields out, Via, X-Request-Id and (on errors the upstream made) Proxy-Status
 * in. `via` is this hop's entry ("1.1 edge-1"); `proxyStatus` this gateway's Proxy-Status
 * member, appended to the upstream's own when that is a valid List (else it replaces it); without
 * one, the upstream's goes on only when it is a List, and last (relayedHead);
 * `trailers`: the downstream response will carry trailers (chunked, to an HTTP/1.1 client),
 * otherwise no Trailer field goes.
 */
export function buildDownstreamHead(
  raw: readonly string[],
  requestId: string,
  via: string,
  proxyStatus: string | undefined,
  trailers: boolean,
): string[] {
  // The first walk decides each field's fate and counts those passed on, so that the list is
  // made to its size: one made larger and cut to it took the runtime's length setter (a third
  // of this function's 0.24 µs a request, perf, issue 61).
  let connection: string[] | undefined;
  let passed = 0;
  let statusSaid = proxyStatus !== undefined;
  const fates = raw.length <= 2 * FATES.length ? FATES : new Uint8Array(raw.length >> 1);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const fate = fateOf(name, trailers);
    fates[i >> 1] = fate;
    if (fate === PASSED) passed++;
    else if (fate === PROXY_STATUS) statusSaid = true;
    else if (fate === DROPPED && nameIs(name, 'connection')) {
      // nginx's every answer says `Connection: keep-alive`: no list for it.
      const value = raw[i + 1];
      if (isLoneOption(value)) continue;
      connection ??= [];
      connection.push(value);
    }
  }
  const nominated = connection === undefined ? undefined : connectionNominated(connection);
  // The fields passed on, Via, X-Request-Id and Proxy-Status when one is said.
  const out: string[] = new Array(2 * passed + (statusSaid ? 6 : 4));
  let n = 0;
  let upstreamVia: string | undefined;
  let upstreamStatus: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const fate = fates[i >> 1];
    if (fate === DROPPED) continue;
    const name = raw[i];
    // Only a Connection that names fields takes a lower-cased copy of each.
    if (nominated?.has(name.toLowerCase())) continue;
    const value = raw[i + 1];
    if (fate === VIA) upstreamVia = upstreamVia === undefined ? value : `${upstreamVia}, ${value}`;
    else if (fate === PROXY_STATUS)
      upstreamStatus = upstreamStatus === undefined ? value : `${upstreamStatus}, ${value}`;
    else {
      out[n++] = name;
      out[n++] = value;
    }
  }
  out[n++] = 'via';
  // Without the empty members an empty Via line or a trailing comma would make (syntax.ts).
  out[n++] = appendListMember(upstreamVia, via);
  out[n++] = 'x-request-id';
  out[n++] = requestId;
  if (proxyStatus !== undefined) {
    out[n++] = 'proxy-status';
    out[n++] = appendSfMember(upstreamStatus, proxyStatus);
  } else if (upstreamStatus !== undefined && isSfList(upstreamStatus)) {
    // Passed on only as a List (RFC 9651 §4.2: a reader ignores a field it cannot parse; this
    // hop sends none it cannot), last in the head: relayedHead finds it there.
    out[n++] = 'proxy-status';
    out[n++] = upstreamStatus;
  }
  // Fields a Connection named, gone: the list is shorter than counted (rare).
  if (n < out.length) out.length = n;
  return out;
}

/**
 * The downstream head of an upstream's answer (buildDownstreamHead), with this hop's Proxy-Status
 * member (`received-status`) on a 5xx, and after a Proxy-Status the upstream sent on any other:
 * an upstream's member may name any proxy, this gateway too (`edge-1; error=http_request_denied`
 * on its own 429), and a client acts on the last member (RFC 9209 §2: each proxy appends its
 * own), so the last is this gateway's. Under 500 the member is made only when the upstream sent
 * a field (an answer without one allocates nothing), and not for a call of the gateway's own,
 * whose answer the gateway reads and says its own member of (own-answer-head.ts).
 */
export function relayedHead(
  answer: { readonly status: number; readonly headers: readonly string[] },
  requestId: string,
  via: string,
  options: { readonly proxyName: string; readonly ownCall: boolean },
  nextHop: string | undefined,
  trailers: boolean,
): string[] {
  const { status } = answer;
  if (status >= 500) {
    const member = receivedStatusProxyStatus(options.proxyName, status, nextHop);
    return buildDownstreamHead(answer.headers, requestId, via, member, trailers);
  }
  const head = buildDownstreamHead(answer.headers, requestId, via, undefined, trailers);
  // buildDownstreamHead writes a Proxy-Status it passes on last.
  const at = head.length - 2;
  if (at >= 0 && head[at] === 'proxy-status' && !options.ownCall)
    head[at + 1] = `${head[at + 1]}, ${receivedStatusProxyStatus(options.proxyName, status, nextHop)}`;
  return head;
}

/**
 * A 426's Upgrade field, dropped as hop-by-hop with the others, said again in `head` (the
 * downstream head buildDownstreamHead made of `raw`): RFC 9110 §15.5.22 makes it a MUST of a 426,
 * the only word of what the client must upgrade to, and this hop forwards the upgrade the client
 * then asks for (§7.6.1: a proxy removes or replaces such a field). Said as one list, all the
 * upstream's lines joined; the HTTP/1.1 writer names it in Connection (§7.8), HTTP/2 has no
 * Upgrade and drops it. Any other answer's Upgrade only advertises this hop's protocols: it stays.
 */
export function keepRequiredUpgrade(status: number, raw: readonly string[], head: string[]): void {
  if (status !== 426) return;
  const upgrade = upgradeOf(raw);
  if (upgrade !== '') head.push('upgrade', upgrade);
}

/**
 * The protocols an upstream's answer names in Upgrade (a 101's: those it switched to), its lines
 * joined as one list (RFC 9110 §5.3): a 101 split over two lines switches to both, in that order
 * (an empty line adds no empty member).
 */
export function upgradeOf(raw: readonly string[]): string {
  let upgrade = '';
  for (let i = 0; i < raw.length; i += 2)
    if (nameIs(raw[i], 'upgrade')) upgrade = upgrade === '' ? raw[i + 1] : `${upgrade}, ${raw[i + 1]}`;
  return listValue(upgrade);
}

/**
 * Whether a 101 that switched to `upgrade` (upgradeOf's list) left the connection speaking
 * WebSocket, with or without a version: its lowest layer, the first protocol named (RFC 9110
 * §7.8: layer-ascending order). In `foo/2, websocket` WebSocket rides inside foo/2, whose bytes
 * a WebSocket frame of the gateway's would break.
 */
export function speaksWebSocket(upgrade: string): boolean {
  const lowest = listMembers(upgrade)[0];
  if (lowest === undefined) return false;
  const slash = lowest.indexOf('/');
  return (slash === -1 ? lowest : lowest.slice(0, slash)) === 'websocket';
}

/**
 * A field's fate by its name as it came: names compared by length first, then letters, where
 * a lower-cased copy of each and its hash for Set lookups were 0.15 µs a request (perf: the
 * building 1.7 % of the floor's CPU before, 1.3 % after).
 */
function fateOf(name: string, trailers: boolean): number {
  if (isHopByHopName(name)) return DROPPED;
  switch (name.length) {
    case 3:
      return nameIs(name, 'via') ? VIA : PASSED;
    case 7:
      return !trailers && nameIs(name, 'trailer') ? DROPPED : PASSED;
    case 12:
      if (nameIs(name, 'proxy-status')) return PROXY_STATUS;
      return nameIs(name, 'x-request-id') ? DROPPED : PASSED;
    default:
      return PASSED;
  }
}
