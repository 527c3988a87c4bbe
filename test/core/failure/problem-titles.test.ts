/**
 * RFC 9457 §3.1.3: a problem type's `title` SHOULD NOT change from occurrence to occurrence. Every
 * (type, title) pair the gateway's error bodies can give is read from the code's own tables (each
 * type of the taxonomy, each variant of one: variants.ts), rendered in all three formats: one
 * title per type, the HTML page and the plain text saying what the problem+json says, and a
 * variant's own words in the detail.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderErrorBody } from '../../../src/core/failure/error-body.ts';
import { Failure } from '../../../src/core/failure/failure.ts';
import { FAILURE_TYPES, type FailureType } from '../../../src/core/failure/taxonomy.ts';
import { VARIANTS, type VariantName } from '../../../src/core/failure/variants.ts';

interface Occurrence {
  readonly failure: Failure;
  readonly label: string;
}

function occurrences(): Occurrence[] {
  const all: Occurrence[] = FAILURE_TYPES.map((type) => ({ failure: new Failure(type, 'x'), label: type }));
  for (const [name, variant] of Object.entries(VARIANTS) as [VariantName, (typeof VARIANTS)[VariantName]][])
    all.push({
      failure: new Failure(variant.type, 'x', { variant: name }),
      label: `${variant.type} (${name})`,
    });
  return all;
}

/** The title each format gives: the problem's member, the page's <title> and lead, the text's first line. */
function titles(failure: Failure): { json: string; detail: string; html: string[]; text: string } {
  const ctx = { failure, proxyName: 'edge', requestId: 'r1', nextHop: 'api' };
  const problem = JSON.parse(renderErrorBody('problem+json', ctx).body) as { title: string; detail: string };
  const page = renderErrorBody('html', ctx).body;
  const text = renderErrorBody('text', ctx).body;
  const fromHtml = (s: string) =>
    s.replaceAll('&#39;', "'").replaceAll('&quot;', '"').replaceAll('&amp;', '&');
  return {
    json: problem.title,
    detail: problem.detail,
    html: [
      fromHtml(/<title>\d{3} [^·]*· (.*)<\/title>/.exec(page)?.[1] ?? ''),
      fromHtml(/<strong>(.*)\.<\/strong>/.exec(page)?.[1] ?? ''),
    ],
    text: /^\d{3} [^:]*: (.*)\n/.exec(text)?.[1] ?? '',
  };
}

test('every problem type has one title, whichever case of it answered, and every format gives that title', () => {
  const byType = new Map<FailureType, Map<string, string[]>>();
  for (const { failure, label } of occurrences()) {
    const said = titles(failure);
    assert.deepEqual(said.html, [said.json, said.json], `${label}: the HTML page's title`);
    assert.equal(said.text, said.json, `${label}: the plain text's title`);
    const seen = byType.get(failure.type) ?? new Map<string, string[]>();
    seen.set(said.json, [...(seen.get(said.json) ?? []), label]);
    byType.set(failure.type, seen);
  }
  const many = [...byType]
    .filter(([, seen]) => seen.size > 1)
    .map(([type, seen]) => `${type}: ${JSON.stringify([...seen])}`);
  assert.deepEqual(many, []);
});

test("a variant's own words are in the detail, in every format", () => {
  for (const [name, variant] of Object.entries(VARIANTS) as [VariantName, (typeof VARIANTS)[VariantName]][]) {
    const failure = new Failure(variant.type, 'x', { variant: name });
    const ctx = { failure, proxyName: 'edge', requestId: 'r1', nextHop: 'api' };
    const words = variant.explanation;
    assert.ok(titles(failure).detail.includes(words), `${name}: problem+json detail`);
    assert.ok(renderErrorBody('text', ctx).body.includes(words), `${name}: plain text`);
    const html = renderErrorBody('html', ctx).body.replaceAll('&#39;', "'");
    assert.ok(html.includes(words), `${name}: HTML page`);
  }
});

test('a variant of another type is refused: its words would be of another problem', () => {
  assert.throws(
    () => new Failure('connection_refused', 'x', { variant: 'static_file_not_found' }),
    /is of destination_not_found, not connection_refused/,
  );
});
