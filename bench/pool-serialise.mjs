// What crossing a thread costs a batch of RRPairs (issue 13 round 5: the redaction worker pool).
// One direction, both ends (what the sender and the receiver pay), on one thread through a
// MessageChannel so no scheduling is measured: structured clone of the objects (postMessage),
// JSON text (one string a record, then parsed), a Buffer of JSON lines moved (transferred) and
// decoded. The pool sends JSON text (src/processors/redaction/index.ts).
//   node bench/pool-serialise.mjs [records=1000] [rounds=20]
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { sampleLines } from './lib.mjs';

const N = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 20);
const samples = sampleLines().map((l) => JSON.parse(l));
const batch = Array.from({ length: N }, (_, i) => structuredClone(samples[i % samples.length]));
const { port1, port2 } = new MessageChannel();
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const recv = () => receiveMessageOnPort(port2).message;

const variants = {
  'structured clone (postMessage of the objects)': () => recv(),
  'JSON text (a string a record)': () => recv().map((l) => JSON.parse(l)),
  'Buffer of JSON lines, transferred': () => Buffer.from(recv()).toString('utf8').split('\n').map((l) => JSON.parse(l)),
};
const senders = {
  'structured clone (postMessage of the objects)': () => port1.postMessage(batch),
  'JSON text (a string a record)': () => port1.postMessage(batch.map((r) => JSON.stringify(r))),
  'Buffer of JSON lines, transferred': () => {
    const b = Buffer.from(batch.map((r) => JSON.stringify(r)).join('\n'));
    const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
    port1.postMessage(ab, [ab]);
  },
};

for (const [name, receive] of Object.entries(variants)) {
  const send = senders[name];
  send(); receive(); // warm up
  const times = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = cpuMs();
    send();
    receive();
    times.push(cpuMs() - t);
  }
  times.sort((a, b) => a - b);
  const ms = times[times.length >> 1];
  console.log(JSON.stringify({ area: 'pool', case: `thread crossing, one way: ${name}`, records: N, cpu_seconds: ms / 1000, cpu_s_per_100k: (ms / 1000 / N) * 100_000, us_per_record: +((ms * 1000) / N).toFixed(1) }));
}
port1.close();
