import { MAX_FIELDS } from '../../core/http1/field-lines.ts';
import { connectionNominated, isHopByHopName, isLoneOption } from '../../core/http1/hop-by-hop.ts';
import { leastMaxForwards } from '../../core/http1/max-forwards.ts';
import { appendListMember, nameIs, TOKEN } from '../../core/http1/syntax.ts';
import type { ClientCertificate } from '../../core/net/client-certificate.ts';
import {
  forwardedAsForList,
  forwardedParams,
  namedEntries,
  readableElements,
} from '../../core/net/forwarded-for.ts';
import { lastEntry, protoStated } from '../../core/net/forwarded-proto.ts';
import { clientCertFields, isClientCertificateField } from './client-cert-fields.ts';
import * as Kind from './client-field-kinds.ts';
import { isCandorWordSpelledOtherwise, isProxysWord, mayBeProxysWord } from './proxys-words.ts';

/** What the request-header rewrite needs to know about this request. */
interface ForwardFacts {
  readonly clientAddress: string;
  /** The client is a proxy we trust: its X-Forwarded-*, X-Real-IP and Forwarded headers are kept (this hop appended to its Forwarded). */
  readonly trusted: boolean;
  /** "http" or "https": how the client reached us. */
  readonly protocol: string;
  /** Host as the client sent it (port included), for X-Forwarded-Host. */
  readonly host: string;
  readonly requestId: string;
  readonly traceparent: string;
  /** Forward the client's tracestate (only when its trace was continued). */
  readonly keepTracestate: boolean;
  /** "1.1 edge-1": this hop's Via entry. */
  readonly via: string;
  /**
   * The certificate the client presented, where the listener asks for one: then this hop is the
   * one that speaks of client certificates (every client's fields of that kind dropped, a trusted
   * proxy's too), and tells a verified one in `Client-Cert` and `Client-Cert-Chain`.
   */
  readonly clientCertificate?: ClientCertificate;
}

/** Fields a client's Connection header cannot take off the request (see buildUpstreamHeaders). */
const ADDRESSING_AND_FRAMING = ['content-length', 'host'] as const;

/**
 * What the client's fields told of the hops before this one, gathered while they are copied and
 * said again after them with this hop's own entry. One record for every request: the builder
 * runs in one go, never re-entered, and makes no object of its own for it (issue 61).
 */
const told = {
  forwardedFor: undefined as string | undefined,
  forwardedProto: undefined as string | undefined,
  forwardedHost: undefined as string | undefined,
  forwarded: undefined as string | undefined,
  via: undefined as string | undefined,
  host: false,
  maxForwards: false,
};

/**
 * The upstream request's headers, as a flat [name, value, …] list: the client's
 * headers in their order and case, minus hop-by-hop fields, plus this hop's facts.
 */
export function buildUpstreamHeaders(raw: readonly string[], facts: ForwardFacts): string[] {
  const certificate =
    facts.clientCertificate === undefined ? NONE : clientCertFields(facts.clientCertificate);
  told.forwardedFor = told.forwardedProto = told.forwardedHost = told.forwarded = told.via = undefined;
  told.host = false;
  told.maxForwards = false;
  // Each client field judged, this hop's values made, then the list made to its size: grown
  // field by field, it took two stores a request, the second twice the size it needed; made to
  // the most and cut, the runtime's length setter (0.1 µs a request, most of what this hop's
  // fields cost, perf, issue 61).
  const fates = raw.length <= 2 * FATES.length ? FATES : new Uint8Array(raw.length >> 1);
  const kept = judgeClientFields(raw, facts, nominatedOf(raw), fates);
  // An HTTP/1.0 client may send no Host: an absolute-form target's authority is the Host all
  // the same (without it the next hop would get the target's address); with none, neither is said.
  const host = !told.host && facts.host !== '';
  const out: string[] = new Array(2 * (kept + prepareHopFields(facts)) + certificate.length + (host ? 2 : 0));
  filled = 0;
  if (host) put(out, 'host', facts.host);
  copyClientFields(raw, facts, fates, out);
  appendHopFields(facts, certificate, out);
  return out;
}

const NONE: readonly string[] = Object.freeze([]);

/** What becomes of a client's field (judgeClientFields): dropped, or sent with its value or another. */
const DROPPED = 0;
const AS_IT_CAME = 1;
const AS_HOST = 2;
const CANONICAL_LENGTH = 3;
const DECREMENTED = 4;

/**
 * The fate of each field of the request being built, judged in the first walk over the client's
 * fields and read in the second: bytes, one store for every request of the parser's most fields
 * (a longer list, which only a request the gateway did not parse could be, gets its own).
 */
