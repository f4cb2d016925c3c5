// Values the docker project's global setup hands to the test files (read them with `inject`).
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** The sandbox image tag, built (or reused) once per test run by test/docker/global-setup.ts. */
    sandboxImage: string;
  }
}
