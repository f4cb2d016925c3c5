import { availableParallelism } from "node:os";

/** The default number of tasks at once: one per CPU (each sandbox gets one CPU by default). */
export function defaultConcurrency(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Runs `work` over the items with at most `limit` at once, in order of the items. Stops taking
 * new items once the signal aborts; a rejected item rejects the whole call after the running
 * ones finish, so nothing is left half-done in the background.
 */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && !signal?.aborted) {
      const index = next++;
      if (index >= items.length) return;
      try {
        results[index] = await work(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  signal?.throwIfAborted();
  return results;
}
