import https from 'node:https';

/** An ACME server's answer, read whole: a directory, an order, a problem or a certificate chain is small. */
export interface AcmeAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface AcmeHttpOptions {
  /** PEM of the root that the ACME server's own TLS certificate chains to (a private CA); else the system's. */
  readonly ca?: string;
  /** Each request's whole life: connect, send, the whole answer. */
  readonly timeoutMs: number;
  /** Ends a request under way: its gateway stopped ordering (a reload replaced it, or a close). */
  readonly signal?: AbortSignal;
}

/**
 * The ACME server could not be reached, or its answer not read whole (refused, reset, timed out,
 * a TLS certificate that cannot be trusted, too large): the transport's failure, told apart from
 * the CA's problem documents and from this gateway's own failures.
 */
export class AcmeUnreachable extends Error {
  override readonly name = 'AcmeUnreachable';
}

/** An answer larger than this is not an ACME server's (a chain of four certificates is about 8 KiB). */
const MAX_BODY = 1024 * 1024;

/**
 * One HTTPS request to the ACME server, bounded in time and size. The errors are the
 * transport's own (refused, reset, timed out, a certificate the CA's TLS cannot be trusted
 * with): the caller tells them apart from the server's problem documents.
 */
export function acmeRequest(
  method: 'GET' | 'HEAD' | 'POST',
  url: string,
  options: AcmeHttpOptions,
  body?: string,
  headers: Record<string, string> = {},
): Promise<AcmeAnswer> {
  return new Promise((resolve, fail) => {
    const reject = (err: Error) => fail(new AcmeUnreachable(err.message, { cause: err }));
    const request = https.request(
      url,
      {
        method,
        ca: options.ca,
        agent: false,
        signal: options.signal,
        headers: {
          'user-agent': 'candor-acme',
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/jose+json', 'content-length': String(Buffer.byteLength(body)) }),
          ...headers,
        },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        let size = 0;
        answer.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY) request.destroy(new Error(`answer larger than ${MAX_BODY} bytes from ${url}`));
          else chunks.push(chunk);
        });
        answer.on('end', () =>
          resolve({
            status: answer.statusCode ?? 0,
            headers: answer.headers,
            body: Buffer.concat(chunks),
          }),
        );
        answer.on('error', reject);
      },
    );
    // The whole life, not the socket's idle time: a server answering a byte at a time would
    // reset an idle timeout with each one.
    const timer = setTimeout(
      () => request.destroy(new Error(`no answer from ${url} within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    request.on('close', () => clearTimeout(timer));
    request.on('error', reject);
    request.end(body);
  });
}
