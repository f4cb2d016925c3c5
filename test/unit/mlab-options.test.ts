// The mlab prepare flags: Kaggle credentials as the kaggle CLI finds them, and flag combinations.

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { mlabFamilyOptions, readKaggleCredentials } from "../../src/families/mlab/options.js";
import { UserError } from "../../src/errors.js";
import { temporaryFolders } from "../temporary-folders.js";

const scratch = temporaryFolders("dynabox-mlab-options-");

describe("mlab prepare flags", () => {
  it("reads KAGGLE_USERNAME/KAGGLE_KEY first, then kaggle.json in KAGGLE_CONFIG_DIR", async () => {
    const folder = await scratch();
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, "kaggle.json"), JSON.stringify({ username: "file-user", key: "file-key" }));
    expect(await readKaggleCredentials({ KAGGLE_USERNAME: "env-user", KAGGLE_KEY: "env-key", KAGGLE_CONFIG_DIR: folder })).toEqual({
      KAGGLE_USERNAME: "env-user",
      KAGGLE_KEY: "env-key",
    });
    expect(await readKaggleCredentials({ KAGGLE_CONFIG_DIR: folder })).toEqual({ KAGGLE_USERNAME: "file-user", KAGGLE_KEY: "file-key" });
    const missing = await readKaggleCredentials({ KAGGLE_CONFIG_DIR: path.join(folder, "none") }).catch((error: unknown) => error);
    expect(UserError.isInstance(missing) && missing.message).toContain("set KAGGLE_USERNAME and KAGGLE_KEY, or put kaggle.json in");
    await writeFile(path.join(folder, "kaggle.json"), JSON.stringify({ username: "x" }));
    const malformed = await readKaggleCredentials({ KAGGLE_CONFIG_DIR: folder }).catch((error: unknown) => error);
    expect(UserError.isInstance(malformed) && malformed.message).toContain('must hold {"username": ..., "key": ...}');
  });

  it("refuses credentials without a network, and gives neither by default", async () => {
    const refused = await mlabFamilyOptions({ prepareNetwork: false, prepareConsent: false, kaggleCredentials: true }, () => {}).catch((error: unknown) => error);
    expect(UserError.isInstance(refused) && refused.code).toBe("DYNABOX_USAGE");
    const plain = await mlabFamilyOptions({ prepareNetwork: false, prepareConsent: false, kaggleCredentials: false }, () => {});
    expect(plain.prepare).toEqual({ network: false, consent: false });
  });
});
