/**
 * Chunk extensions (RFC 9112 §7.1.1), the one place the request and the response parser used
 * to read the chunked coding differently: the request parser held extensions to the grammar,
 * the response parser took any text without controls (`1;`, `1;a b`, `1;a="x` passed). Both now
 * read chunked bodies with one decoder (chunked-decoder.ts), so each case below must get the
 * same verdict from both, whole and one byte at a time. llhttp's verdict, through real sockets
 * (a node:http server for the request, a node:http client for the response), is pinned beside
 * it: where it differs, the case says why Candor decides otherwise.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { AnswerParser } from '../../../src/core/http1/answer-parser.ts';
import { RequestParser } from '../../../src/core/http1/request-parser.ts';
import { closeAll } from '../../helpers/keep.ts';

type Verdict = 'ok' | 'refused';

interface Case {
  /** What follows the chunk size `1` on its line. */
  readonly ext: string;
  readonly name: string;
  /** Candor's, for the request and the response alike. */
  readonly candor: Verdict;
  readonly llhttp: Verdict;
  /** Why Candor differs from llhttp, where it does. */
  readonly why?: string;
}

const BWS =
  'RFC 9112 §7.1.1 puts BWS around ";" and "=", and a recipient removes it (RFC 9110 §5.6.3); Candor re-frames the body, so no hop after it sees it';

const CASES: readonly Case[] = [
  { ext: ';ext=val', name: 'a token value', candor: 'ok', llhttp: 'ok' },
  { ext: ';ext="quoted"', name: 'a quoted value', candor: 'ok', llhttp: 'ok' },
  { ext: ';a="b\\"c"', name: 'a quoted-pair', candor: 'ok', llhttp: 'ok' },
  { ext: ';a', name: 'a name without a value', candor: 'ok', llhttp: 'ok' },
  { ext: ';a;b=c', name: 'two extensions', candor: 'ok', llhttp: 'ok' },
  { ext: ';a="\x80\xff"', name: 'obs-text in a quoted value', candor: 'ok', llhttp: 'ok' },
  { ext: ';', name: 'a bare ";"', candor: 'refused', llhttp: 'refused' },
  { ext: ';a=b;', name: 'a trailing ";"', candor: 'refused', llhttp: 'refused' },
  { ext: ' ;a=b', name: 'SP before ";" (BWS)', candor: 'ok', llhttp: 'refused', why: BWS },
  { ext: '\t;a=b', name: 'HTAB before ";" (BWS)', candor: 'ok', llhttp: 'refused', why: BWS },
  { ext: '; a=b', name: 'SP after ";" (BWS)', candor: 'ok', llhttp: 'refused', why: BWS },
  { ext: ';a = b', name: 'SP around "=" (BWS)', candor: 'ok', llhttp: 'refused', why: BWS },
  { ext: ';a=b ', name: 'SP at the end of the line', candor: 'refused', llhttp: 'refused' },
  {
    ext: ';a=',
    name: 'an empty value',
    candor: 'refused',
    llhttp: 'ok',
    why: 'chunk-ext-val is a token (one tchar or more) or a quoted-string: "a=" is neither',
  },
  { ext: ';a=\x80', name: 'obs-text in a token value', candor: 'refused', llhttp: 'refused' },
  { ext: ';\xe9', name: 'obs-text as the name', candor: 'refused', llhttp: 'refused' },
  { ext: ';a@b', name: 'a name that is not a token', candor: 'refused', llhttp: 'refused' },
  { ext: ';a,b', name: 'a comma in the name', candor: 'refused', llhttp: 'refused' },
  { ext: ';a=b@c', name: 'a value that is not a token', candor: 'refused', llhttp: 'refused' },
  { ext: ';a=b c', name: 'SP inside a value', candor: 'refused', llhttp: 'refused' },
  { ext: ';a=b=c', name: 'a second "="', candor: 'refused', llhttp: 'refused' },
  { ext: ';a="x', name: 'an unterminated quoted value', candor: 'refused', llhttp: 'refused' },
  { ext: ';a=\x01', name: 'a control character', candor: 'refused', llhttp: 'refused' },
  { ext: ';a="\x7f"', name: 'DEL in a quoted value', candor: 'refused', llhttp: 'refused' },
  { ext: `;a=${'v'.repeat(4092)}`, name: 'a line of 4096 bytes (the bound)', candor: 'ok', llhttp: 'ok' },
  {
    ext: `;a=${'v'.repeat(4093)}`,
    name: 'a line of 4097 bytes',
    candor: 'refused',
    llhttp: 'ok',
    why: 'every buffer has a bound: a chunk-size line is kept whole until its CRLF, so it is at most 4096 bytes (llhttp streams extensions to callbacks and needs none)',
  },
];

