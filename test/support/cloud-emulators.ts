import { existsSync } from 'node:fs';
import { freePort } from './net.js';
import { startProcess, stopProcess } from './servers.js';

/** The Google Cloud CLI's Firestore emulator (package google-cloud-cli-firestore-emulator; needs Java). */
export function firestoreEmulator(): string {
  const candidates = [
    process.env.FIRESTORE_EMULATOR_BIN,
    '/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator',
    '/usr/share/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator',
  ];
  return candidates.find((p): p is string => !!p && existsSync(p)) ?? 'cloud_firestore_emulator';
}

/** Start the Firestore emulator on 127.0.0.1 (it cannot listen on port 0 and tell the port: a free one is picked). */
export async function startFirestore(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const ws = await freePort();
    try {
      const child = await startProcess(firestoreEmulator(), ['start', '--host=127.0.0.1', `--port=${port}`, `--websocket_port=${ws}`], /Dev App Server is now running/, process.env, 60_000);
      return { endpoint: `127.0.0.1:${port}`, stop: () => stopProcess(child) };
    } catch (err) {
      if (attempt >= 2) throw err; // the port was taken between freePort and the bind: try another
    }
  }
}
