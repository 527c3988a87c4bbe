/**
 * Generated HTTP/1.1 requests for the request parser's differential test: valid ones of every
 * framing, and near-valid ones that break one rule at a time. Each case lists the rules it
 * bends as tags, so a disagreement between the two parsers can be traced to a documented reason.
 */
import fc from 'fast-check';
import { arbFieldLine, arbPlainValue } from './field-arbitraries.ts';

export interface RequestCase {
  readonly bytes: Buffer;
  /** The irregularities in it (empty for a plainly valid request). */
  readonly tags: readonly string[];
}

interface Part {
  readonly text: string;
  readonly tags: readonly string[];
}

const part = (text: string, ...tags: string[]): Part => ({ text, tags });

const arbMethod = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .constantFrom('GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD')
      .map((m) => part(m)),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<[string, string]>(
        ['FOO', 'method-unknown'],
        ['get', 'method-unknown'],
        ['G(E)T', 'method-invalid'],
        ['GE T', 'method-invalid'],
        ['', 'method-invalid'],
        ['MKCALENDAR', 'method-rare'],
        ['PROPFIND', 'method-rare'],
      )
      .map(([m, tag]) => part(m, tag)),
  },
);

const arbTarget = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .constantFrom(
        '/',
        '/a',
        '/a/b?c=d&e',
        '/%41%20',
        '/a;b,c',
        "/!$&'()*+,;=:@-._~",
        'http://h.example/p?q',
        '*',
      )
      .map((t) => part(t)),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<[string, string]>(
        ['/a\x01b', 'target-ctl'],
        ['/a\x7fb', 'target-ctl'],
        ['/a\x00', 'target-ctl'],
        ['/\x80\xff', 'target-obs-text'],
        ['/é', 'target-obs-text'],
        ['/a\tb', 'target-ctl'],
        ['/a b', 'target-space'],
      )
      .map(([t, tag]) => part(t, tag)),
  },
  {
    // The absolute form's authority replaces Host upstream (RFC 9112 §3.2.2): valid ones, and
    // ones no Host could be (credentials, a port past 65535, no host at all).
    weight: 2,
    arbitrary: fc
      .constantFrom<[string, string[]]>(
        ['http://h.example:8080/p', []],
        ['HTTP://H.EXAMPLE/p', []],
        ['http://[::1]:8080/', []],
        ['http://h.example:/p', []],
        ['https://h.example:65535?q', []],
        ['http://user:secret@internal.example/', ['authority-userinfo']],
        ['http://user@h.example/', ['authority-userinfo']],
        ['http://h.example:99999999/', ['authority-port-range']],
        ['http://h.example:65536/', ['authority-port-range']],
        ['http:///nohost', ['authority-empty-host']],
        ['http://:80/', ['authority-empty-host']],
      )
      .map(([t, tags]) => part(t, ...tags)),
  },
);

const arbVersion = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(part('HTTP/1.1'), part('HTTP/1.1'), part('HTTP/1.0', 'http10')) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<[string, string]>(
        ['HTTP/2.0', 'version-unsupported'],
        ['HTTP/1.7', 'version-higher-minor'],
        ['HTTP/0.9', 'version-unsupported'],
        ['HTTP/3.0', 'version-unsupported'],
        ['http/1.1', 'version-invalid'],
        ['HTTP/1.1 ', 'version-invalid'],
        ['HTTP/11', 'version-invalid'],
        ['HTTP/1.10', 'version-invalid'],
      )
      .map(([v, tag]) => part(v, tag)),
  },
);

const arbRequestLine = fc.oneof(
  {
    weight: 20,
    arbitrary: fc
      .tuple(arbMethod, arbTarget, arbVersion)
      .map(([m, t, v]) => part(`${m.text} ${t.text} ${v.text}`, ...m.tags, ...t.tags, ...v.tags)),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<[string, string]>(
        ['GET /', 'http09'],
        ['GET  / HTTP/1.1', 'line-invalid'],
        ['GET / HTTP/1.1 extra', 'line-invalid'],
        [' GET / HTTP/1.1', 'line-invalid'],
      )
      .map(([l, tag]) => part(l, tag)),
  },
);

