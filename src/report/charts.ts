// Small inline SVG charts: horizontal bars (steps, cost per task) and stacked outcome bars per
// family. Labels come from tasks, so every one is escaped; numbers are formatted here.

import { escapeHtml } from "./escape.js";

export interface Bar {
  label: string;
  value: number;
  /** A CSS class for the bar's colour (an outcome name). */
  tone: string;
}

const ROW = 18;
const LABEL_WIDTH = 120;
const BAR_WIDTH = 170;

export function barChart(title: string, bars: readonly Bar[], format: (value: number) => string): string {
  const height = bars.length * ROW + 24;
  const most = Math.max(0, ...bars.map((bar) => bar.value));
  const rows = bars.map((bar, index) => {
    const y = 20 + index * ROW;
    const width = most > 0 ? Math.max(1, (bar.value / most) * BAR_WIDTH) : 1;
    return (
      `<text x="${LABEL_WIDTH - 6}" y="${y + 12}" text-anchor="end" class="chart-label">${escapeHtml(clip(bar.label))}</text>` +
      `<rect x="${LABEL_WIDTH}" y="${y + 2}" width="${width.toFixed(1)}" height="${ROW - 5}" class="bar ${escapeHtml(bar.tone)}"><title>${escapeHtml(`${bar.label}: ${format(bar.value)}`)}</title></rect>` +
      `<text x="${(LABEL_WIDTH + width + 4).toFixed(1)}" y="${y + 12}" class="chart-value">${escapeHtml(format(bar.value))}</text>`
    );
  });
  return (
    `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" width="${LABEL_WIDTH + BAR_WIDTH + 70}" height="${height}" viewBox="0 0 ${LABEL_WIDTH + BAR_WIDTH + 70} ${height}">` +
    `<text x="0" y="13" class="chart-title">${escapeHtml(title)}</text>${rows.join("")}</svg>`
  );
}

export interface StackedRow {
  label: string;
  parts: Array<{ tone: string; count: number }>;
}

/** One bar per family, split by outcome; the width is the share of the family's tasks. */
export function stackedChart(title: string, rows: readonly StackedRow[]): string {
  const height = rows.length * ROW + 24;
  const body = rows.map((row, index) => {
    const y = 20 + index * ROW;
    const total = row.parts.reduce((sum, part) => sum + part.count, 0);
    let x = LABEL_WIDTH;
    const segments = row.parts
      .filter((part) => part.count > 0)
      .map((part) => {
        const width = total > 0 ? (part.count / total) * BAR_WIDTH : 0;
        const segment = `<rect x="${x.toFixed(1)}" y="${y + 2}" width="${width.toFixed(1)}" height="${ROW - 5}" class="bar ${escapeHtml(part.tone)}"><title>${escapeHtml(`${row.label}: ${part.count} ${part.tone}`)}</title></rect>`;
        x += width;
        return segment;
      });
    const legend = row.parts.filter((part) => part.count > 0).map((part) => `${part.count} ${part.tone}`).join(", ");
    return (
      `<text x="${LABEL_WIDTH - 6}" y="${y + 12}" text-anchor="end" class="chart-label">${escapeHtml(clip(row.label))}</text>${segments.join("")}` +
      `<text x="${LABEL_WIDTH + BAR_WIDTH + 4}" y="${y + 12}" class="chart-value">${escapeHtml(legend)}</text>`
    );
  });
  return (
    `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" width="${LABEL_WIDTH + BAR_WIDTH + 150}" height="${height}" viewBox="0 0 ${LABEL_WIDTH + BAR_WIDTH + 150} ${height}">` +
    `<text x="0" y="13" class="chart-title">${escapeHtml(title)}</text>${body.join("")}</svg>`
  );
}

function clip(text: string): string {
  return text.length <= 16 ? text : `${text.slice(0, 15)}…`;
}
