// RES-Q submissions files, as upstream's scripts/submit.py reads them (`json.load`: one JSON list
// of {"id", "patch"}), and as JSON Lines (one {"id", "patch"} a line). Pure: the file's text in,
// the entries and the problems of each bad entry out. A bad entry does not stop the others: eval
// grades the good ones and reports each bad one as that item's error.

import { UserError } from "../../errors.js";

export interface ResqSubmissionEntry {
  id: string;
  patch: string;
  /** "entry 3" (a JSON list, counted from 1) or "line 3" (JSONL), for messages. */
  where: string;
}

export interface ResqSubmissionProblem {
  where: string;
  /** The entry's id when it has one. */
  id: string | null;
  message: string;
}

export interface ParsedSubmissions {
  format: "json-list" | "jsonl";
  entries: ResqSubmissionEntry[];
  problems: ResqSubmissionProblem[];
}

const SHAPE_HINT = 'each submission is {"id": "<task id>", "patch": "<unified diff>"}';

/** Reads one entry (an object with a string id and a string patch; a numeric id is read as text). */
function readEntry(value: unknown, where: string): ResqSubmissionEntry | ResqSubmissionProblem {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { where, id: null, message: `${where}: expected an object, got ${Array.isArray(value) ? "a list" : JSON.stringify(value)}; ${SHAPE_HINT}` };
  }
  const record = value as Record<string, unknown>;
  const rawId = record.id;
  const id = typeof rawId === "string" ? rawId : typeof rawId === "number" ? String(rawId) : null;
  if (id === null || id === "") {
    return { where, id: null, message: `${where}: "id" must be a non-empty string, got ${rawId === undefined ? "nothing" : JSON.stringify(rawId)}; ${SHAPE_HINT}` };
  }
  if (typeof record.patch !== "string") {
    const got = record.patch === undefined ? "nothing (the field is missing)" : JSON.stringify(record.patch);
    return { where, id, message: `${where} (id ${JSON.stringify(id)}): "patch" must be a string (use "" for no change), got ${got}` };
  }
  return { id, patch: record.patch, where };
}

function isEntry(value: ResqSubmissionEntry | ResqSubmissionProblem): value is ResqSubmissionEntry {
  return "patch" in value;
}

/**
 * A file that is one JSON object but not one submission, such as `{"<task id>": "<patch>"}` or
 * `{"submissions": [...]}`. Upstream's submit.py iterates whatever json.load gives, so it stops on
 * such a file ("'str' object has no attribute 'get'"); read as JSON Lines it would only say that
 * line 1 has no "id". Say what the file is and the shape to give instead.
 */
function refuseWholeObject(body: string, file: string): void {
  let whole: unknown;
  try {
    whole = JSON.parse(body);
  } catch {
    return;
  }
  if (whole === null || typeof whole !== "object" || Array.isArray(whole)) return;
  const keys = Object.keys(whole);
  if (keys.includes("id") || keys.includes("patch")) return;
  const shown = keys.slice(0, 3).map((key) => JSON.stringify(key)).join(", ");
  throw new UserError(
    "DYNABOX_INVALID_INPUT",
    `${file} is one JSON object (keys ${shown || "none"}), not a list of submissions; upstream's scripts/submit.py reads a JSON list [{"id": "<task id>", "patch": "<unified diff>"}, ...] (dynabox also reads one such object a line). ` +
      `A mapping of task id to patch converts with: python3 -c 'import json,sys; print(json.dumps([{"id": k, "patch": v} for k, v in json.load(open(sys.argv[1])).items()]))' FILE > submissions.json`,
  );
}

/**
 * Parses a submissions file: a JSON list when its first non-blank character is "[", JSON Lines
 * otherwise. A file that is neither (no entry at all could be read) throws a UserError.
 */
export function parseResqSubmissions(text: string, file: string): ParsedSubmissions {
  const entries: ResqSubmissionEntry[] = [];
  const problems: ResqSubmissionProblem[] = [];
  const body = text.replace(/^\uFEFF/, "");
  if (body.trimStart().startsWith("[")) {
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch (error) {
      throw new UserError(
        "DYNABOX_INVALID_INPUT",
        `${file} starts like a JSON list but is not valid JSON (${(error as Error).message}); give a JSON list of {"id", "patch"} as upstream's submit.py reads, or one object a line (JSONL)`,
      );
    }
    (data as unknown[]).forEach((value, index) => {
      const read = readEntry(value, `entry ${index + 1}`);
      if (isEntry(read)) entries.push(read);
      else problems.push(read);
    });
    return { format: "json-list", entries, problems };
  }
  refuseWholeObject(body, file);
  let jsonLines = 0;
  body.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    const where = `line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push({ where, id: null, message: `${where}: not JSON; ${SHAPE_HINT}, one a line (or the whole file one JSON list)` });
      return;
    }
    jsonLines += 1;
    const read = readEntry(value, where);
    if (isEntry(read)) entries.push(read);
    else problems.push(read);
  });
  if (jsonLines === 0) {
    throw new UserError(
      "DYNABOX_INVALID_INPUT",
      problems.length === 0
        ? `${file} holds no submissions; ${SHAPE_HINT}, as a JSON list or one a line`
        : `${file} is neither a JSON list nor JSON Lines (${problems[0]!.message}); ${SHAPE_HINT}`,
    );
  }
  return { format: "jsonl", entries, problems };
}

/**
 * Matches entries to the dataset's ids: the first entry of each known id is graded; an unknown id
 * or a second entry for an id is a problem that names both places.
 */
export function matchSubmissions(
  parsed: ParsedSubmissions,
  knownIds: ReadonlySet<string>,
  datasetFile: string,
): { accepted: ResqSubmissionEntry[]; problems: ResqSubmissionProblem[] } {
  const accepted: ResqSubmissionEntry[] = [];
  const problems = [...parsed.problems];
  const firstPlace = new Map<string, string>();
  const examples = [...knownIds].slice(0, 3).map((id) => JSON.stringify(id)).join(", ");
  for (const entry of parsed.entries) {
    if (!knownIds.has(entry.id)) {
      problems.push({ where: entry.where, id: entry.id, message: `${entry.where}: id ${JSON.stringify(entry.id)} is not in ${datasetFile} (its ids look like ${examples || "nothing: it has no rows"})` });
      continue;
    }
    const first = firstPlace.get(entry.id);
    if (first !== undefined) {
      problems.push({ where: entry.where, id: entry.id, message: `${entry.where}: a second submission for id ${JSON.stringify(entry.id)} (the first is ${first}); only the first is graded` });
      continue;
    }
    firstPlace.set(entry.id, entry.where);
    accepted.push(entry);
  }
  return { accepted, problems };
}
