import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

export interface ClientResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: Buffer;
  readonly text: string;
  readonly trailers: NodeJS.Dict<string>;
  /** The response ended without its framing saying it was whole (the transfer was aborted). */
  readonly aborted: boolean;
}

export interface ClientRequest {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: string | Buffer;
  /** Reject if nothing is over after this long (default 10 s). */
  readonly timeoutMs?: number;
}

/**
 * A plain node:http client (never undici: the gateway uses undici, the tests must not share
 * its quirks). A fresh connection per request unless an agent is given.
 */
export function request(baseUrl: string, options: ClientRequest = {}): Promise<ClientResponse> {
  const url = new URL(options.path ?? '/', baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: false,
    });
    const timer = setTimeout(() => {
      req.destroy(
        new Error(
          `request ${options.method ?? 'GET'} ${url} not over after ${options.timeoutMs ?? 10_000} ms`,
        ),
      );
    }, options.timeoutMs ?? 10_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => {
        aborted = true;
      });
      res.on('error', () => {
        aborted = true;
      });
      res.on('close', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body,
          text: body.toString(),
          trailers: res.trailers,
          aborted: aborted || !res.complete,
        });
      });
    });
    req.end(options.body);
  });
}

export interface RawExchange {
  /** Everything the server sent until it closed (or the wait ended). */
  readonly raw: string;
  readonly status: number;
  /** Whether the server closed the connection. */
  readonly closed: boolean;
}

/** Sends raw bytes (for input node:http would refuse to produce) and collects the answer. */
export function rawRequest(port: number, bytes: string | Buffer, waitMs = 2000): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      resolve({ raw, status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? 0), closed });
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      closed = true;
      done();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') {
        closed = true;
        done();
      } else reject(err);
    });
    socket.write(bytes);
  });
}

/**
 * Requests that reach the server together: on connections it has accepted first (each answered
 * a `HEAD /`, which must keep it open: node:net accepts one connection a turn of the event loop,
 * and a busy turn is a long one), each written at once, so that one read of the sockets takes
 * them all. Each resolves to what the server sent for it until it closed (send `Connection: close`).
 */
export async function rawTogether(port: number, requests: readonly string[]): Promise<string[]> {
  const sockets = await Promise.all(
    requests.map(
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1');
          socket.on('error', reject);
          socket.write('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n');
          let head = '';
          const read = (chunk: Buffer) => {
            head += chunk.toString('latin1');
            if (!head.includes('\r\n\r\n')) return;
            socket.off('data', read);
            resolve(socket);
          };
          socket.on('data', read);
        }),
    ),
  );
  return Promise.all(
    sockets.map((socket, i) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.write(requests[i]);
      return new Promise<string>((resolve) =>
        socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1'))),
      );
    }),
  );
}

/**
 * Sends raw bytes on one connection and collects what comes back until `complete(text)` says
 * the answer is whole, the server closes, or `waitMs` passes (then whatever arrived).
 */
export function rawUntil(
  port: number,
  bytes: string | Buffer,
  complete: (text: string) => boolean,
  waitMs = 2000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (complete(text)) done();
    });
    socket.on('close', done);
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? done() : reject(err)));
    socket.write(bytes);
  });
}

/** A GET of `path` over HTTP/2 (h2c, prior knowledge) on a session of its own, read whole: what `request` gives, for the same checks. */
export function h2Get(
  url: string,
  path: string,
  fields: http.OutgoingHttpHeaders,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on('error', reject);
    const stream = session.request({ ':path': path, ...fields });
    let head: http2.IncomingHttpHeaders = {};
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => {
      head = h;
    });
    stream.on('data', (c: string) => {
      text += c;
    });
    stream.on('error', reject);
    stream.on('end', () => {
      session.close();
      resolve({ status: Number(head[':status']), headers: head as http.IncomingHttpHeaders, text });
    });
  });
}

/**
 * The status of a GET of `path` over HTTP/2, on a session of its own (`options`: TLS trust), its
 * body read to the end; `fields` ([name, value, …]) go as separate lines, a repeated name too.
 */
