/**
 * Whether the `library` this Node bundles (`process.versions`: its nghttp2, its OpenSSL) is older
 * than `major`.`minor`: where a behaviour Candor relies on changed between the Node it is
 * developed on and the oldest it runs on. False when the Node names no such version.
 */
export function bundledBefore(library: 'nghttp2' | 'openssl', major: number, minor: number): boolean {
  // parseInt: OpenSSL's may carry a suffix ("3.0.13+quic").
  const [a, b] = (process.versions[library] ?? '').split('.').map((part) => Number.parseInt(part, 10));
  if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b)) return false;
  return a < major || (a === major && b < minor);
}
