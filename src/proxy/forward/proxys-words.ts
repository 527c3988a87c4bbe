/**
 * The fields a client may not write because this hop, or a proxy it trusts, speaks in them: of
 * the client (its address, its certificate, how it came), or of what the hop vouches for in
 * another spelling. request-headers.ts drops them from what a client sends upstream.
 */
import { cgiSpelling } from '../../core/http1/cgi-spelling.ts';
import { isHopByHop } from '../../core/http1/hop-by-hop.ts';
import { CERTIFICATE_NAMES_AND_PREFIXES, isClientCertificateField } from './client-cert-fields.ts';

/**
 * The fields besides X-Forwarded-* in which a proxy in front speaks of the client. Its address:
 * nginx's realip module and many apps read X-Real-IP; CDNs write True-Client-IP (Akamai,
 * Cloudflare Enterprise), CF-Connecting-IP and Fastly-Client-IP, load balancers X-Client-IP and
 * X-Cluster-Client-IP, and apps behind them take each as the client. The host and scheme it
 * asked for, in other proxies' spellings: X-Original-Host (Azure Application Gateway, IIS ARR),
 * X-Host, X-HTTP-Host-Override, X-Url-Scheme, Front-End-Https (Microsoft's `on`), which
 * frameworks and their middleware take for Host and the scheme when building links and redirects
 * (a client's would poison a cache keyed by the Host it did send). (Its TLS client
 * certificate's fields: client-cert-fields.ts.) One set, one lookup a field.
 */
const PROXYS_FIELDS: ReadonlySet<string> = new Set([
  'x-real-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-original-host',
  'x-host',
  'x-http-host-override',
  'x-url-scheme',
  'front-end-https',
]);

/**
 * A field only a proxy may write about the client: the rest of the X-Forwarded-* family (-Port,
 * -Ssl, -Prefix, -Scheme, -Server, -Uri…) and the client-address and client-certificate fields
 * above. Frameworks take them as the word of the proxy in front (Rack's X-Forwarded-Ssl makes a
 * request https, X-Forwarded-Prefix and -Port build its URLs, X-Real-IP or True-Client-IP is the
 * client, X-SSL-Client-Cert its certificate: client-cert-fields.ts), so
 * from a client not in `trust_forwarded_from` they are dropped, as X-Forwarded-For is replaced.
 */
export function isProxysWord(lower: string): boolean {
  return (
    PROXYS_STARTS.has(startKey(lower)) &&
    (lower.startsWith('x-forwarded-') || PROXYS_FIELDS.has(lower) || isClientCertificateField(lower))
  );
}

/**
 * Whether a name as it came (any case) may be one isProxysWord finds, told by its first two
 * characters alone: most are not, and need no lower-cased copy to be judged (request-headers.ts).
 */
export function mayBeProxysWord(name: string): boolean {
  return PROXYS_STARTS.has(startKey(name));
}

/**
 * A name's first two characters as one number, ASCII letters in either case alike (a shorter
 * name's is none of those looked for). Those are lower-case letters, digits and `-`, which this
 * leaves as they are; another character may fold onto one of them: a name then only may be one.
 */
function startKey(name: string): number {
  return (name.charCodeAt(0) | 0x20) * 0x10000 + (name.charCodeAt(1) | 0x20);
}

/**
 * How the names isProxysWord looks for begin (startKey): most names begin as none of them, told
 * so by one lookup of a number, where the lookups by name hashed each field's name and tried
 * each prefix (0.25 µs for a browser's ten fields, issue 61).
 */
const PROXYS_STARTS: ReadonlySet<number> = new Set(
  [...PROXYS_FIELDS, 'x-forwarded-', ...CERTIFICATE_NAMES_AND_PREFIXES].map(startKey),
);

/**
 * A field spelled with `_` where this hop writes, or vouches for, the `-` spelling
 * (`X_Forwarded_For`, `X_Real_IP`, `X_Request_Id`), from any client: to a CGI-style server it
 * is the same field (cgi-spelling.ts), and the client's stood beside this hop's, one of them
 * winning or both joined (gunicorn before 22 joined them). So with the fields that frame the
 * request or describe this connection (`Transfer_Encoding`, `Content_Length`, `Keep_Alive`,
 * `Proxy_Connection`), and the path-override fields dropped in any spelling (`X_Original_URL`):
 * this hop frames the body it sends, and a WSGI app reads
 * HTTP_TRANSFER_ENCODING as a framing hint (Werkzeug takes `chunked` there for a body of unknown
 * length and sets aside the Content-Length it came with). nginx drops every such field.
 */
export function isCandorWordSpelledOtherwise(lower: string): boolean {
  const dashed = cgiSpelling(lower);
  return (
    dashed === 'x-request-id' ||
    dashed === 'x-original-url' ||
    dashed === 'x-rewrite-url' ||
    dashed.startsWith('x-forwarded-') ||
    isProxysWord(dashed) ||
    isHopByHop(dashed) ||
    dashed === 'content-length'
  );
}