const body = (ext: string) => `1${ext}\r\nx\r\n0\r\n\r\n`;
const bytes = (s: string) => Buffer.from(s, 'latin1');
const bytewise = (b: Buffer) => Array.from(b, (_, i) => b.subarray(i, i + 1));

function candorRequest(ext: string, split: boolean): Verdict {
  let complete = false;
  let content = '';
  const parser = new RequestParser(
    {
      onHead: () => {},
      onBody: (chunk) => {
        content += chunk.toString('latin1');
      },
      onComplete: () => {
        complete = true;
      },
    },
    { headerSize: 16 * 1024, uriLength: 8 * 1024 },
  );
  const message = bytes(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${body(ext)}`);
  for (const piece of split ? bytewise(message) : [message]) {
    if (parser.execute(piece) !== undefined) return 'refused';
  }
  assert.ok(complete && content === 'x', `request with ${JSON.stringify(ext)} read whole`);
  return 'ok';
}

function candorResponse(ext: string, split: boolean): Verdict {
  let complete = false;
  let content = '';
  const parser = new AnswerParser(
    {
      onHead: () => {},
      onBody: (chunk) => {
        content += chunk.toString('latin1');
      },
      onComplete: () => {
        complete = true;
      },
    },
    16 * 1024,
  );
  parser.expect(false);
  const message = bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body(ext)}`);
  for (const piece of split ? bytewise(message) : [message]) {
    if (parser.execute(piece) !== undefined) return 'refused';
  }
  assert.ok(complete && content === 'x', `response with ${JSON.stringify(ext)} read whole`);
  return 'ok';
}

// ── llhttp: a node:http server reads the requests, a node:http client the responses ──────

let requestServer: http.Server;
let responseServer: Server;

before(async () => {
  requestServer = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  requestServer.on('clientError', (_err, socket) => socket.destroy());
  // Answers GET /N with case N's chunked body.
  responseServer = createServer((socket) => {
    socket.once('data', (head: Buffer) => {
      const index = Number(/^GET \/(\d+) /.exec(head.toString('latin1'))?.[1]);
      socket.end(bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body(CASES[index].ext)}`));
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => requestServer.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => responseServer.listen(0, '127.0.0.1', resolve));
});

after(() => closeAll(requestServer, responseServer));

function llhttpRequest(ext: string): Promise<Verdict> {
  const { port } = requestServer.address() as AddressInfo;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end(
        bytes(
          `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body(ext)}`,
        ),
      );
    });
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer.startsWith('HTTP/1.1 200') ? 'ok' : 'refused'));
  });
}

function llhttpResponse(index: number): Promise<Verdict> {
  const { port } = responseServer.address() as AddressInfo;
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/${index}`, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve('ok'));
      res.on('error', () => resolve('refused'));
    });
    req.on('error', () => resolve('refused'));
  });
}

for (const [index, c] of CASES.entries()) {
  test(`chunk extension, ${c.name}: Candor ${c.candor === 'ok' ? 'accepts' : 'refuses'} it in a request and a response alike`, async () => {
    const candor = {
      request: candorRequest(c.ext, false),
      requestBytewise: candorRequest(c.ext, true),
      response: candorResponse(c.ext, false),
      responseBytewise: candorResponse(c.ext, true),
    };
    assert.deepEqual(candor, {
      request: c.candor,
      requestBytewise: c.candor,
      response: c.candor,
      responseBytewise: c.candor,
    });
    const llhttp = { request: await llhttpRequest(c.ext), response: await llhttpResponse(index) };
    assert.deepEqual(llhttp, { request: c.llhttp, response: c.llhttp }, 'llhttp as pinned');
    assert.equal(
      c.why !== undefined,
      c.llhttp !== c.candor,
      'a difference from llhttp says why, and only a difference',
    );
  });
}
