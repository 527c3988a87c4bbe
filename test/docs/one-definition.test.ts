/**
 * One definition per name (issue 30: "an interface defined twice"): a type, interface or class
 * exported under one name by two modules of src/ is either one thing written twice (an owner too
 * many: import it instead) or two things a reader will take for one. The names below are two
 * things each, told apart by where they live; any other name defined twice fails.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '../..');

/** Name → why its two definitions are two things. */
const DISTINCT: Readonly<Record<string, string>> = {
  Admission:
    "admit's decision on a request, and candor/client's wait for an origin (the kit has none of admit)",
  CanaryAction:
    "the library's word for an operator's action, and the timeline's word for what happened (issue 36's one vocabulary would end it)",
  CanaryEvent: "the controller's step as it reports it, and the timeline's event made from it",
  HealthEvent: "the gateway's health transition, and explain's reading of one from a log line",
  Report: "the config checker's problem callback, and explain's report",
  RequestBody:
    "an upstream exchange's body source, and the body of candor/client's fetch (public, fetch's own type)",
  RequestFacts: "what candor/client's retry rule reads of a call, and what diagnose sent",
  Tally: "a histogram's counts in the canary's statistics, and explain's counter of log lines",
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

test('no type, interface or class is defined under one name by two modules, but the distinct ones listed', () => {
  const definedIn = new Map<string, string[]>();
  for (const file of sources(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^export (?:declare )?(?:interface|type|(?:abstract )?class) (\w+)/gm))
      definedIn.set(m[1], [...(definedIn.get(m[1]) ?? []), relative(ROOT, file)]);
  }
  const twice = [...definedIn]
    .filter(([name, files]) => files.length > 1 && !(name in DISTINCT))
    .map(([name, files]) => `${name}: ${files.join(', ')}`);
  assert.deepEqual(twice, []);
  const stale = Object.keys(DISTINCT).filter((name) => (definedIn.get(name)?.length ?? 0) < 2);
  assert.deepEqual(stale, [], 'a name no longer defined twice leaves the list');
});
