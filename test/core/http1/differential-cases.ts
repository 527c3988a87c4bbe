/**
 * Generated HTTP/1.1 responses for the differential test: valid ones of every framing, and
 * near-valid ones that break one rule at a time. Each case lists the rules it bends as tags, so
 * a disagreement between the two parsers can be traced to a documented reason.
 */
import fc from 'fast-check';
import { arbFieldLine, arbPlainValue } from './field-arbitraries.ts';

export interface ResponseCase {
  readonly method: 'GET' | 'HEAD';
  readonly bytes: Buffer;
  /** The irregularities in it (empty for a plainly valid response). */
  readonly tags: readonly string[];
}

interface Field {
  readonly line: string;
  readonly tags: readonly string[];
}

const tagged = (line: string, ...tags: string[]): Field => ({ line, tags });

const NAMES = [
  'Server',
  'X-A',
  'x-b',
  'Content-Type',
  'Set-Cookie',
  'Cache-Control',
  'ETag',
  'Vary',
  'X_Under',
  "x!#$%&'*+-.^_`|~9",
];
const arbField: fc.Arbitrary<Field> = arbFieldLine(NAMES, (_name, value) =>
  /^[\t ]|[\t ]$/.test(value) ? ['value-ows'] : [],
);

const arbStatusLine = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .tuple(
        fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'),
        fc.constantFrom(200, 200, 201, 204, 206, 299, 301, 304, 404, 500, 599),
        fc.constantFrom(' OK', ' Fine Thing', '', ' ', ' \x80\xff', ' a\tb'),
      )
      .map(([version, status, reason]) =>
        tagged(`${version} ${status}${reason}\r\n`, ...(version === 'HTTP/1.0' ? ['http10'] : [])),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<[string, string]>(
        ['HTTP/2.0 200 OK', 'version-not-1'],
        ['HTTP/0.9 200 OK', 'version-not-1'],
        ['http/1.1 200 OK', 'bad-status-line'],
        ['HTTP/1.1  200 OK', 'bad-status-line'],
        ['HTTP/1.1 20 OK', 'bad-status-line'],
        ['HTTP/1.1 2000 OK', 'bad-status-line'],
        ['HTTP/1.1 600 Big', 'status-out-of-range'],
        ['HTTP/1.1 099 Small', 'status-out-of-range'],
        ['HTTP/1.1 200 O\x00K', 'ctl-in-reason'],
        ['HTTP/1.1 200 O\x7fK', 'ctl-in-reason'],
        ['HTTP/1.1 200OK', 'bad-status-line'],
        ['HTTP/1.12 200 OK', 'bad-status-line'],
        ['ICY 200 OK', 'bad-status-line'],
      )
      .map(([line, tag]) => tagged(`${line}\r\n`, tag)),
  },
  {
    weight: 1,
    arbitrary: fc.constant(tagged('HTTP/1.1 200 OK\n', 'bare-lf')),
  },
);

const arbInterim = fc
  .tuple(fc.constantFrom(100, 102, 103, 199), fc.array(arbField, { maxLength: 2 }))
  .map(([status, fields]) => ({
    line: `HTTP/1.1 ${status} Interim\r\n${fields.map((f) => f.line).join('')}\r\n`,
    tags: ['interim', ...fields.flatMap((f) => f.tags)],
  }));

const arbBody = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b));

interface Framing {
  readonly fields: string;
  /** The rest of the message after `fields`: framing fields it computes, the blank line, the body (unless `bodyless`). */
  readonly body: (content: Buffer, bodyless: boolean) => Buffer;
  readonly tags: readonly string[];
}

const arbChunkExt = fc.constantFrom<[string, string[]]>(
  ['', []],
  ['', []],
  ['', []],
  [';a=b', ['chunk-ext']],
  [';name', ['chunk-ext']],
  [';a="q s"', ['chunk-ext']],
  [' ;a=b', ['chunk-ext', 'chunk-ext-bws']],
  ['; a=b', ['chunk-ext', 'chunk-ext-bws']],
  [';a="\x80"', ['chunk-ext']],
  [';a=\x01', ['chunk-ext-ctl']],
  // Not chunk-ext (RFC 9112 §7.1.1): both parsers refuse them, as llhttp does.
  [';', ['chunk-ext-invalid']],
  [';a@b', ['chunk-ext-invalid']],
  [';a=b c', ['chunk-ext-invalid']],
  [';a=\x80', ['chunk-ext-invalid']],
  [';a=', ['chunk-ext-empty-value']],
);

