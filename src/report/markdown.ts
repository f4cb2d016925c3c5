// Model thoughts and task descriptions as Markdown, safely: marked renders the Markdown, and
// every piece that could carry markup of its own is turned into text. Raw HTML in the source is
// shown escaped, links become their text and address as plain text (no navigation, no
// javascript: URLs), images become their alt text (nothing is fetched: the report works offline).

import { Marked } from "marked";
import { escapeHtml } from "./escape.js";

const markdown = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
    link({ href, tokens }) {
      const label = this.parser.parseInline(tokens);
      return `${label} <span class="url">(${escapeHtml(href)})</span>`;
    },
    image({ text }) {
      return `<span class="image-alt">[image: ${escapeHtml(text)}]</span>`;
    },
  },
});

export function renderMarkdown(source: string): string {
  return markdown.parse(source, { async: false }) as string;
}
