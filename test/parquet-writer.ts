// Parquet files for tests, written by an implementation independent of the reader under test:
// parquet-wasm is the Rust `parquet` crate (arrow-rs) built to WebAssembly, where dynabox reads with
// hyparquet (JavaScript). Columns are typed as the ScienceAgentBench dataset card types them:
// instance_id int64, every other field a nullable UTF-8 string.

import { Int64, Table, Utf8, tableToIPC, vectorFromArray, type Vector } from "apache-arrow";
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from "parquet-wasm/node";

export type ParquetCompression = "uncompressed" | "snappy" | "gzip" | "brotli" | "lz4_raw";

const CODECS: Record<ParquetCompression, Compression> = {
  uncompressed: Compression.UNCOMPRESSED,
  snappy: Compression.SNAPPY,
  gzip: Compression.GZIP,
  brotli: Compression.BROTLI,
  lz4_raw: Compression.LZ4_RAW,
};

/** The bytes of a parquet file holding `rows`, with one column per name in `columns`. */
export function parquetBytes(
  rows: Array<Record<string, unknown>>,
  columns: readonly string[],
  compression: ParquetCompression,
): Uint8Array {
  const vectors: Record<string, Vector> = {};
  for (const column of columns) {
    const cells = rows.map((row) => row[column]);
    vectors[column] =
      column === "instance_id"
        ? vectorFromArray(cells.map((cell) => (cell === null || cell === undefined ? null : BigInt(cell as string | number))), new Int64())
        : vectorFromArray(cells.map((cell) => (cell === null || cell === undefined ? null : String(cell))), new Utf8());
  }
  const table = new Table(vectors);
  const properties = new WriterPropertiesBuilder().setCompression(CODECS[compression]).build();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(table, "stream")), properties);
}