const NAMES = ['Host', 'User-Agent', 'Accept', 'x-b', 'Cookie', 'X_Under', "x!#$%&'*+-.^_`|~9", 'Connection'];
const arbField: fc.Arbitrary<Part> = arbFieldLine(NAMES, (name) =>
  name === 'Connection' ? ['connection-field'] : [],
).map(({ line, tags }) => ({ text: line, tags }));

/**
 * Fields whose value has obs-text where whitespace could be: U+00A0 (0xa0) is no OWS, so it
 * stays in the value (String#trim() would strip it: a `Connection: \xa0close` read as close).
 */
const arbObsTextField = fc
  .tuple(
    fc.constantFrom('X-Pad', 'Accept', 'Connection'),
    fc.constantFrom('\xa0a\xa0', '\xa0', ' \xa0close', 'close\xa0', '\xa0 keep-alive \xa0', 'a\xa0\xa0b'),
  )
  .map(([name, value]) =>
    part(`${name}: ${value}\r\n`, 'obs-text-ws', ...(name === 'Connection' ? ['connection-field'] : [])),
  );

const arbConnection = fc.constantFrom<Part>(
  part(''),
  part(''),
  part(''),
  part('Connection: close\r\n', 'connection-field'),
  part('Connection: keep-alive\r\n', 'connection-field'),
  part('Connection: Keep-Alive, TE\r\n', 'connection-field'),
);

const arbBody = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b));

interface Framing {
  /** Fields and the rest of the message: the blank line, then the framed body. */
  readonly render: (content: Buffer) => { fields: string; body: Buffer };
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
  { weight: 3, arbitrary: fc.constant<Part[]>([]) },
  {
    weight: 2,
    arbitrary: fc.array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc
            .tuple(fc.constantFrom('X-Checksum', 'Server-Timing', 'Expires', 'Content-Length'), arbPlainValue)
            .map(([n, v]) =>
              part(`${n}: ${v}\r\n`, 'trailers', ...(/^content/i.test(n) ? ['trailer-framing-field'] : [])),
            ),
        },
        { weight: 1, arbitrary: arbField.map((f) => part(f.text, 'trailers', ...f.tags)) },
      ),
      { minLength: 1, maxLength: 3 },
    ),
  },
);

const arbChunked: fc.Arbitrary<Framing> = fc
  .tuple(
    fc.constantFrom<[string, string[]]>(
      ['Transfer-Encoding: chunked\r\n', []],
      ['Transfer-Encoding: chunked\r\n', []],
      ['Transfer-Encoding: Chunked \r\n', []],
      ['transfer-encoding: gzip, chunked\r\n', ['te-coding-chunked']],
      ['Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n', ['te-coding-chunked', 'te-two-fields']],
      ['Transfer-Encoding: chunked, chunked\r\n', ['te-chunked-twice']],
      ['Transfer-Encoding: , chunked\r\n', ['te-empty-member']],
      ['Transfer-Encoding: chunked, gzip\r\n', ['te-not-chunked']],
      // obs-text around chunked: not OWS, so not chunked (llhttp, nginx and HAProxy agree).
      ['Transfer-Encoding: \xa0chunked\xa0\r\n', ['te-not-chunked', 'obs-text-ws']],
      ['Transfer-Encoding: chunked\xa0\r\n', ['te-not-chunked', 'obs-text-ws']],
      ['Transfer-Encoding: gzip, \xa0chunked\r\n', ['te-not-chunked', 'obs-text-ws']],
      ['Transfer-Encoding: gzip\r\n', ['te-not-chunked']],
      ['Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', ['te-and-cl']],
      ['Content-Length: 3\r\nTransfer-Encoding: chunked\r\n', ['te-and-cl']],
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
      tags,
      render: (content) => {
        const parts: string[] = [];
        let at = 0;
        for (const [n, [ext]] of chunks) {
          const piece = content.subarray(at, at + n);
          at += piece.length;
          if (piece.length === 0) break;
          parts.push(`${size(piece.length)}${ext}\r\n${piece.toString('latin1')}${afterData}`);
        }
        parts.push(`${last[0]}\r\n${trailers.map((t) => t.text).join('')}\r\n`);
        return { fields, body: Buffer.from(parts.join(''), 'latin1') };
      },
    };
  });

