import { parentPort, workerData } from 'node:worker_threads';
import { heapReport } from '../core/thread-memory.js';

/*
 * The code of one pool worker (worker-pool.ts): load the module, build its batch function once,
 * then answer each batch with its result or the error's message (never the init, which may hold
 * secrets), and with this thread's heap as it stands after the batch (for memory_limiter).
 */
type BatchFn = (input: unknown) => unknown;

const { module, factory, init } = workerData as { module: string; factory: string; init: unknown };
const mod = (await import(module)) as Record<string, (init: unknown) => BatchFn | Promise<BatchFn>>;
if (typeof mod[factory] !== 'function') throw new Error(`${module} has no export ${factory}`);
const fn = await mod[factory](init);
const port = parentPort!;

port.on('message', async ({ id, input }: { id: number; input: unknown }) => {
  try {
    const result = await fn(input);
    // a result may name ArrayBuffers of its own to hand over instead of copying (`transfer`)
    const transfer = (result as { transfer?: unknown } | null)?.transfer;
    port.postMessage({ id, result, heap: heapReport() }, Array.isArray(transfer) ? (transfer as ArrayBuffer[]) : []);
  } catch (err) {
    port.postMessage({ id, error: err instanceof Error ? err.message : String(err), heap: heapReport() });
  }
});
port.postMessage({ ready: true, heap: heapReport() });
