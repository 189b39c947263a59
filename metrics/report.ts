/**
 * Presentation of metric results: summary statistics, aligned text tables, JSON
 * that keeps non-finite values, and a self-contained SVG histogram.
 */

/** Count, mean, population standard deviation, minimum and maximum of a list of values. */
export interface Summary {
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  /** How many values are +Infinity (PSNR of identical images). */
  infinite: number;
}

/**
 * Summarises per-image values. The mean includes +Infinity values, so a PSNR mean
 * over a set with an identical pair is +Infinity, as averaging per-image PSNR gives.
 * NaN values (a metric unavailable for an image) are left out of every field.
 */
export function summarize(values: readonly number[]): Summary {
  const kept = values.filter((value) => !Number.isNaN(value));
  const infinite = kept.filter((value) => value === Infinity).length;
  if (kept.length === 0) return { count: 0, mean: NaN, std: NaN, min: NaN, max: NaN, infinite: 0 };
  const mean = kept.reduce((sum, value) => sum + value, 0) / kept.length;
  const std = Number.isFinite(mean)
    ? Math.sqrt(kept.reduce((sum, value) => sum + (value - mean) ** 2, 0) / kept.length)
    : NaN;
  return { count: kept.length, mean, std, min: Math.min(...kept), max: Math.max(...kept), infinite };
}

/** Formats a metric value with 6 significant digits; non-finite values print as inf, -inf and nan. */
export function formatValue(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "string") return value;
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-4 || magnitude >= 1e7)) return value.toExponential(5);
  return value.toPrecision(6);
}

/**
 * Renders rows as a table with a header line: text columns are left-aligned and
 * numeric columns right-aligned, separated by two spaces.
 *
 * @example
 * formatTable(["metric", "value"], [["fid", 48.3357], ["kid", 1.62272]]);
 */
export function formatTable(header: readonly string[], rows: readonly (readonly (number | string | null)[])[]): string {
  const cells = rows.map((row) => row.map(formatValue));
  const numeric = header.map((_, column) => rows.every((row) => typeof row[column] !== "string"));
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column].length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join("  ")
      .trimEnd();
  return [line(header), ...cells.map(line)].join("\n") + "\n";
}

/**
 * Serialises a result as indented JSON. Non-finite numbers, which JSON cannot hold,
 * become the strings "inf", "-inf" and "nan".
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, item) => {
    if (typeof item !== "number" || Number.isFinite(item)) return item;
    if (Number.isNaN(item)) return "nan";
    return item > 0 ? "inf" : "-inf";
  }, 2) + "\n";
}

export interface HistogramOptions {
  title: string;
  /** Label of the value axis, with its unit. */
  xLabel: string;
  /** Label of the count axis (default "count"). */
  yLabel?: string;
  /** Number of bins (default: about √N, from 5 to 40). */
  bins?: number;
}

/**
 * Renders a histogram of the finite values as a standalone SVG document. The title
 * line reports how many values were infinite or NaN and were left out.
 */
export function histogramSvg(values: readonly number[], options: HistogramOptions): string {
  const finite = values.filter(Number.isFinite);
  const omitted = values.length - finite.length;
  const binCount = options.bins ?? Math.min(40, Math.max(5, Math.round(Math.sqrt(finite.length))));
  let low = finite.length > 0 ? Math.min(...finite) : 0;
  let high = finite.length > 0 ? Math.max(...finite) : 1;
  if (low === high) {
    // A single distinct value still gets a visible bar of unit width around it.
    low -= 0.5;
    high += 0.5;
  }
  const counts = new Array<number>(binCount).fill(0);
  for (const value of finite) {
    const bin = Math.min(binCount - 1, Math.floor(((value - low) / (high - low)) * binCount));
    counts[bin]++;
  }
  const tallest = Math.max(1, ...counts);

  const width = 640;
  const height = 400;
  const left = 60;
  const right = 20;
  const top = 50;
  const bottom = 60;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const barWidth = plotWidth / binCount;

  const bars = counts.map((count, bin) => {
    const barHeight = (count / tallest) * plotHeight;
    const x = left + bin * barWidth;
    const y = top + plotHeight - barHeight;
    const from = low + (bin / binCount) * (high - low);
    const to = low + ((bin + 1) / binCount) * (high - low);
    return `  <rect x="${fixed(x)}" y="${fixed(y)}" width="${fixed(Math.max(barWidth - 1, 0.5))}" height="${fixed(barHeight)}" fill="#4a78b0"><title>${formatValue(from)} to ${formatValue(to)}: ${count}</title></rect>`;
  });
  const subtitle = `${finite.length} values` + (omitted > 0 ? `, ${omitted} infinite or NaN not shown` : "");
  const axisY = top + plotHeight;

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `  <rect width="${width}" height="${height}" fill="white"/>`,
    `  <text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`,
    `  <text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${escapeXml(subtitle)}</text>`,
    ...bars,
    `  <line x1="${left}" y1="${axisY}" x2="${width - right}" y2="${axisY}" stroke="black"/>`,
    `  <line x1="${left}" y1="${top}" x2="${left}" y2="${axisY}" stroke="black"/>`,
    `  <text x="${left}" y="${axisY + 16}" text-anchor="middle">${formatValue(low)}</text>`,
    `  <text x="${width - right}" y="${axisY + 16}" text-anchor="middle">${formatValue(high)}</text>`,
    `  <text x="${left - 6}" y="${top + 4}" text-anchor="end">${tallest}</text>`,
    `  <text x="${left - 6}" y="${axisY + 4}" text-anchor="end">0</text>`,
    `  <text x="${left + plotWidth / 2}" y="${height - 18}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `  <text x="16" y="${top + plotHeight / 2}" text-anchor="middle" transform="rotate(-90 16 ${top + plotHeight / 2})">${escapeXml(options.yLabel ?? "count")}</text>`,
    `</svg>`,
    "",
  ].join("\n");
}

function fixed(value: number): string {
  return value.toFixed(2);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** One panel of `histogramPanelsSvg`. */
export interface HistogramPanel {
  values: readonly number[];
  options: HistogramOptions;
}

/**
 * Renders several histograms stacked top to bottom in one standalone SVG
 * document, each as `histogramSvg` draws it, for comparing distributions.
 */
export function histogramPanelsSvg(panels: readonly HistogramPanel[]): string {
  if (panels.length === 1) return histogramSvg(panels[0].values, panels[0].options);
  const width = 640;
  const panelHeight = 400;
  const height = panelHeight * panels.length;
  const nested = panels.map((panel, index) =>
    histogramSvg(panel.values, panel.options).trimEnd().replace("<svg ", `<svg x="0" y="${index * panelHeight}" `)
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    ...nested,
    `</svg>`,
    "",
  ].join("\n");
}
