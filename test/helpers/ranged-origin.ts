/**
 * An origin as a file server is, for the tests of a Range that finds nothing stored
 * (test/proxy/cache/range-miss*.test.ts): what reached it (Seen), and how its big answers went out (Sent).
 */
import type http from 'node:http';
import { type LoopbackServer, listenOnLoopback } from './loopback-server.ts';

export const BODY = Buffer.from('0123456789abcdefghij'.repeat(100));
export const SIZE = BODY.length;
export const MODIFIED = 'Tue, 03 Nov 2026 10:00:00 GMT';
/** A body past the routes' max_entry, larger than the sockets' buffers: its transfer can be seen cut. */
export const BIG = 32 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x78);

export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
}

/** How a big answer went out: the bytes written, and whether all of them went. */
export interface Sent {
  written: number;
  whole: boolean;
  closed: boolean;
}

/**
 * An origin as a file server is (ETag, Last-Modified, one byte range honoured, If-Range permitting),
 * with paths that misbehave: `no-store`, `private`, `big` (32 MiB, `chunked` without Content-Length),
 * `reset` (the connection dies before the head), `hang` (no head), `down` (its own 503).
 */
export function rangedOrigin(seen: Seen[], sent: Sent[] = []): Promise<LoopbackServer> {
  return listenOnLoopback((req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '';
    const range = req.headers.range;
    const ifRange = req.headers['if-range'] as string | undefined;
    seen.push({ method: req.method ?? '', path: url, range, ifRange });
    if (url.includes('reset')) return void req.socket.destroy();
    if (url.includes('hang')) return;
    if (url.includes('down')) {
      res.writeHead(503, { 'content-length': '4', 'retry-after': '5' });
      return void res.end('down');
    }
    const control = url.includes('no-store')
      ? 'no-store'
      : url.includes('private')
        ? 'private'
        : 'max-age=600';
    const fields = {
      'content-type': url.includes('video') ? 'video/mp4' : 'text/plain',
      'cache-control': control,
      etag: '"v1"',
      'last-modified': MODIFIED,
      'accept-ranges': 'bytes',
    };
    if (url.includes('big')) return bigAnswer(res, range, fields, sent, !url.includes('chunked'));
    const one = /^bytes=(\d+)-(\d*)$/.exec(range ?? '');
    if (one !== null && (ifRange === undefined || ifRange === '"v1"')) {
      const start = Number(one[1]);
      const end = one[2] === '' ? SIZE - 1 : Math.min(Number(one[2]), SIZE - 1);
      res.writeHead(206, { ...fields, 'content-range': `bytes ${start}-${end}/${SIZE}` });
      return void res.end(BODY.subarray(start, end + 1));
    }
    res.writeHead(200, { ...fields, 'content-length': SIZE });
    res.end(BODY);
  });
}

/** 32 MiB of `x`, written as the socket takes it (a Range's part at once): what went is counted. */
function bigAnswer(
  res: http.ServerResponse,
  range: string | undefined,
  fields: Record<string, string>,
  sent: Sent[],
  withLength: boolean,
): void {
  const one = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
  if (one !== null) {
    const [start, end] = [Number(one[1]), Number(one[2])];
    res.writeHead(206, { ...fields, 'content-range': `bytes ${start}-${end}/${BIG}` });
    return void res.end(Buffer.alloc(end - start + 1, 0x78));
  }
  const s: Sent = { written: 0, whole: false, closed: false };
  sent.push(s);
  res.writeHead(200, withLength ? { ...fields, 'content-length': String(BIG) } : fields);
  res.on('finish', () => {
    s.whole = true;
  });
  res.on('close', () => {
    s.closed = true;
  });
  const pump = (): void => {
    while (!res.destroyed && s.written < BIG) {
      s.written += CHUNK.length;
      const more = res.write(CHUNK);
      if (s.written >= BIG) return void res.end();
      if (!more) return void res.once('drain', pump);
    }
  };
  pump();
}

export const MISS = /^edge-1; fwd=uri-miss; ttl=\d+; collapsed$/;
export const HIT = /^edge-1; hit; ttl=\d+$/;
export const WHOLE = (path: string): Seen => ({ method: 'GET', path, range: undefined, ifRange: undefined });
