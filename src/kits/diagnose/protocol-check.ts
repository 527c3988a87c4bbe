/**
 * Which of HTTP/1.1 and HTTP/2 a target speaks, each asked on a connection of its own: over TLS
 * by what ALPN selects (h2 offered alone, then http/1.1 alone); in the clear by what answers
 * the HTTP/2 connection preface (a SETTINGS frame) and an `OPTIONS *` (an HTTP/1.x status line).
 * A target configured for one protocol that speaks only the other fails every request: this is
 * how the report says so.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ProbePlan } from './plan.ts';
import type { ProtocolSupport } from './types.ts';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** An empty SETTINGS frame: a server that speaks HTTP/2 answers with its own SETTINGS first. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
const SETTINGS_TYPE = 0x4;
/** What an HTTP/2 client sends first: the connection preface and its SETTINGS (RFC 9113 §3.4). */
export const PREFACE_AND_SETTINGS = Buffer.concat([PREFACE, EMPTY_SETTINGS]);

/** A SETTINGS frame on stream 0 opens `bytes`: the server speaks HTTP/2. */
export function opensWithSettings(bytes: Buffer): boolean {
  return bytes.length >= 9 && bytes[3] === SETTINGS_TYPE && bytes.readUInt32BE(5) === 0;
}

export async function checkProtocols(
  plan: ProbePlan,
  address: string,
  budgetMs: number,
): Promise<ProtocolSupport> {
  const tlsPlan = plan.protocol === 'https:';
  const [http1, h2] = tlsPlan
    ? await Promise.all([
        alpnSelects(plan, address, 'http/1.1', budgetMs),
        alpnSelects(plan, address, 'h2', budgetMs),
      ])
    : await Promise.all([
        firstBytes(
          address,
          plan.port,
          Buffer.from(`OPTIONS * HTTP/1.1\r\nHost: ${plan.host}\r\nConnection: close\r\n\r\n`, 'latin1'),
          budgetMs,
        ).then((bytes) =>
          bytes === undefined ? null : bytes.subarray(0, 7).toString('latin1') === 'HTTP/1.',
        ),
        firstBytes(address, plan.port, PREFACE_AND_SETTINGS, budgetMs).then((bytes) =>
          bytes === undefined ? null : opensWithSettings(bytes),
        ),
      ]);
  return { http1, h2, summary: describe(http1, h2, plan) };
}

function describe(http1: boolean | null, h2: boolean | null, plan: ProbePlan): string {
  const overTls = plan.protocol === 'https:';
  const h2Name = overTls ? 'HTTP/2 (h2, by ALPN)' : 'HTTP/2 (h2c, prior knowledge)';
  const said = (value: boolean | null) => (value === null ? 'no answer' : value ? 'yes' : 'no');
  const both = `HTTP/1.1 ${said(http1)}, ${h2Name} ${said(h2)}`;
  if (http1 === true && h2 === false) return `${both}: the target speaks only HTTP/1.1`;
  if (http1 === false && h2 === true) return `${both}: the target speaks only HTTP/2`;
  // An upstream set to http1 whose target offers HTTP/2 as well: worth knowing, nothing to fix.
  if (http1 === true && h2 === true && plan.httpVersion === 'http1')
    return `${both}: the target also speaks HTTP/2 (protocol: ${overTls ? 'h2' : 'h2c'} would use it)`;
  return both;
}

/** Resolves with what a TLS handshake offering `protocol` alone found: selected (or no ALPN at all, for http/1.1), refused, or null. */
function alpnSelects(
  plan: ProbePlan,
  address: string,
  protocol: 'h2' | 'http/1.1',
  budgetMs: number,
): Promise<boolean | null> {
  return new Promise((resolve) => {
    const servername = plan.tls.servername;
    const socket = tls.connect({
      host: address,
      port: plan.port,
      servername,
      cert: plan.tls.cert,
      key: plan.tls.key,
      ALPNProtocols: [protocol],
      rejectUnauthorized: false,
    });
    const done = (answer: boolean | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(null), budgetMs);
    socket.once('secureConnect', () => {
      const selected = socket.alpnProtocol;
      // A server without ALPN speaks HTTP/1.1 (HTTP/2 over TLS is always negotiated: RFC 9113 §3.2).
      done(selected === protocol || (selected === false && protocol === 'http/1.1'));
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(/NO_APPLICATION_PROTOCOL/.test(err.code ?? '') ? false : null),
    );
  });
}

/** The first bytes the server sends back to `hello` (an empty Buffer when it closes without a word), or undefined on no answer. */
function firstBytes(
  address: string,
  port: number,
  hello: Buffer,
  budgetMs: number,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const done = (answer: Buffer | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(length > 0 ? Buffer.concat(chunks) : undefined), budgetMs);
    socket.once('connect', () => socket.write(hello));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= 9) done(Buffer.concat(chunks));
    });
    socket.once('end', () => done(Buffer.concat(chunks)));
    socket.once('error', () => done(length > 0 ? Buffer.concat(chunks) : Buffer.alloc(0)));
  });
}
