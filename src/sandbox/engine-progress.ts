// The engine's progress streams (pull, push, build) end with success even when a line in them
// reported a failure, so every caller must read them to the end and look at each line. This is
// that reading, in one place: each event goes to the caller, and the last failure is returned.

import type Dockerode from "dockerode";

export interface ProgressEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Reads a progress stream to its end. Resolves with the text of the last error line, or
 * undefined when there was none; rejects when the stream itself fails (an abort, a lost engine).
 */
export async function followEngineProgress(
  docker: Dockerode,
  stream: NodeJS.ReadableStream,
  onEvent?: (event: ProgressEvent, failure: string | undefined) => void,
): Promise<string | undefined> {
  let failure: string | undefined;
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null) => (error ? reject(error) : resolve()),
      (event: ProgressEvent) => {
        const failed = event.error !== undefined || event.errorDetail !== undefined;
        if (failed) failure = event.errorDetail?.message ?? event.error ?? "unknown error";
        onEvent?.(event, failed ? failure : undefined);
      },
    );
  });
  return failure;
}
