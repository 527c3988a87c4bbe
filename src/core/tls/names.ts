import { implicitPrimitive, oid, sequence, set, utf8String } from './der.ts';

/** ecdsa-with-SHA256 (RFC 5758 §3.2): the one signature Candor makes, with P-256 keys. */
export const ECDSA_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));

/** A Name of one attribute, the common name. */
export const commonName = (name: string): Buffer => sequence(set(sequence(oid('2.5.4.3'), utf8String(name))));

/** The subjectAltName extension's value: GeneralNames of dNSName entries. */
export const dnsNames = (names: readonly string[]): Buffer =>
  sequence(...names.map((name) => implicitPrimitive(2, Buffer.from(name, 'ascii'))));

export const SUBJECT_ALT_NAME = '2.5.29.17';
