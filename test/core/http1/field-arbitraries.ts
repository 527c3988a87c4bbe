/**
 * The header field lines both differential tests generate (responses in differential-cases.ts,
 * requests in request-differential-cases.ts): ordinary ones, and near-valid ones that bend one
 * rule, each tagged with the rule it bends.
 */
import fc from 'fast-check';

/** One field line and the irregularities in it. */
export interface FieldLine {
  readonly line: string;
  readonly tags: string[];
}

/** Field values: visible ASCII and spaces inside, sometimes obs-text. */
export const arbPlainValue = fc
  .array(fc.constantFrom('a', 'Z', '0', ' ', '\t', ',', ';', '=', '"', '/', ':', '~', '\x80', '\xff', 'é'), {
    maxLength: 12,
  })
  .map((chars) => chars.join(''));

const arbEol = fc.constantFrom<[string, string[]]>(
  ['\r\n', []],
  ['\r\n', []],
  ['\r\n', []],
  ['\r\n', []],
  ['\r\n', []],
  ['\r\n', []],
  ['\n', ['bare-lf']],
  ['\r', ['bare-cr']],
);

const arbSeparator = fc.constantFrom<[string, string[]]>(
  [': ', []],
  [':', []],
  [':\t', []],
  [':  ', []],
  [' : ', ['ws-before-colon']],
  ['\t:', ['ws-before-colon']],
);

/**
 * One field line, possibly irregular, named from `names`; `moreTags` adds the tags a test
 * tells apart beyond the ones here (a Connection field, a value with outer whitespace...).
 */
export function arbFieldLine(
  names: readonly string[],
  moreTags: (name: string, value: string) => string[],
): fc.Arbitrary<FieldLine> {
  const arbName = fc.constantFrom(...names);
  return fc
    .oneof(
      { weight: 8, arbitrary: fc.tuple(arbName, arbSeparator, arbPlainValue, arbEol) },
      {
        weight: 1,
        arbitrary: fc.tuple(
          fc.constantFrom('Bad Name', 'X(y)', '', 'X@', 'Ä'),
          fc.constant<[string, string[]]>([': ', ['bad-name']]),
          arbPlainValue,
          fc.constant<[string, string[]]>(['\r\n', []]),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(
          arbName,
          fc.constant<[string, string[]]>([': ', []]),
          fc.constantFrom('a\x00b', '\x00', 'a\x01', 'a\x7f', 'a\x1bz'),
          fc.constant<[string, string[]]>(['\r\n', ['ctl-in-value']]),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(
          arbName,
          fc.constant<[string, string[]]>([': ', []]),
          fc.constantFrom('a\r\n b', 'a\r\n\tb', '\r\n c'),
          fc.constant<[string, string[]]>(['\r\n', ['obs-fold']]),
        ),
      },
    )
    .map(([name, [sep, sepTags], value, [eol, eolTags]]) => ({
      line: `${name}${sep}${value}${eol}`,
      tags: [...sepTags, ...eolTags, ...moreTags(name, value)],
    }));
}
