// ScienceAgentBench rows from a parquet file, as the Hugging Face dataset card ships them
// (`osunlp/ScienceAgentBench`, split "validation", written by pyarrow with snappy pages).
// hyparquet is pure JavaScript (no native code); snappy is built in, and gzip and brotli come from
// node:zlib, so the codecs pyarrow and the hub use are read without another dependency.

import { readFile } from "node:fs/promises";
import zlib from "node:zlib";
import { parquetMetadata, parquetReadObjects, type Compressors } from "hyparquet";
import type { RawRow } from "./rows.js";

const CONVERT_FIX =
  "Fix: use the dataset's ScienceAgentBench.csv, or convert the file on a machine with pandas and pyarrow: " +
  `python3 -c "import pandas; pandas.read_parquet('IN.parquet').to_json('OUT.jsonl', orient='records', lines=True, force_ascii=False)"`;

/** Decompressors beyond hyparquet's own (uncompressed and snappy), taken from node:zlib. */
function zlibCompressors(): Compressors {
  const compressors: Compressors = {
    GZIP: (input) => zlib.gunzipSync(input),
    BROTLI: (input) => zlib.brotliDecompressSync(input),
  };
  // zstd is in node:zlib from Node 22.15 on; on older Nodes such a file gets the convert hint.
  const zstd = (zlib as { zstdDecompressSync?: (input: Uint8Array) => Uint8Array }).zstdDecompressSync;
  if (zstd) compressors.ZSTD = (input) => zstd(input);
  return compressors;
}

/** The column pandas' to_parquet adds for an index that is not 0..n-1: not a row field. */
const PANDAS_INDEX = /^__index_level_\d+__$/;

/**
 * A parquet cell as JSON would hold it: int64 columns (pyarrow writes `instance_id` as int64) come
 * back from hyparquet as bigint, which the row schema and JSON can not take.
 */
function plainCell(value: unknown): unknown {
  if (typeof value !== "bigint") return value;
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

/** The rows of a parquet file (row N is "row N"), or why the file can not be read. */
export async function readParquetRows(file: string): Promise<{ rows: RawRow[]; problems: string[] }> {
  const bytes = await readFile(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let objects: Record<string, unknown>[];
  try {
    parquetMetadata(buffer); // a file that is not parquet fails here, before any column is read
    objects = await parquetReadObjects({ file: buffer, compressors: zlibCompressors() });
  } catch (error) {
    return {
      rows: [],
      problems: [`${file} can not be read as parquet (${(error as Error).message}). ${CONVERT_FIX}`],
    };
  }
  return {
    rows: objects.map((object, index) => ({
      where: `row ${index + 1}`,
      value: Object.fromEntries(Object.entries(object).filter(([key]) => !PANDAS_INDEX.test(key)).map(([key, value]) => [key, plainCell(value)])),
    })),
    problems: [],
  };
}
