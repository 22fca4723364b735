// A batch module for test/processors/worker-pool.test.ts, loaded by the pool's workers.
import { existsSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

// What batches asked to keep (retainMb): it stays on this worker's heap until the worker stops.
const kept = [];

export function echo(init) {
  return (input) => {
    if (input.retainMb) kept.push(Array.from({ length: input.retainMb * 131072 }, (_, i) => i + 0.5));
    // Uneven batch costs: a batch busy for spinMs finishes after the ones sent behind it.
    if (input.spinMs) for (const end = Date.now() + input.spinMs; Date.now() < end;);
    // Crash once: the first worker to get this batch dies mid-batch; the marker file makes the retry pass.
    if (input.crashOnce && !existsSync(input.crashOnce)) {
      writeFileSync(input.crashOnce, '');
      process.exit(3);
    }
    if (input.fail) throw new Error(input.fail);
    // Items: a list answered item by item; one marked `poison` kills its worker every time.
    if (input.items) {
      if (input.items.some((it) => it.poison)) process.exit(4);
      return input.items.map((it) => ({ n: it.n, thread: threadId }));
    }
    return { id: input.id, tag: init.tag, thread: threadId };
  };
}

export function broken() {
  throw new Error('this batch module cannot start');
}