const arbSizeStyle = fc.constantFrom<[(n: number) => string, string[]]>(
  [(n) => n.toString(16), []],
  [(n) => n.toString(16).toUpperCase(), []],
  [(n) => `00${n.toString(16)}`, ['chunk-size-zeros']],
  [(n) => `${n.toString(16)} `, ['chunk-size-trailing-sp']],
  [(n) => `0x${n.toString(16)}`, ['chunk-size-invalid']],
);

const arbTrailers = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Field[]>([]) },
  {
    weight: 2,
    arbitrary: fc.array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc
            .tuple(
              fc.constantFrom(
                'X-Checksum',
                'Server-Timing',
                'Expires',
                'Content-Length',
                'Transfer-Encoding',
              ),
              arbPlainValue,
            )
            .map(([n, v]) =>
              tagged(
                `${n}: ${v}\r\n`,
                'trailers',
                ...(/^(content|transfer)/i.test(n) ? ['trailer-framing-field'] : []),
              ),
            ),
        },
        { weight: 1, arbitrary: arbField.map((f) => ({ line: f.line, tags: ['trailers', ...f.tags] })) },
      ),
      { minLength: 1, maxLength: 3 },
    ),
  },
);

const arbChunked = fc
  .tuple(
    fc.constantFrom<[string, string[]]>(
      ['Transfer-Encoding: chunked\r\n', []],
      ['Transfer-Encoding: chunked\r\n', []],
      ['Transfer-Encoding: Chunked \r\n', []],
      ['transfer-encoding: gzip, chunked\r\n', ['te-coding-chunked']],
      ['Transfer-Encoding: x-gzip, chunked\r\n', ['te-coding-chunked']],
      ['Transfer-Encoding: deflate, chunked\r\n', ['te-coding-chunked']],
      ['Transfer-Encoding: br, chunked\r\n', ['te-undecodable']],
      ['Transfer-Encoding: identity, chunked\r\n', ['te-undecodable']],
      ['Transfer-Encoding: chunked, chunked\r\n', ['te-chunked-twice']],
      ['Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', ['te-chunked-twice']],
      ['Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n', ['te-coding-chunked', 'te-two-fields']],
      ['Transfer-Encoding: , chunked\r\n', ['te-empty-member']],
      ['Transfer-Encoding: chunked, gzip\r\n', ['te-not-chunked']],
      ['Transfer-Encoding: gzip\r\n', ['te-not-chunked']],
      ['Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', ['te-and-cl']],
    ),
    fc.array(fc.tuple(fc.integer({ min: 1, max: 20 }), arbChunkExt), { maxLength: 4 }),
    arbSizeStyle,
    fc.constantFrom<[string, string[]]>(['0', []], ['0', []], ['000', ['chunk-size-zeros']]),
    arbTrailers,
    fc.constantFrom<[string, string[]]>(
      ['\r\n', []],
      ['\r\n', []],
      ['\r\n', []],
      ['\n', ['chunk-bare-lf']],
      ['', ['chunk-missing-crlf']],
    ),
  )
  .map(([[fields, teTags], chunks, [size, sizeTags], last, trailers, [afterData, dataTags]]): Framing => {
    const tags = [...teTags, 'chunked'];
    if (chunks.length > 0) tags.push(...sizeTags, ...dataTags);
    for (const [, [, extTags]] of chunks) tags.push(...extTags);
    tags.push(...last[1], ...trailers.flatMap((t) => t.tags));
    return {
      fields,
      tags,
      body: (content, bodyless) => {
        if (bodyless) return Buffer.from('\r\n');
        const parts: string[] = ['\r\n'];
        let at = 0;
        for (const [n, [ext]] of chunks) {
          const piece = content.subarray(at, at + n);
          at += piece.length;
          if (piece.length === 0) break;
          parts.push(`${size(piece.length)}${ext}\r\n${piece.toString('latin1')}${afterData}`);
        }
        parts.push(`${last[0]}\r\n${trailers.map((t) => t.line).join('')}\r\n`);
        return Buffer.from(parts.join(''), 'latin1');
      },
    };
  });