const FATES = new Uint8Array(MAX_FIELDS);

/** The next free index of the list buildUpstreamHeaders fills (one list at a time, as `told`). */
let filled = 0;

function put(out: string[], name: string, value: string): void {
  out[filled] = name;
  out[filled + 1] = value;
  filled += 2;
}

/**
 * The fields the client's Connection names (hop-by-hop, RFC 9110 §7.6.1), without those that
 * frame and address the request: they are this hop's to send, whatever the client's Connection
 * says (without its Content-Length the body would go upstream unframed, read there as a request
 * the gateway never parsed). Undefined: none named (a Connection of one option alone, as most
 * say, is left out before any list is made: isLoneOption).
 */
function nominatedOf(raw: readonly string[]): Set<string> | undefined {
  let connection: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2)
    if (nameIs(raw[i], 'connection') && !isLoneOption(raw[i + 1])) {
      connection ??= [];
      connection.push(raw[i + 1]);
    }
  const nominated = connection === undefined ? undefined : connectionNominated(connection);
  if (nominated !== undefined) for (const name of ADDRESSING_AND_FRAMING) nominated.delete(name);
  return nominated;
}

/**
 * Which of the client's fields go on, and with which value, into `fates`; what the hops before
 * said, into `told`. Returns how many go on. Names are compared as they came (clientFieldKind,
 * isHopByHopName): a lower-cased copy of each is made only where a list or set of names is
 * looked in (a name that may be the proxy's word, one with `_`, one the client's Connection
 * names), where a copy a field and a switch over it cost 0.1–0.2 µs for a browser's ten (issue 61).
 */
function judgeClientFields(
  raw: readonly string[],
  facts: ForwardFacts,
  nominated: Set<string> | undefined,
  fates: Uint8Array,
): number {
  let kept = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    fates[i >> 1] = DROPPED;
    if (isHopByHopName(name)) continue;
    const kind = Kind.clientFieldKind(name);
    // A field the client's Connection names is this hop's alone (RFC 9110 §7.6.1): none of its
    // lines goes on. But this hop reads a trusted proxy's forwarding fields whatever names them
    // (the client their X-Forwarded-For vouches for is the one allow/deny and {client_ip} judge,
    // trust.ts) and says them again in its own, after them: dropped here too, its X-Forwarded-For
    // named the proxy as the client the gateway had judged to be another.
    if (nominated?.has(name.toLowerCase()) && !Kind.isSaidAgain(kind)) continue;
    if (name.includes('_') && isCandorWordSpelledOtherwise(name.toLowerCase())) continue;
    switch (kind) {
      case Kind.DROP:
        continue;
      case Kind.X_FORWARDED_FOR:
        if (facts.trusted)
          told.forwardedFor = told.forwardedFor === undefined ? value : `${told.forwardedFor}, ${value}`;
        continue;
      case Kind.X_FORWARDED_PROTO:
        // Its last line is the proxy's own word (forwarded-proto.ts), what went before its client's.
        if (facts.trusted) told.forwardedProto = value;
        continue;
      case Kind.X_FORWARDED_HOST:
        // As its X-Forwarded-Proto: the proxy's own word is its last line's last entry, never a
        // host its client wrote before it (the one an app builds its absolute links from).
        if (facts.trusted) told.forwardedHost = value;
        continue;
      case Kind.FORWARDED:
        if (facts.trusted)
          told.forwarded = told.forwarded === undefined ? value : `${told.forwarded}, ${value}`;
        continue;
      case Kind.VIA:
        told.via = told.via === undefined ? value : `${told.via}, ${value}`;
        continue;
      case Kind.HOST:
        // RFC 9112 §3.2.2: an absolute-form target's authority replaces Host (facts.host is that authority).
        fates[i >> 1] = AS_HOST;
        told.host = true;
        kept++;
        continue;
      case Kind.CONTENT_LENGTH:
        fates[i >> 1] = CANONICAL_LENGTH;
        kept++;
        continue;
      case Kind.MAX_FORWARDS:
        // One line goes on, with the count that holds (leastMaxForwards): a second, sent on as
        // well, was a count the next hop could read instead of the one this hop judged.
        if (told.maxForwards) continue;
        told.maxForwards = true;
        fates[i >> 1] = DECREMENTED;
        kept++;
        continue;
      case Kind.TRACESTATE:
        if (facts.keepTracestate) break;
        continue;
    }
    if (!facts.trusted && mayBeProxysWord(name) && isProxysWord(name.toLowerCase())) continue;
    if (facts.clientCertificate !== undefined && isClientCertificateField(name.toLowerCase())) continue;
    fates[i >> 1] = AS_IT_CAME;
    kept++;
  }
  return kept;
}

