// Text that came from a sandbox, a model or a task file (file names, action names, messages) may
// hold terminal escape sequences or line breaks that would rewrite what the user sees. Everything
// such text passes through one of these before it reaches dynabox's own terminal output.

/** Control characters (C0 except tab, DEL, C1) shown as \xNN; line breaks kept. */
export function printableText(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, escapeCharacter);
}

/** One line: also line breaks and tabs escaped, for names and one-line summaries. */
export function printableLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, escapeCharacter);
}

function escapeCharacter(character: string): string {
  const code = character.charCodeAt(0);
  return code > 0xff ? `\\u${code.toString(16).padStart(4, "0")}` : `\\x${code.toString(16).padStart(2, "0")}`;
}

/**
 * JSON for a terminal: JSON.stringify escapes C0 controls but leaves DEL, the C1 controls (an
 * 8-bit CSI among them) and the Unicode line separators raw; these become \uXXXX escapes,
 * which parse to the same value.
 */
export function printableJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
