/** Number formats of the report. */

export function rps(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function ms(n: number): string {
  return n < 10 ? `${n.toFixed(2)} ms` : `${n.toFixed(1)} ms`;
}

export function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

export function ratio(value: number | undefined, reference: number | undefined): string {
  if (value === undefined || reference === undefined || reference === 0) return '–';
  return `${(value / reference).toFixed(2)}×`;
}

export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}
