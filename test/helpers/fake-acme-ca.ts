import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { testCertificates } from '../../src/kits/fault-kit/tls-certs.ts';

/** What one step of the fake CA answers instead of its good answer: a status and a body. */
export interface FakeAnswer {
  readonly status: number;
  readonly body: string;
}

export interface FakeAcmeCaOptions {
  /** The directory's answer (else 200 with the directory; `{base}` in it is the CA's URL), with this Retry-After when given. */
  readonly directory?: FakeAnswer & { readonly retryAfter?: string };
  /** A new order naming a certificate it replaces (RFC 9773 §5) is refused `alreadyReplaced`. */
  readonly refuseReplaces?: boolean;
  /** newNonce's answer, a status and Retry-After with no nonce (else 200 with one). */
  readonly nonce?: { readonly status: number; readonly retryAfter: string };
  /** The new order's answer (else 201 with an order already authorized). */
  readonly newOrder?: FakeAnswer;
  /** The certificate download's answer (else 200 with `certificate`). */
  readonly certificate?: FakeAnswer;
  /** The chain the download answers, made from the finalize's CSR (PEM): a CA that signs the request's key. */
  readonly issue?: (csrPem: string) => string;
  /** The finalize leaves the order `processing` for good, each answer with this Retry-After. */
  readonly processing?: { readonly retryAfter: () => string };
}

export interface FakeAcmeCa {
  /** Its directory URL, served under the fault kit's `localhost` certificate (`acme.ca`: testCertificates().caPath). */
  readonly directory: string;
  /** How many certificates were downloaded. */
  downloads(): number;
  /** How many times the order was read (polled) after its finalize. */
  orderReads(): number;
  /** Each new order's `replaces` as sent (undefined: none), in order. */
  replaces(): (string | undefined)[];
  close(): Promise<void>;
}

/**
 * An ACME server on a real HTTPS port that never validates: accounts are made, each order comes
 * with one authorization already valid, a finalize makes it valid at once, and the certificate
 * download answers what the test says. For what a gateway does with a CA's answers that pebble,
 * a well-behaved CA, never gives (a chain that is not a certificate, an order that is not JSON).
 */
export async function startFakeAcmeCa(options: FakeAcmeCaOptions): Promise<FakeAcmeCa> {
  const certs = testCertificates();
  let downloads = 0;
  let orderReads = 0;
  let csrPem = '';
  const replaces: (string | undefined)[] = [];
  // Read once it listens: a request on a connection still open as close() runs finds no address.
  let port = 0;
  const server = https.createServer({ cert: certs.localhost.cert, key: certs.localhost.key }, (req, res) => {
    const base = `https://localhost:${port}`;
    const json = (status: number, doc: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(doc));
    };
    const order = (status: string) => ({
      status,
      authorizations: [`${base}/authz/1`],
      finalize: `${base}/finalize/1`,
      ...(status === 'valid' ? { certificate: `${base}/cert/1` } : {}),
    });
    if (req.url !== '/nonce' || options.nonce === undefined)
      res.setHeader('replay-nonce', `n${Math.random().toString(36).slice(2)}`);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const payload = signedPayload(Buffer.concat(chunks).toString());
      if (req.url === '/dir' && options.directory !== undefined) {
        const { status, body, retryAfter } = options.directory;
        res.writeHead(status, {
          'content-type': 'application/problem+json',
          ...(retryAfter === undefined ? {} : { 'retry-after': retryAfter }),
        });
        res.end(body.replaceAll('{base}', base));
      } else if (req.url === '/dir')
        json(200, { newNonce: `${base}/nonce`, newAccount: `${base}/acct`, newOrder: `${base}/order` });
      else if (req.url === '/nonce' && options.nonce !== undefined)
        res.writeHead(options.nonce.status, { 'retry-after': options.nonce.retryAfter }).end();
      else if (req.url === '/nonce') res.end();
      else if (req.url === '/acct') json(201, { status: 'valid' }, { location: `${base}/acct/1` });
      else if (req.url === '/order') {
        replaces.push(payload?.replaces);
        if (options.refuseReplaces && payload?.replaces !== undefined)
          json(409, {
            type: 'urn:ietf:params:acme:error:alreadyReplaced',
            detail: `${payload.replaces} was already replaced`,
          });
        else if (options.newOrder === undefined) json(201, order('ready'), { location: `${base}/order/1` });
        else
          res.writeHead(options.newOrder.status, { location: `${base}/order/1` }).end(options.newOrder.body);
      } else if (req.url === '/authz/1')
        json(200, { status: 'valid', identifier: { type: 'dns', value: 'any' }, challenges: [] });
      else if (req.url === '/finalize/1' || req.url === '/order/1') {
        if (req.url === '/order/1') orderReads++;
        if (req.url === '/finalize/1' && typeof payload?.csr === 'string')
          csrPem = `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(payload.csr, 'base64url')
            .toString('base64')
            .match(/.{1,64}/g)
            ?.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
        if (options.processing === undefined) json(200, order('valid'));
        else json(200, order('processing'), { 'retry-after': options.processing.retryAfter() });
      } else if (req.url === '/cert/1') {
        downloads++;
        const answer = options.certificate ?? {
          status: 200,
          body: options.issue === undefined ? certs.localhost.cert : options.issue(csrPem),
        };
        res.writeHead(answer.status, { 'content-type': 'application/pem-certificate-chain' });
        res.end(answer.body);
      } else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    directory: `https://localhost:${port}/dir`,
    downloads: () => downloads,
    orderReads: () => orderReads,
    replaces: () => [...replaces],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A signed request's payload (a flattened JWS), unverified: the fake CA trusts its one client. */
function signedPayload(body: string): { replaces?: string; csr?: string } | undefined {
  try {
    const payload = JSON.parse(body).payload;
    return payload ? JSON.parse(Buffer.from(payload, 'base64url').toString()) : undefined;
  } catch {
    return undefined;
  }
}
