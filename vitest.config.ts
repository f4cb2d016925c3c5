import { defineConfig } from "vitest/config";

// Two projects: fast unit tests of pure code, and suites that drive a real Docker engine.
// Both run under `npm test`; with CI=true a missing engine fails the docker suites.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "docker",
          include: ["test/docker/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 900_000,
          // One file at a time: the machines have two cores and the suites start many containers.
          fileParallelism: false,
          globalSetup: ["test/docker/global-setup.ts"],
        },
      },
    ],
  },
});
