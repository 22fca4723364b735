export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fn` until it returns something truthy, and returns that; throws after `timeoutMs`
 * with `what` and the last value. The timeout only bounds a hang: no test asserts on how long it took.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    if (Date.now() >= deadline) break;
    await sleep(opts.intervalMs ?? 50);
  }
  throw new Error(`timed out after ${opts.timeoutMs ?? 20_000}ms waiting for ${opts.what ?? 'condition'} (last: ${JSON.stringify(last)})`);
}
