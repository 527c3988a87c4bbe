/**
 * YAML tags (`!!binary`, `!secret token`, `!include file.yaml`) in a config. The parser keeps a
 * tag it does not know as a warning and the value as plain text, so `token: !secret admin_token`
 * would be the token "admin_token", and `!!int abc` the text "abc": the operator meant something
 * else, and nothing said so. A config reads YAML 1.2's core types alone, so any other tag is a
 * config error at its value, and so is a core tag the value does not fit.
 */

import { isMap, isScalar, isSeq, type Node } from 'yaml';

const CORE = 'tag:yaml.org,2002:';

/** What each core tag's value must be once read (the parser leaves one that does not fit as text). */
const FITS: Readonly<Record<string, (node: Node) => boolean>> = {
  str: (node) => isScalar(node) && typeof node.value === 'string',
  int: (node) => isScalar(node) && (Number.isInteger(node.value) || typeof node.value === 'bigint'),
  float: (node) => isScalar(node) && typeof node.value === 'number',
  bool: (node) => isScalar(node) && typeof node.value === 'boolean',
  null: (node) => isScalar(node) && node.value === null,
  map: isMap,
  seq: isSeq,
};

/** Why `node`'s tag cannot be read as written, or undefined (no tag, `!`, or a core tag its value fits). */
export function tagProblem(node: Node): string | undefined {
  const tag = node.tag;
  // `!` alone is YAML's "not a plain scalar": the value is text, as quoted.
  if (tag === undefined || tag === '!') return undefined;
  const core = tag.startsWith(CORE) ? tag.slice(CORE.length) : undefined;
  const written = core === undefined ? tag : `!!${core}`;
  const fits = core === undefined ? undefined : FITS[core];
  if (fits === undefined)
    return `the YAML tag ${written} is not read: a config takes YAML 1.2's own values (text, numbers, true or false, null, lists, mappings) and no tag but !!str, !!int, !!float, !!bool, !!null, !!map and !!seq; remove the tag and write the value itself (an environment variable is \${NAME})`;
  if (fits(node)) return undefined;
  return `the YAML tag ${written} does not fit the value written after it (YAML 1.2 reads none of its kind there); remove the tag or write such a value`;
}
