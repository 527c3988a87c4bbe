import assert from 'node:assert/strict';
import { test } from 'node:test';
import { negotiateErrorFormat } from '../../../src/core/failure/negotiate.ts';

test('browsers get HTML, API clients problem+json, everyone else plain text', () => {
  const cases: [string | undefined, string][] = [
    [undefined, 'text'],
    ['*/*', 'text'],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'html'],
    ['application/json', 'problem+json'],
    ['application/problem+json', 'problem+json'],
    ['application/*', 'problem+json'],
    ['application/json;q=0.5, text/html', 'html'],
    ['text/html;q=0.1, application/json;q=0.9', 'problem+json'],
    ['text/plain', 'text'],
    ['text/*', 'text'],
    ['image/png', 'text'],
    ['application/json;q=0', 'text'],
    ['TEXT/HTML', 'html'],
    ['text/html, application/json', 'problem+json'],
    // XHTML's media type is application/xhtml+xml (it was listed as text/xhtml+xml).
    ['application/xhtml+xml', 'html'],
    ['application/xhtml+xml;q=0.9, application/json;q=0.5', 'html'],
    ['text/xhtml+xml', 'text'],
  ];
  for (const [accept, expected] of cases)
    assert.equal(negotiateErrorFormat(accept), expected, String(accept));
});
