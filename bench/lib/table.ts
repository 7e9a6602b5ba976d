/** Renders rows as an aligned plain-text table (first column left-aligned, the rest right-aligned). */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** Formats nanoseconds as microseconds with a precision that suits the size. */
export function us(ns: number): string {
  const v = ns / 1000
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3)
}

export function opsPerSec(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}
