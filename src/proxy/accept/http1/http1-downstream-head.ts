/**
 * The head an HTTP/1.1 request is handed over with (DownstreamHead, the same for both
 * protocols), from what the strict parser read and the facts of its connection.
 */
import type { Socket } from 'node:net';
import type { RequestHead } from '../../../core/http1/parsed-request.ts';
import { nameIs, trimOws } from '../../../core/http1/syntax.ts';
import { clientCertificateOf } from '../../../core/net/client-certificate.ts';
import type { ConnectionSni, DownstreamHead } from '../../../core/net/downstream.ts';
import { expectsOnlyContinue } from '../request-checks.ts';

/** A head as it is put together (DownstreamHead, writable). */
type HeadDraft = { -readonly [K in keyof DownstreamHead]: DownstreamHead[K] };

/**
 * The head of a request parsed on `socket`, whose client is at `remoteAddress` and asked for
 * `sni` (TLS only), read once per connection by the caller.
 */
export function http1DownstreamHead(
  head: RequestHead,
  socket: Socket,
  remoteAddress: string,
  sni: ConnectionSni,
  encrypted: boolean,
  /** When the head began arriving, if before the read that made it whole. */
  startedAt: number | undefined,
): DownstreamHead {
  const hasBody = head.framing !== 'none';
  let expectContinue = false;
  let h2c = false;
  const fields = head.headers;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    // RFC 9110 §10.1.1: 100-continue from an HTTP/1.0 client is ignored (it knows no 1xx).
    // Any of the Expect fields (accept's checks refuse a list that asks for more than that).
    if (nameIs(name, 'expect'))
      expectContinue ||= head.versionMinor === 1 && expectsOnlyContinue(fields[i + 1]);
    // Any of the Upgrade fields: the upstream reads them as one list (RFC 9110 §5.3).
    else if (head.upgrade && nameIs(name, 'upgrade')) h2c ||= offersHttp2(fields[i + 1]);
  }
  // h2c is answered as the plain request it also is (RFC 9113 dropped it; tunnelled, it would
  // let HTTP/2 past every check here), and so is one to h2 (only ever negotiated by TLS's ALPN,
  // RFC 9113 §3.2, and as much a way past them), and an upgrade with a body (the session refuses it).
  const upgrade = head.upgrade && !h2c && !hasBody;
  const downstream: HeadDraft = {
    method: head.method,
    target: head.target,
    versionMajor: 1,
    versionMinor: head.versionMinor,
    protocol: head.versionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
    headers: fields,
    remoteAddress,
    encrypted,
    bodyLength:
      head.framing === 'chunked' ? 'chunked' : head.framing === 'length' ? head.contentLength : undefined,
    upgrade,
    expectContinue,
  };
  // Only a TLS connection's heads have one (not a spread: the head keeps one shape).
  if (sni.servername !== undefined) downstream.servername = sni.servername;
  if (sni.servernameUnknown === true) downstream.servernameUnknown = true;
  if (startedAt !== undefined) downstream.startedAt = startedAt;
  const certificate = clientCertificateOf(socket);
  if (certificate !== undefined) downstream.clientCertificate = certificate;
  return downstream;
}

/**
 * Whether an Upgrade field offers HTTP/2: `h2c`, `h2`, or `HTTP/2.0` as RFC 9110 §7.8 names a
 * version of HTTP (case-insensitive).
 */
function offersHttp2(value: string): boolean {
  return value.split(',').some((p) => {
    const [name, version = ''] = trimOws(p).toLowerCase().split('/');
    return name === 'h2c' || name === 'h2' || (name === 'http' && /^2(\.|$)/.test(version));
  });
}
