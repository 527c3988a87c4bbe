/**
 * etcd v3's JSON gateway (grpc-gateway over HTTP/1.1): one POST per call, a streaming POST for a
 * watch. Every endpoint of the cluster is tried in turn, the one that last answered first; a
 * user's token (auth/authenticate) is taken once and again when etcd says it expired. No client
 * library: node:http and node:https say all the gateway needs, and the gateway's JSON is stable
 * across etcd 3.4 and 3.5.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

/** How to reach the cluster (the bootstrap file's `source.etcd`). */
export interface EtcdOptions {
  /** `http://host:port` or `https://host:port`, one per member. */
  readonly endpoints: readonly string[];
  /** PEM text (already read from their files): the CA that signed etcd's certificates, and this client's own pair. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  readonly username?: string;
  readonly password?: string;
  /** A single call's bound (a watch's connection too, until its first answer). */
  readonly timeoutMs?: number;
}

/**
 * Why a call failed: `unreachable` (no member answered: refused, reset, timed out), `compacted`
 * (the revision asked for is gone), `refused` (etcd answered with an error: permission, bad request).
 */
export class EtcdError extends Error {
  readonly kind: 'unreachable' | 'compacted' | 'refused';
  constructor(kind: EtcdError['kind'], message: string) {
    super(message);
    this.name = 'EtcdError';
    this.kind = kind;
  }
}

/**
 * etcd refused a write past its --max-request-bytes (1.5 MiB unless its members set more): its
 * server's words below its gRPC bound (that bound plus 512 KiB), its gRPC server's above it.
 * Refused before it is proposed: nothing of it was written.
 */
export function etcdTooLarge(err: unknown): err is EtcdError {
  return (
    err instanceof EtcdError &&
    err.kind === 'refused' &&
    /request is too large|received message larger than max/.test(err.message)
  );
}

const CALL_TIMEOUT_MS = 5_000;
/** An answer of the JSON gateway is a few KiB (a config document, a member list): far above any. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** etcd's gRPC code for an expired or unknown auth token (Unauthenticated). */
export const UNAUTHENTICATED = 16;

export class EtcdTransport {
  readonly #options: EtcdOptions;
  #current = 0;
  #token: string | undefined;

  constructor(options: EtcdOptions) {
    if (options.endpoints.length === 0) throw new Error('etcd: no endpoint');
    this.#options = options;
  }

  /**
   * One call: the parsed answer; an etcd error thrown as EtcdError. `write`: a call that changes
   * the store (a put, a transaction, a lease), which once sent to a member is never sent to
   * another: the first may have applied it with its answer lost, and a compare-and-swap sent
   * again would then find its own write and call it another's.
   */
  async call(path: string, body: unknown, write = false): Promise<Record<string, unknown>> {
    for (let attempt = 0; ; attempt++) {
      const answer = await this.#anyEndpoint((endpoint) => this.#post(endpoint, path, body), write);
      const error = errorOf(answer);
      if (error === undefined) return answer;
      // A token expires (simple tokens after 5 min of disuse): take a new one, once.
      if (error.code === UNAUTHENTICATED && this.#options.username !== undefined && attempt === 0) {
        this.#token = undefined;
        continue;
      }
      throw new EtcdError(
        /compacted/.test(error.message) ? 'compacted' : 'refused',
        `etcd: ${error.message}`,
      );
    }
  }

  /**
   * etcd said the token a stream was opened with is expired or unknown (a watch canceled as
   * Unauthenticated): the next call takes a new one. Whether there is a user to take it for.
   */
  tokenRefused(): boolean {
    this.#token = undefined;
    return this.#options.username !== undefined;
  }

