import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { sandbox } from "./sandbox-fixture.js";
import { temporaryFolders } from "../temporary-folders.js";

const temporaryDirectory = temporaryFolders("dynabox-files-");

describe("files in and out", () => {
  it("copies files in, owned by the sandbox user, and reads them back", async () => {
    const box = await sandbox();
    await box.putFiles([
      { path: "data/input.csv", content: "a,b\n1,2\n" },
      { path: "run.sh", content: "#!/bin/sh\necho ran\n", mode: 0o755 },
    ]);
    // Python's stat rather than coreutils': gVisor (runsc 2022) answers coreutils' statx with EINVAL.
    const listing = await box.shell(
      "python3 -c \"import os, pwd; [print(pwd.getpwuid(os.stat(p).st_uid).pw_name, oct(os.stat(p).st_mode)[-3:], p) for p in ('data/input.csv', 'run.sh')]\" && ./run.sh",
    );
    expect(listing.stdout).toBe("sandbox 644 data/input.csv\nsandbox 755 run.sh\nran\n");
    const files = await box.readFiles();
    expect(files.get("data/input.csv")?.toString()).toBe("a,b\n1,2\n");
  });

  it("copies a host folder in and a sandbox folder out", async () => {
    const source = await temporaryDirectory();
    await mkdir(path.join(source, "nested"));
    await writeFile(path.join(source, "nested", "x.txt"), "x");
    const box = await sandbox();
    await box.putDirectory(source);
    await box.exec("import os\nos.makedirs('out', exist_ok=True)\nopen('out/y.txt', 'w').write(open('nested/x.txt').read() * 3)");
    const destination = await temporaryDirectory();
    const report = await box.copyOut("/workspace/out", destination);
    expect(report).toMatchObject({ files: 1, skipped: [] });
    expect(await readFile(path.join(destination, "y.txt"), "utf8")).toBe("xxx");
  });

  it("moves a workspace snapshot into a fresh sandbox", async () => {
    const first = await sandbox();
    await first.exec("import os\nos.makedirs('a/b')\nopen('a/b/c.txt', 'w').write('state')");
    const archive = await first.snapshot();
    const second = await sandbox();
    await second.restoreSnapshot(archive);
    expect((await second.exec("open('a/b/c.txt').read()")).value).toBe("'state'");
  });
});
