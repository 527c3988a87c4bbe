/**
 * A system's check before it is measured: it must answer /small with the origin's 100 bytes,
 * accept a POST body, and (a proxy) answer /fail with a 5xx, not hang.
 */
import { request } from 'node:http';
import { SMALL_BODY } from './origin.ts';

interface Answer {
  readonly status: number;
  readonly body: string;
}

function fetchOnce(port: number, method: string, path: string, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Throws with a reason when the system does not behave like a proxy in front of the origin. */
export async function probe(port: number, isProxy: boolean): Promise<void> {
  const small = await fetchOnce(port, 'GET', '/small');
  if (small.status !== 200 || small.body !== SMALL_BODY) {
    throw new Error(`GET /small answered ${small.status} with ${small.body.length} bytes, not 200 with 100`);
  }
  const upload = await fetchOnce(port, 'POST', '/upload', Buffer.alloc(64 * 1024, 'p'));
  if (upload.status !== 200) throw new Error(`POST /upload answered ${upload.status}, not 200`);
  if (isProxy) {
    const fail = await fetchOnce(port, 'GET', '/fail');
    if (fail.status < 500) throw new Error(`GET /fail (refused upstream) answered ${fail.status}, not a 5xx`);
  }
}