/** The client's fields that go on (judgeClientFields), in their order and case, into `out`. */
function copyClientFields(
  raw: readonly string[],
  facts: ForwardFacts,
  fates: Uint8Array,
  out: string[],
): void {
  for (let i = 0; i < raw.length; i += 2) {
    const fate = fates[i >> 1];
    if (fate === DROPPED) continue;
    const value = raw[i + 1];
    if (fate === AS_IT_CAME) put(out, raw[i], value);
    else if (fate === AS_HOST) put(out, raw[i], facts.host);
    // The decimal the body was framed with: "0010" is 10 here, and 8 to a parser that reads a
    // leading zero as octal (both parsers took digits only, so only zeros need going).
    else if (fate === CANONICAL_LENGTH)
      put(out, raw[i], value.length > 1 && value.charCodeAt(0) === 48 ? String(Number(value)) : value);
    // RFC 9110 §7.6.2: each hop forwarding the request decrements it (only OPTIONS and TRACE
    // must honour it; for the others it is harmless). A spent OPTIONS never gets here.
    else put(out, raw[i], decremented(leastMaxForwards(raw) ?? value));
  }
}

/**
 * This hop's Forwarded and X-Forwarded-Host for the request being built ('': not said), made
 * before its list is, to count them in (prepareHopFields), and written after the client's fields.
 */
const hop = { forwarded: '', forwardedHost: '' };

/** Makes this hop's Forwarded and X-Forwarded-Host; returns how many fields appendHopFields writes (the certificate's aside). */
function prepareHopFields(facts: ForwardFacts): number {
  const { forwarded, forwardedHost } = told;
  // A trusted proxy that sent no Forwarded told the client's facts in X-Forwarded-* alone: an
  // element of this hop's own (its proto, from the proxy) would be read by frameworks that
  // prefer Forwarded (Rack, Spring) as the client's, an https client's request as http.
  hop.forwarded =
    forwarded !== undefined
      ? `${readableElements(forwarded)}, ${forwardedElement(facts)}`
      : facts.trusted
        ? ''
        : forwardedElement(facts);
  // The host its client asked for, which apps build links from: a trusted proxy's X-Forwarded-Host,
  // or, from one that wrote only Forwarded, its last element's host= (as its proto= is told in
  // X-Forwarded-Proto); else the Host this hop sends, as for a last entry that is empty (`a, `, an
  // empty line: no host named, as an empty X-Forwarded-Proto's falls back to the listener's scheme).
  hop.forwardedHost =
    forwardedHost !== undefined
      ? lastEntry(forwardedHost) || facts.host
      : forwarded !== undefined
        ? forwardedParams(forwarded, 'host=').at(-1) || facts.host
        : facts.host;
  // X-Forwarded-For and -Proto, Via, X-Request-Id and traceparent always.
  return 5 + (hop.forwarded === '' ? 0 : 1) + (hop.forwardedHost === '' ? 0 : 1);
}

/**
 * This hop's own fields after the client's: the client certificate's (`certificate`),
 * Forwarded, X-Forwarded-*, Via, the request id and trace.
 */
function appendHopFields(facts: ForwardFacts, certificate: readonly string[], out: string[]): void {
  const { forwardedFor, forwardedProto, forwarded, via } = told;
  // A trusted proxy that wrote only Forwarded vouched for the client there: said in X-Forwarded-For
  // too, as its proto= is in X-Forwarded-Proto, or an app reading X-Forwarded-For would take that
  // proxy for the client (told.forwarded is a trusted proxy's alone).
  const before =
    forwardedFor !== undefined
      ? namedEntries(forwardedFor)
      : forwarded === undefined
        ? undefined
        : forwardedAsForList(forwarded);
  for (let i = 0; i < certificate.length; i += 2) put(out, certificate[i], certificate[i + 1]);
  if (hop.forwarded !== '') put(out, 'forwarded', hop.forwarded);
  put(
    out,
    'x-forwarded-for',
    before === undefined ? facts.clientAddress : `${before}, ${facts.clientAddress}`,
  );
  // The scheme a trusted proxy states is the request's (request-scheme.ts), routed and cached by:
  // told as such. One that states none (`wss`) goes as its own last word alone: never a list
  // whose first entry (what Express and Django read) its client wrote, `https, wss` for an http request.
  const word = forwardedProto === undefined ? '' : lastEntry(forwardedProto);
  put(out, 'x-forwarded-proto', word === '' || protoStated(word) !== undefined ? facts.protocol : word);
  if (hop.forwardedHost !== '') put(out, 'x-forwarded-host', hop.forwardedHost);
  // Without the empty members an empty Via line or a trailing comma would make (syntax.ts).
  put(out, 'via', appendListMember(via, facts.via));
  put(out, 'x-request-id', facts.requestId);
  put(out, 'traceparent', facts.traceparent);
}

