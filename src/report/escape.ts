// The one escaping function for text that goes into HTML outside the templates (which escape by
// default): model replies, task files, sandbox output. Escapes the five characters that can end
// an element, an attribute or an entity, so the text stays text in content and quoted attributes.

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (character) => ENTITIES[character]!);
}