const arbLength = fc
  .constantFrom<[(n: number) => string, string[]]>(
    [(n) => `Content-Length: ${n}\r\n`, []],
    [(n) => `Content-Length: ${n}\r\n`, []],
    [(n) => `content-length:${n} \r\n`, []],
    [(n) => `Content-Length: 0${n}\r\n`, ['cl-leading-zero']],
    [(n) => `Content-Length: ${n}\r\nContent-Length: ${n}\r\n`, ['cl-duplicate']],
    [(n) => `Content-Length: ${n}, ${n}\r\n`, ['cl-list']],
    [(n) => `Content-Length: ${n}\r\nContent-Length: ${n + 1}\r\n`, ['cl-conflict']],
    [(n) => `Content-Length: ${n}, ${n + 1}\r\n`, ['cl-conflict']],
    [() => 'Content-Length: abc\r\n', ['cl-invalid']],
    [(n) => `Content-Length: +${n}\r\n`, ['cl-invalid']],
    [() => 'Content-Length: \r\n', ['cl-invalid']],
    [(n) => `Content-Length: ${n + 5}\r\n`, ['cl-short-body']],
  )
  .map(
    ([fields, tags]): Framing => ({
      fields: '',
      tags: ['length', ...tags],
      // The field depends on the content's length: rendered with it.
      body: (content, bodyless) =>
        Buffer.concat([
          Buffer.from(fields(content.length), 'latin1'),
          Buffer.from('\r\n'),
          bodyless ? Buffer.alloc(0) : content,
        ]),
    }),
  );

const arbClose = fc.constant<Framing>({
  fields: '',
  tags: ['close-delimited'],
  body: (c, bodyless) => Buffer.concat([Buffer.from('\r\n'), bodyless ? Buffer.alloc(0) : c]),
});

const arbAnyResponse: fc.Arbitrary<ResponseCase> = fc
  .tuple(
    fc.constantFrom<'GET' | 'HEAD'>('GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'HEAD'),
    fc.array(arbInterim, { maxLength: 2 }),
    arbStatusLine,
    fc.array(arbField, { maxLength: 6 }),
    fc.oneof(arbLength, arbChunked, arbClose),
    arbBody,
    fc.boolean(),
  )
  .map(([method, interims, statusLine, fields, framing, content, framingFirst]) => {
    const tags = new Set<string>([
      ...interims.flatMap((i) => i.tags),
      ...statusLine.tags,
      ...fields.flatMap((f) => f.tags),
      ...framing.tags,
    ]);
    if (method === 'HEAD') tags.add('head-request');
    const status = Number(/^\S+ (\d{3})/.exec(statusLine.line)?.[1] ?? 0);
    if (status === 204 || status === 304) tags.add('no-body-status');
    const fieldText = fields.map((f) => f.line).join('');
    // Length framing renders its own field line, just before the blank line, then the content.
    const bodyless = method === 'HEAD' || status === 204 || status === 304;
    const framed = framing.body(content, bodyless);
    const head = framingFirst
      ? `${statusLine.line}${framing.fields}${fieldText}`
      : `${statusLine.line}${fieldText}${framing.fields}`;
    const bytes = Buffer.concat([
      Buffer.from(interims.map((i) => i.line).join(''), 'latin1'),
      Buffer.from(head, 'latin1'),
      framed,
    ]);
    return { method, bytes, tags: [...tags].sort() };
  });

/** Tags that bend no rule of RFC 9110/9112: a case with only these is a valid response. */
const VALID = new Set([
  'interim',
  'value-ows',
  'chunked',
  'chunk-ext',
  'chunk-size-zeros',
  'trailers',
  'length',
  'close-delimited',
  'head-request',
  'no-body-status',
  'http10',
  'te-coding-chunked',
  'te-two-fields',
]);

/** Half valid responses, half near-valid ones (each may bend several rules). */
export const arbResponse: fc.Arbitrary<ResponseCase> = fc.oneof(
  arbAnyResponse.filter((c) => c.tags.every((t) => VALID.has(t))),
  arbAnyResponse,
);
