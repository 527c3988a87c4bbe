/**
 * Every kind of the deploy timeline's events is a row of the docs' table (operations.md's Deploy
 * timeline) and has a colour of its own on the status page: a kind added to EVENT_KINDS and to
 * neither went unexplained, and drawn in the grey of a kind the page does not know.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EVENT_KINDS, type GatewayEvent } from '../../src/observe/events/gateway-event.ts';

const ROOT = join(import.meta.dirname, '../..');

// EVENT_KINDS is every kind of GatewayEvent, and no other (checked by tsc).
type Listed = (typeof EVENT_KINDS)[number];
const same: [Listed] extends [GatewayEvent['kind']]
  ? [GatewayEvent['kind']] extends [Listed]
    ? true
    : false
  : false = true;

test("the docs' table of the deploy timeline has a row for each kind of event, in EVENT_KINDS' order", () => {
  assert.equal(same, true);
  const text = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const section = text.slice(text.indexOf('\n## Deploy timeline\n'));
  const table = section.slice(
    section.indexOf('| `kind` |'),
    section.indexOf('\n\n', section.indexOf('| `kind` |')),
  );
  const rows = [...table.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(rows, ['kind', ...EVENT_KINDS]);
});

test('the status page draws each kind of event in a colour of its own', () => {
  const script = readFileSync(join(ROOT, 'src/server/admin/status-page/activity.js'), 'utf8');
  const block = /const EVENT_COLOURS = \{([^}]*)\};/.exec(script)?.[1] ?? '';
  const colours = new Map(
    [...block.matchAll(/^\s+([a-z_]+): '(#[0-9a-f]{6})',$/gm)].map((m) => [m[1], m[2]]),
  );
  assert.deepEqual([...colours.keys()], [...EVENT_KINDS]);
  assert.equal(new Set(colours.values()).size, EVENT_KINDS.length, 'no two kinds share a colour');
});