export function h2Status(
  url: string,
  path: string,
  options: http2.SecureClientSessionOptions = {},
  fields: readonly string[] = [],
): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, options);
    session.on('error', reject);
    const { protocol, host } = new URL(url);
    const lines = [':method', 'GET', ':path', path, ':scheme', protocol.slice(0, -1), ':authority', host];
    const stream = session.request(
      fields.length === 0
        ? { ':path': path }
        : ([...lines, ...fields] as unknown as http2.OutgoingHttpHeaders),
    );
    stream.on('response', (head) => {
      stream.resume();
      stream.on('end', () => {
        session.close();
        resolve(Number(head[':status']));
      });
    });
    stream.on('error', reject);
  });
}

/** How an upload's body follows its head: `first` at once, then a `drip`. */
export interface Upload {
  /** Sent right after the head. */
  readonly first?: string | Buffer;
  /** Then `piece` every `everyMs` ms while the connection is open: `pieces` of them, or until stopped. */
  readonly drip?: { readonly piece: string | Buffer; readonly everyMs: number; readonly pieces?: number };
}

/** Writes the drip's pieces while `open()` holds; returns what stops it. */
function startDrip(
  drip: Upload['drip'],
  write: (piece: string | Buffer) => void,
  open: () => boolean,
): () => void {
  if (drip === undefined) return () => {};
  let left = drip.pieces ?? Number.POSITIVE_INFINITY;
  const timer = setInterval(() => {
    if (!open()) return;
    write(drip.piece);
    if (--left <= 0) clearInterval(timer);
  }, drip.everyMs);
  return () => clearInterval(timer);
}

export interface RawUpload {
  /** What the server has sent so far (latin1). */
  received(): string;
  /** Everything the server sent, once the connection has closed (no bound: the caller's). */
  readonly closed: Promise<string>;
  /** Stops the drip and closes the connection. */
  stop(): void;
}

/**
 * A raw HTTP/1.1 client for slow uploads (a pace node:http would not keep): sends `head`, its blank
 * line included, then the body as `upload` says, and reads the answer. The server may close on it
 * mid-body: what it answered is the test's to judge, so socket errors are not.
 */
export function rawUpload(port: number, head: string, upload: Upload = {}): RawUpload {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (c: Buffer) => {
    received += c.toString('latin1');
  });
  socket.on('error', () => {});
  const stopDrip = startDrip(
    upload.drip,
    (piece) => socket.write(piece),
    () => !socket.destroyed,
  );
  const closed = new Promise<string>((resolve) => {
    socket.on('close', () => {
      stopDrip();
      resolve(received);
    });
  });
  socket.write(head);
  if (upload.first !== undefined) socket.write(upload.first);
  return {
    received: () => received,
    closed,
    stop() {
      stopDrip();
      socket.destroy();
    },
  };
}

export interface H2Upload {
  /** The response head, once it has come. */
  head(): http2.IncomingHttpHeaders | undefined;
  /** Resolves with the response head (no bound: the caller's). */
  readonly response: Promise<http2.IncomingHttpHeaders>;
  /** Stops the drip and destroys the session. */
  stop(): void;
}

/** rawUpload over HTTP/2: one stream with `headers` on a session of its own, its body as `upload` says. */
export function h2Upload(url: string, headers: http2.OutgoingHttpHeaders, upload: Upload = {}): H2Upload {
  const session = http2.connect(url);
  session.on('error', () => {});
  const stream = session.request(headers);
  stream.on('error', () => {});
  let head: http2.IncomingHttpHeaders | undefined;
  const response = new Promise<http2.IncomingHttpHeaders>((resolve) => {
    stream.on('response', (h) => {
      head = h;
      resolve(h);
    });
  });
  if (upload.first !== undefined) stream.write(upload.first);
  const stopDrip = startDrip(
    upload.drip,
    (piece) => stream.write(piece),
    () => !stream.destroyed && stream.writable,
  );
  stream.on('close', stopDrip);
  return {
    head: () => head,
    response,
    stop() {
      stopDrip();
      session.destroy();
    },
  };
}
