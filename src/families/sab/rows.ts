// ScienceAgentBench row files as upstream ships them, split into raw rows that the loader then
// checks field by field:
//   - `ScienceAgentBench.csv` (upstream's `benchmark/ScienceAgentBench.csv` and the Hugging Face
//     "validation" config): a real CSV with quoted fields holding commas, quotes and newlines;
//   - JSONL (one object per line), and a JSON list of objects;
//   - the JSON that the Hugging Face dataset viewer serves (`{"rows": [{"row": {...}}, ...]}`);
//   - the dataset card's parquet files (read in parquet-rows.ts).

import { readFile } from "node:fs/promises";
import { CsvError, parse } from "csv-parse/sync";
import { readParquetRows } from "./parquet-rows.js";

export interface RawRow {
  /** Where the row is, for messages: "line 3" (JSONL), "row 3" (JSON), "row 3 (lines 4-9)" (CSV). */
  where: string;
  value: unknown;
}

export type RowFileFormat = "csv" | "json" | "jsonl" | "parquet";

/** The format a rows file is read as, from its name; undefined when it is not a rows file. */
export function rowFileFormat(file: string): RowFileFormat | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".jsonl")) return "jsonl";
  if (lower.endsWith(".json")) return "json";
  if (lower.endsWith(".parquet")) return "parquet";
  return undefined;
}

/**
 * Reads a rows file of any format into raw rows, or lists what is wrong with its syntax. Throws only
 * when the file can not be read at all (missing, unreadable).
 */
export async function readRows(file: string): Promise<{ rows: RawRow[]; problems: string[] }> {
  if (rowFileFormat(file) === "parquet") return readParquetRows(file);
  return splitRows(file, await readFile(file, "utf8"));
}

/** Splits the text of a rows file (CSV, JSON or JSONL) into raw rows, or lists what is wrong with its syntax. */
export function splitRows(file: string, text: string): { rows: RawRow[]; problems: string[] } {
  switch (rowFileFormat(file)) {
    case "csv":
      return splitCsv(text);
    case "json":
      return splitJson(text);
    case "parquet":
      // Binary: its text means nothing. readRows reads it.
      return { rows: [], problems: ["a parquet file is binary and can not be split as text. Fix: read it with readRows"] };
    default:
      return splitJsonLines(text);
  }
}

function splitJsonLines(text: string): { rows: RawRow[]; problems: string[] } {
  const rows: RawRow[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === "") return;
    try {
      rows.push({ where: `line ${index + 1}`, value: JSON.parse(line) });
    } catch (error) {
      problems.push(`line ${index + 1}: not valid JSON (${(error as Error).message}). Fix: each line must hold one complete JSON object`);
    }
  });
  return { rows, problems };
}

function splitJson(text: string): { rows: RawRow[]; problems: string[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return {
      rows: [],
      problems: [`not valid JSON (${(error as Error).message}). Fix: a .json file must hold one JSON list of row objects; use .jsonl for one object per line`],
    };
  }
  // The Hugging Face dataset viewer's answer: {"features": [...], "rows": [{"row_idx": 0, "row": {...}}]}.
  if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) && Array.isArray((parsed as { rows?: unknown }).rows)) {
    const wrapped = (parsed as { rows: unknown[] }).rows;
    return {
      rows: wrapped.map((entry, index) => ({
        where: `row ${index + 1}`,
        value: typeof entry === "object" && entry !== null && "row" in entry ? (entry as { row: unknown }).row : entry,
      })),
      problems: [],
    };
  }
  if (!Array.isArray(parsed)) {
    return { rows: [], problems: ["expected a JSON list of row objects at the top level. Fix: wrap the rows in [ ... ]"] };
  }
  return { rows: parsed.map((value, index) => ({ where: `row ${index + 1}`, value })), problems: [] };
}

/**
 * A CSV with a header line naming the fields, as upstream's ScienceAgentBench.csv. Every value is
 * a string (instance_id "1" included), as pandas would read it with dtype=str; the literal "None"
 * that upstream writes in src_file_or_path stays the string "None".
 */
function splitCsv(text: string): { rows: RawRow[]; problems: string[] } {
  let records: Array<{ record: Record<string, string>; info: { lines: number } }>;
  try {
    records = parse(text, { columns: true, bom: true, info: true, skip_empty_lines: true, relax_quotes: false }) as typeof records;
  } catch (error) {
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines;
      return {
        rows: [],
        problems: [
          `${line === undefined ? "" : `line ${line}: `}not valid CSV (${error.message}). Fix: quote every field that holds a comma, a quote or a line break with "...", and double the quotes inside it ("")`,
        ],
      };
    }
    throw error;
  }
  const rows: RawRow[] = [];
  let previousEnd = 1; // the header line
  records.forEach(({ record, info }, index) => {
    const start = previousEnd + 1;
    const end = info.lines;
    previousEnd = end;
    rows.push({ where: `row ${index + 1} (${start === end ? `line ${end}` : `lines ${start}-${end}`})`, value: { ...record } });
  });
  return { rows, problems: [] };
}