  /**
   * A streaming call (watch): `onMessage` gets each JSON object the stream carries; resolves with
   * a function that ends it once the stream is open, rejects if no member opens it. `onEnd` is
   * told when it ends by itself (etcd stopped, the connection cut), with why.
   */
  async stream(
    path: string,
    body: unknown,
    onMessage: (message: Record<string, unknown>) => void,
    onEnd: (why: string) => void,
  ): Promise<() => void> {
    return this.#anyEndpoint(async (endpoint) => {
      const answer = await this.#open(endpoint, path, body, true);
      let partial = '';
      let ended = false;
      const end = (why: string) => {
        if (ended) return;
        ended = true;
        onEnd(why);
      };
      answer.setEncoding('utf8');
      answer.on('data', (text: string) => {
        partial += text;
        // The gateway writes one JSON object per line.
        for (let at = partial.indexOf('\n'); at >= 0; at = partial.indexOf('\n')) {
          const line = partial.slice(0, at).trim();
          partial = partial.slice(at + 1);
          if (line === '') continue;
          const message = jsonObject(line);
          // Not etcd's word (a proxy's page, a cut or corrupted frame): the stream is lost, and
          // opened again as when the connection drops, never a crash of the gateway.
          if (message === undefined)
            return void answer.destroy(
              new Error(
                `etcd's watch stream sent a line that is not a JSON object: ${JSON.stringify(line.slice(0, 60))}`,
              ),
            );
          onMessage(message);
        }
        if (partial.length > MAX_ANSWER_BYTES) answer.destroy(new Error('a watch message past 16 MiB'));
      });
      answer.once('end', () => end('etcd ended the stream'));
      answer.once('error', (err) => end(err.message));
      answer.once('close', () => end('the connection to etcd closed'));
      return () => {
        ended = true;
        answer.destroy();
      };
    });
  }

  /** Tries each endpoint, the last good one first, until one answers. */
  async #anyEndpoint<T>(call: (endpoint: string) => Promise<T>, write = false): Promise<T> {
    const { endpoints } = this.#options;
    const failures: string[] = [];
    let tlsOnly = true;
    for (let i = 0; i < endpoints.length; i++) {
      const index = (this.#current + i) % endpoints.length;
      try {
        const result = await call(endpoints[index]);
        this.#current = index;
        return result;
      } catch (err) {
        if (err instanceof EtcdError && err.kind !== 'unreachable') throw err;
        tlsOnly &&= isTlsFailure(err);
        failures.push(`${endpoints[index]}: ${(err as Error).message.trim()}`);
        if (write && (err as { sent?: boolean }).sent === true)
          throw new EtcdError(
            'unreachable',
            `etcd did not answer a write it was sent, which may or may not have been applied (${failures.join('; ')})`,
          );
      }
    }
    // Every member answered, and the handshake failed (a certificate missing, or one not
    // trusted): a setting to fix, not etcd being away.
    if (tlsOnly)
      throw new EtcdError(
        'refused',
        `etcd refused the TLS handshake, or its certificate is not trusted (${failures.join('; ')})`,
      );
    throw new EtcdError('unreachable', `etcd unreachable (${failures.join('; ')})`);
  }

  async #post(endpoint: string, path: string, body: unknown): Promise<Record<string, unknown>> {
    const answer = await this.#open(endpoint, path, body);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of answer as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) throw new Error('an answer past 16 MiB');
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`status ${answer.statusCode}, not JSON: ${text.slice(0, 200)}`);
    }
  }

  /** Sends the request; resolves with the response once its head is in (bounded by the call's timeout). */
  async #open(endpoint: string, path: string, body: unknown, stream = false): Promise<IncomingMessage> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    // A stream (a watch) on a member that lost its leader would stay open and silent while the
    // rest of the cluster moves on; with gRPC's `hasleader` (etcd's WithRequireLeader, carried by
    // the gateway as Grpc-Metadata-*), etcd ends it instead, and the watch is opened elsewhere.
    if (stream) headers['grpc-metadata-hasleader'] = 'true';
    if (this.#options.username !== undefined && path !== '/v3/auth/authenticate') {
      this.#token ??= await this.#authenticate(endpoint);
      headers.authorization = this.#token;
    }
    const url = new URL(path, endpoint);
    const tls = this.#options.tls;
    const client = url.protocol === 'https:' ? https : http;
    const payload = JSON.stringify(body);
    headers['content-length'] = String(Buffer.byteLength(payload));
    return new Promise((resolve, reject) => {
      const request = client.request(url, {
        method: 'POST',
        headers,
        agent: false,
        ...(url.protocol === 'https:' ? { ca: tls?.ca, cert: tls?.cert, key: tls?.key } : {}),
      });
      const timer = setTimeout(
        () => request.destroy(new Error(`no answer in ${this.#options.timeoutMs ?? CALL_TIMEOUT_MS} ms`)),
        this.#options.timeoutMs ?? CALL_TIMEOUT_MS,
      );
      // Whether the request reached a member: a connection refused sent nothing; one cut or
      // timed out after the connection was made may have been acted on.
      let connected = false;
      request.once('socket', (socket) => {
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
          connected = true;
        });
      });
      request.once('error', (err) => {
        clearTimeout(timer);
        reject(Object.assign(err, { sent: connected }));
      });
      request.once('response', (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      request.end(payload);
    });
  }

  async #authenticate(endpoint: string): Promise<string> {
    const answer = await this.#post(endpoint, '/v3/auth/authenticate', {
      name: this.#options.username,
      password: this.#options.password ?? '',
    });
    const error = errorOf(answer);
    if (error !== undefined)
      throw new EtcdError('refused', `etcd: user ${this.#options.username}: ${error.message}`);
    return String(answer.token);
  }
}

/** Whether a connection failed in its TLS handshake (Node's and OpenSSL's codes), rather than not connecting. */
function isTlsFailure(err: unknown): boolean {
  const code = String((err as NodeJS.ErrnoException).code ?? '');
  return /^(ERR_SSL_|ERR_TLS_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|CERT_)/.test(code);
}

/** The gateway's error answer (`{"error": …, "code": N}`), for a call or a stream message. */
export function errorOf(answer: Record<string, unknown>): { message: string; code: number } | undefined {
  const inner = (answer.error ?? undefined) as { message?: string; grpc_code?: number } | string | undefined;
  if (inner === undefined) return undefined;
  if (typeof inner === 'string')
    return { message: String(answer.message ?? inner), code: Number(answer.code) };
  return { message: String(inner.message ?? answer.message), code: Number(inner.grpc_code ?? answer.code) };
}

/** `line` read as a JSON object, or undefined when it is none. */
function jsonObject(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
