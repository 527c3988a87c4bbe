import type { PathSegment } from './schema.ts';

/**
 * Records one problem at `path`. `at` says which place in the file to point at: the value
 * (default), the key (unknown fields, bad names) or the enclosing mapping (a missing field
 * has no place of its own).
 */
/**
 * Where a checked field is written when that is not where it is checked, said for a message: a
 * default a route took is `route_defaults.timeouts.response at line 5`; undefined for a field
 * written where it is checked.
 */
export type WrittenElsewhere = (path: readonly PathSegment[]) => string | undefined;

export type Report = (path: readonly PathSegment[], message: string, at?: 'value' | 'key' | 'parent') => void;
