// The flags that let an MLAgentBench prepare.py (benchmark code, never agent code) reach what
// upstream's Kaggle tasks need: a network, an answer to their consent input(), and the user's
// Kaggle credentials, handed to that one container only when asked for.

import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { UserError } from "../../errors.js";
import type { MlabFamilyOptions } from "./grader.js";

export const mlabPrepareFlagsSchema = z.object({
  prepareNetwork: z.boolean().default(false),
  prepareConsent: z.boolean().default(false),
  kaggleCredentials: z.boolean().default(false),
});
export type MlabPrepareFlags = z.infer<typeof mlabPrepareFlagsSchema>;

export function addMlabPrepareOptions(command: Command): Command {
  return command
    .option("--prepare-network", "mlab: let scripts/prepare.py (benchmark code) use a network to download its data; grading and agents stay offline")
    .option("--prepare-consent", "mlab: answer prepare.py's input() prompts (upstream's Kaggle consent) with an empty line")
    .option("--kaggle-credentials", "mlab: give prepare.py KAGGLE_USERNAME/KAGGLE_KEY (from the environment or ~/.kaggle/kaggle.json); needs --prepare-network");
}

const kaggleFileSchema = z.object({ username: z.string().min(1), key: z.string().min(1) });

/** The user's Kaggle credentials: KAGGLE_USERNAME and KAGGLE_KEY, else kaggle.json (as the kaggle CLI reads them). */
export async function readKaggleCredentials(environment: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  if (environment.KAGGLE_USERNAME && environment.KAGGLE_KEY) {
    return { KAGGLE_USERNAME: environment.KAGGLE_USERNAME, KAGGLE_KEY: environment.KAGGLE_KEY };
  }
  const file = path.join(environment.KAGGLE_CONFIG_DIR || path.join(homedir(), ".kaggle"), "kaggle.json");
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new UserError(
      "DYNABOX_USAGE",
      `--kaggle-credentials found no credentials: set KAGGLE_USERNAME and KAGGLE_KEY, or put kaggle.json in ${path.dirname(file)} (${(error as Error).message})`,
    );
  }
  const parsed = kaggleFileSchema.safeParse(raw);
  if (!parsed.success) throw new UserError("DYNABOX_USAGE", `--kaggle-credentials: ${file} must hold {"username": ..., "key": ...}`);
  return { KAGGLE_USERNAME: parsed.data.username, KAGGLE_KEY: parsed.data.key };
}

/** The mlab family's settings from the flags; warnings go to stderr. */
export async function mlabFamilyOptions(flags: MlabPrepareFlags, onWarning: (message: string) => void): Promise<MlabFamilyOptions> {
  if (flags.kaggleCredentials && !flags.prepareNetwork) {
    throw new UserError("DYNABOX_USAGE", "--kaggle-credentials needs --prepare-network: without a network prepare.py can not reach Kaggle");
  }
  return {
    prepare: {
      network: flags.prepareNetwork,
      consent: flags.prepareConsent,
      ...(flags.kaggleCredentials ? { credentials: await readKaggleCredentials() } : {}),
    },
    onWarning,
  };
}
