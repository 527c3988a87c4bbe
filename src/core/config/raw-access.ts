/**
 * Cross-field checks run on the document even where the schema found problems, so that
 * every problem is reported in one go; these guards let them look only at the parts that
 * have the right shape and leave the rest to the schema's messages.
 */

export function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function entriesOf(value: unknown): [string, Record<string, unknown>][] {
  if (!isMapping(value)) return [];
  return Object.entries(value).filter((entry): entry is [string, Record<string, unknown>] =>
    isMapping(entry[1]),
  );
}

/** The mappings of a list, each with its index; anything else in the list is the schema's business. */
export function itemsOf(value: unknown): [number, Record<string, unknown>][] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item, index): [number, Record<string, unknown>][] =>
    isMapping(item) ? [[index, item]] : [],
  );
}

export function stringAt(value: Record<string, unknown> | undefined, key: string): string | undefined {
  const found = value?.[key];
  return typeof found === 'string' ? found : undefined;
}

export function mappingAt(
  value: Record<string, unknown> | undefined,
  key: string,
): Record<string, unknown> | undefined {
  const found = value?.[key];
  return isMapping(found) ? found : undefined;
}