const arbLength: fc.Arbitrary<Framing> = fc
  .constantFrom<[(n: number) => string, string[]]>(
    [(n) => `Content-Length: ${n}\r\n`, []],
    [(n) => `Content-Length: ${n}\r\n`, []],
    [(n) => `content-length:${n} \r\n`, []],
    [(n) => `Content-Length: 0${n}\r\n`, ['cl-leading-zero']],
    [(n) => `Content-Length: ${n}\r\nContent-Length: ${n}\r\n`, ['cl-duplicate']],
    [(n) => `Content-Length: ${n}, ${n}\r\n`, ['cl-list']],
    [(n) => `Content-Length: ${n}\r\nContent-Length: ${n + 1}\r\n`, ['cl-conflict']],
    [() => 'Content-Length: abc\r\n', ['cl-invalid']],
    [(n) => `Content-Length: +${n}\r\n`, ['cl-invalid']],
    [() => 'Content-Length: \r\n', ['cl-invalid']],
    [(n) => `Content-Length: ${n + 5}\r\n`, ['cl-short-body']],
  )
  .map(([fields, tags]) => ({
    tags: ['length', ...tags],
    render: (content: Buffer) => ({ fields: fields(content.length), body: content }),
  }));

const arbNone = fc.constant<Framing>({
  tags: ['no-body'],
  render: () => ({ fields: '', body: Buffer.alloc(0) }),
});

const arbAnyRequest: fc.Arbitrary<RequestCase> = fc
  .tuple(
    fc.boolean(),
    arbRequestLine,
    fc.array(fc.oneof({ weight: 8, arbitrary: arbField }, { weight: 1, arbitrary: arbObsTextField }), {
      maxLength: 5,
    }),
    arbConnection,
    fc.oneof(arbNone, arbLength, arbChunked),
    arbBody,
    fc.boolean(),
  )
  .map(([leadingCrlf, line, fields, connection, framing, content, framingFirst]) => {
    const { fields: framingFields, body } = framing.render(content);
    const fieldText = fields.map((f) => f.text).join('') + connection.text;
    const head = framingFirst
      ? `${line.text}\r\nHost: a\r\n${framingFields}${fieldText}\r\n`
      : `${line.text}\r\nHost: a\r\n${fieldText}${framingFields}\r\n`;
    const tags = new Set<string>([
      ...line.tags,
      ...fields.flatMap((f) => f.tags),
      ...connection.tags,
      ...framing.tags,
    ]);
    if (leadingCrlf) tags.add('leading-crlf');
    return {
      bytes: Buffer.concat([Buffer.from(`${leadingCrlf ? '\r\n' : ''}${head}`, 'latin1'), body]),
      tags: [...tags].sort(),
    };
  });

/** Tags that bend no rule of RFC 9110/9112: a case with only these is a valid request. */
const VALID = new Set([
  'http10',
  'method-rare',
  'connection-field',
  'chunked',
  'chunk-ext',
  'chunk-size-zeros',
  'trailers',
  'length',
  'cl-leading-zero',
  'no-body',
  'te-coding-chunked',
  'te-two-fields',
  'leading-crlf',
  'obs-text-ws',
]);

/** Half valid requests, half near-valid ones (each may bend several rules). */
export const arbRequest: fc.Arbitrary<RequestCase> = fc.oneof(
  arbAnyRequest.filter((c) => c.tags.every((t) => VALID.has(t))),
  arbAnyRequest,
);
