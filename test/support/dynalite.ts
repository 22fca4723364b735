import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/*
 * DynamoDB for tests: dynalite (npm, an implementation of the DynamoDB API on LevelDB, in memory)
 * on 127.0.0.1, and an HTTP proxy in front of it that records every call (X-Amz-Target and body)
 * and can answer as a throttled or unreachable DynamoDB would.
 */

export interface DynamoCall {
  target: string;
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

export interface Dynalite {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<Dynalite> {
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function dynamoError(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'proxy', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A recording, fault-injecting proxy in front of a DynamoDB endpoint. */
export class DynamoProxy {
  readonly calls: DynamoCall[] = [];
  /** Answer this many more BatchWriteItem calls with ProvisionedThroughputExceededException. */
  throttleWrites = 0;
  /** Forward only the first half of the next this-many BatchWriteItem calls; the rest come back as UnprocessedItems. */
  halfProcessWrites = 0;
  /** While true, every connection is cut before an answer (DynamoDB unreachable). */
  down = false;
  throttled = 0;
  unprocessed = 0;
  cut = 0;
  port = 0;
  private server!: Server;
  private sockets = new Set<Socket>();

  constructor(private readonly targetPort: number) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  targets(): string[] {
    return this.calls.map((c) => c.target);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const target = String(req.headers['x-amz-target'] ?? '').replace(/^DynamoDB_20120810\./, '');
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      /* forwarded as it is */
    }
    this.calls.push({ target, body, headers: req.headers });
    if (this.down) {
      this.cut++;
      req.socket.destroy();
      return;
    }
    if (target === 'BatchWriteItem' && this.throttleWrites > 0) {
      this.throttleWrites--;
      this.throttled++;
      dynamoError(res, 400, 'ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded.');
      return;
    }
    let forward = raw;
    let held: Record<string, unknown[]> | undefined;
    if (target === 'BatchWriteItem' && this.halfProcessWrites > 0) {
      const items = body.RequestItems as Record<string, unknown[]>;
      const [table, reqs] = Object.entries(items)[0]!;
      if (reqs.length > 1) {
        this.halfProcessWrites--;
        const keep = Math.ceil(reqs.length / 2);
        held = { [table]: reqs.slice(keep) };
        this.unprocessed += reqs.length - keep;
        forward = Buffer.from(JSON.stringify({ ...body, RequestItems: { [table]: reqs.slice(0, keep) } }));
      }
    }
    const headers = { ...req.headers, 'content-length': String(forward.length), host: `127.0.0.1:${this.targetPort}` };
    // dynalite checks the signature's shape, not its value: the changed body still passes.
    const up = request({ host: '127.0.0.1', port: this.targetPort, method: req.method, path: req.url, headers }, async (ur) => {
      const out: Buffer[] = [];
      for await (const c of ur) out.push(c as Buffer);
      let answer = Buffer.concat(out);
      if (held && ur.statusCode === 200) {
        const parsed = JSON.parse(answer.toString('utf8')) as Record<string, unknown>;
        parsed.UnprocessedItems = held;
        answer = Buffer.from(JSON.stringify(parsed));
      }
      const h: Record<string, string | string[] | undefined> = { ...ur.headers, 'content-length': String(answer.length) };
      delete h['x-amz-crc32'];
      res.writeHead(ur.statusCode ?? 500, h);
      res.end(answer);
    });
    up.on('error', () => req.socket.destroy());
    up.end(forward);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