/**
 * This hop's element of `Forwarded` (RFC 7239 §4): the client it took the request from (an IPv6
 * address in brackets, quoted; `unknown` once its connection is gone, §6.2), the Host that
 * client sent, and the protocol it used, as X-Forwarded-For, -Host and -Proto say them.
 */
function forwardedElement(facts: ForwardFacts): string {
  const { clientAddress: address, host, protocol } = facts;
  const last = lastElement;
  if (address === last.address && host === last.host && protocol === last.protocol) return last.value;
  const node = address === '' ? 'unknown' : address.includes(':') ? `"[${address}]"` : address;
  // A client that named no host (HTTP/1.0 without Host) gets no `host=`: "" would name one.
  last.value =
    host === ''
      ? `for=${node};proto=${protocol}`
      : `for=${node};host=${forwardedHostValue(host)};proto=${protocol}`;
  last.address = address;
  last.host = host;
  last.protocol = protocol;
  return last.value;
}

/**
 * The last element written, and what it was made of: most requests come from the client, and
 * name the host, the one before them did (a keep-alive connection's). Made again each time, it
 * was a string of some pieces a request, flattened again in the head's join.
 */
const lastElement = { address: '', host: '', protocol: '', value: 'for=unknown;proto=' };

/** A Host as a Forwarded value: a token as it is; else (a port's colon, an IPv6 literal) a quoted-string. */
function forwardedHostValue(host: string): string {
  return TOKEN.test(host) ? host : `"${host.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * The same headers with `host` as Host (a copy: the list is shared by every attempt), the
 * client's host staying in X-Forwarded-Host and Forwarded: for a request to a service of the
 * gateway's own (an auth call), asked by its own name.
 */
export function withHost(headers: readonly string[], host: string): string[] {
  const copy = headers.slice();
  const at = copy.findIndex((name, i) => i % 2 === 0 && name.toLowerCase() === 'host');
  if (at === -1) copy.unshift('host', host);
  else copy[at + 1] = host;
  return copy;
}

/**
 * The same headers with another `traceparent` value (the one buildUpstreamHeaders added): a copy,
 * the original is shared by every attempt. Looked for among the names only: fields after it (the
 * route's rules, an upgrade's) may hold the word as a value (`Upgrade: traceparent`, a `{host}`).
 */
export function withTraceparent(headers: readonly string[], traceparent: string): string[] {
  const copy = headers.slice();
  let at = copy.length - 2;
  while (at >= 0 && copy[at] !== 'traceparent') at -= 2;
  copy[at + 1] = traceparent;
  return copy;
}

/**
 * The same headers with one grpc-timeout, of `value`, where the first was (a copy: the list is
 * shared by every attempt); a repeat is dropped, its deadline counted in `value` (parseGrpcTimeouts).
 */
export function withGrpcTimeout(headers: readonly string[], value: string): string[] {
  const copy: string[] = [];
  let told = false;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === 12 && headers[i].toLowerCase() === 'grpc-timeout') {
      if (told) continue;
      told = true;
      copy.push(headers[i], value);
    } else copy.push(headers[i], headers[i + 1]);
  }
  return copy;
}

/** The largest Max-Forwards this hop counts: 15 digits, all exact as a Number. */
const MAX_FORWARDS_COUNTED = 999_999_999_999_999;

/**
 * Max-Forwards less this hop, or the largest count it keeps when that is less (RFC 9110 §7.6.2:
 * a count of any length is lessened, never passed on as it came); a value that is not a count
 * is passed on as it came.
 */
function decremented(value: string): string {
  if (!/^[0-9]+$/.test(value)) return value;
  const digits = value.replace(/^0+(?=.)/, '');
  if (digits.length > 15) return String(MAX_FORWARDS_COUNTED);
  return String(Math.max(0, Math.min(MAX_FORWARDS_COUNTED, Number(digits) - 1)));
}

/** The fields without Range and If-Range: the whole answer asked for (exchange.ts, upstream-request.ts). */
export function withoutRange(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i].toLowerCase();
    if (name !== 'range' && name !== 'if-range') out.push(headers[i], headers[i + 1]);
  }
  return out;
}
