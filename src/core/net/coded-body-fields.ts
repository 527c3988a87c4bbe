/**
 * What of a response's fields names its body's bytes as sent, and so changes when the body is
 * decoded or coded on the way (RFC 9110 §8.4, §8.8.1): the digests of those bytes, which a client
 * checking them would take a changed body for a corrupt one by, and the ETag, which is at most weak
 * for the other coding. Read by the compressing sink (coded-fields.ts) and by a plugin's answer
 * that the global fetch decoded (plugin-answer.ts).
 */

/** The digest fields (RFC 9530; RFC 3230's Digest, Content-MD5), by their lower-case names. */
export const DIGEST_FIELDS: ReadonlySet<string> = new Set([
  'content-digest',
  'repr-digest',
  'digest',
  'content-md5',
]);

/** An entity-tag (RFC 9110 §8.8.3): quoted, `W/` (case-sensitive) before it when weak. */
const ENTITY_TAG = /^(W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/;

/**
 * An ETag as the same answer's in another coding has it: weak, or undefined when it is no
 * entity-tag (`abc`, `w/"abc"`): `W/` before it makes no weak tag, and the value kept as it came
 * would name the other body as this one.
 */
export function weakenedTag(value: string): string | undefined {
  const tag = value.trim();
  if (!ENTITY_TAG.test(tag)) return undefined;
  return tag.startsWith('W/') ? tag : `W/${tag}`;
}
