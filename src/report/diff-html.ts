// A submission's unified diff as HTML, rendered by diff2html (which escapes every line and file
// name), and diff2html's own stylesheet to inline into the report.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { html as diff2html } from "diff2html";

const require = createRequire(import.meta.url);

export function renderDiff(diff: string): string {
  return diff2html(diff, { drawFileList: true, matching: "lines", outputFormat: "line-by-line", diffStyle: "word", renderNothingWhenEmpty: false });
}

let stylesheet: string | undefined;

/** diff2html's stylesheet, read once. */
export function diffStylesheet(): string {
  stylesheet ??= readFileSync(require.resolve("diff2html/bundles/css/diff2html.min.css"), "utf8");
  return stylesheet;
}
