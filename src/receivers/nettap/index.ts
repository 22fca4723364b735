import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { Component, Consumer, CreateSettings, FiniteReceiver, Host, ReceiverFactory } from '../../core/component.js';
import { schema, type NettapConfig } from './config.js';
import { CertAuthority, defaultCaDir, ensureCa } from './proxy/ca.js';
import { CaptureProxy } from './proxy/server.js';
import { splitHostPort } from '../../helpers/net.js';
import type { Target } from './proxy/types.js';
import { PcapCapture } from './pcap/capture.js';
import { buildHttpPair, resolveIdentity, toRecord, type Identity } from './rrpair.js';
import { CaptureSink } from './sink.js';
import type { RRPair } from '../../rrpair/types.js';

export type { NettapConfig } from './config.js';

function parseUpstream(s: string): Target {
  const u = new URL(/^[a-z]+:\/\//i.test(s) ? s : `http://${s}`);
  const tls = u.protocol === 'https:';
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || (tls ? 443 : 80), tls };
}

abstract class NettapBase {
  protected readonly sink: CaptureSink;
  protected readonly id: Identity;
  private readonly counter;

  constructor(protected readonly s: CreateSettings<NettapConfig>, next: Consumer) {
    const c = s.config;
    this.sink = new CaptureSink(next, s.metrics, { maxRecords: c.buffer.max_records, batchSize: c.buffer.batch_size, maxInFlight: c.buffer.max_in_flight, receiver: s.id });
    this.id = resolveIdentity(c);
    this.counter = s.metrics.counter('nettap_events', 'nettap events that did not become records (bad input, capture errors), by reason.', ['reason']);
  }

  /** Count a non-fatal problem (bad input, parse skip). */
  readonly count = (reason: string, n = 1): void => {
    this.counter.inc({ reason }, n);
  };

  protected emit(rr: RRPair): void {
    this.sink.push(toRecord(rr, this.id));
  }

  /** Captures dropped because the pipeline could not keep up. */
  get dropped(): number {
    return this.sink.dropped;
  }
}

/** The capturing proxy: inbound reverse proxy and/or outbound forward proxy. */
export class NettapProxyReceiver extends NettapBase implements Component {
  readonly proxies: { direction: 'IN' | 'OUT'; proxy: CaptureProxy }[] = [];
  caCertFile?: string;

  async start(_host: Host): Promise<void> {
    const c = this.s.config;
    const p = c.proxy;
    if (!p.inbound && !p.outbound) throw new Error('nettap proxy mode needs proxy.inbound and/or proxy.outbound');
    const upstreamCa = p.upstream_tls.ca_file ? readFileSync(resolvePath(this.s.configDir, p.upstream_tls.ca_file), 'utf8') : undefined;
    let ca: CertAuthority | undefined;
    const needCa = (p.outbound && p.outbound.intercept_tls) || (p.inbound && parseUpstream(p.inbound.upstream).tls);
    if (needCa) {
      const dir = p.ca_dir ? resolvePath(this.s.configDir, p.ca_dir) : defaultCaDir();
      const paths = ensureCa(dir);
      this.caCertFile = paths.certFile;
      ca = new CertAuthority(paths);
      if (paths.created) this.s.logger.info({ ca: paths.certFile }, 'nettap: created the interception CA; add it to the application trust store');
    }
    const common = (direction: 'IN' | 'OUT', proxyType: string) => ({
      direction,
      interceptTls: p.outbound?.intercept_tls ?? false,
      noIntercept: p.outbound?.no_intercept ?? [],
      ...(ca ? { ca } : {}),
      upstreamRejectUnauthorized: !p.upstream_tls.insecure_skip_verify,
      ...(upstreamCa ? { upstreamCa } : {}),
      maxBody: c.max_body_size,
      tags: { captureMode: 'proxy', proxyLocation: direction === 'IN' ? 'in' : 'out', proxyType, source: 'rrpipe-nettap' },
      logger: this.s.logger,
      onCapture: (cap: Parameters<typeof buildHttpPair>[0]) => this.emit(buildHttpPair(cap, this.id)),
      onTunnel: (rr: RRPair) => this.emit({ ...rr, cluster: this.id.cluster, namespace: this.id.namespace, service: this.id.service }),
      count: (reason: string) => this.count(reason),
    });
    if (p.inbound) {
      const proxy = new CaptureProxy({ ...common('IN', 'reverse'), upstream: parseUpstream(p.inbound.upstream) });
      const l = splitHostPort(p.inbound.listen, 0);
      await proxy.listen(l.host, l.port);
      this.proxies.push({ direction: 'IN', proxy });
      this.s.logger.info({ listen: proxy.address(), upstream: p.inbound.upstream }, 'nettap: inbound proxy listening');
    }
    if (p.outbound) {
      const proxy = new CaptureProxy(common('OUT', 'forward'));
      const l = splitHostPort(p.outbound.listen, 0);
      await proxy.listen(l.host, l.port);
      this.proxies.push({ direction: 'OUT', proxy });
      this.s.logger.info({ listen: proxy.address() }, 'nettap: outbound proxy listening');
    }
  }

  /** The bound port of the inbound or outbound listener (tests listen on port 0). */
  port(direction: 'IN' | 'OUT'): number {
    const p = this.proxies.find((x) => x.direction === direction);
    if (!p) throw new Error(`no ${direction} proxy`);
    return p.proxy.address().port;
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    await Promise.all(this.proxies.map((p) => p.proxy.close()));
    await this.sink.close(deadline);
  }
}

/** Passive capture from a pcap/pcapng file (finite) or a live interface. */
export class NettapPcapReceiver extends NettapBase implements FiniteReceiver {
  private capture?: PcapCapture;
  private finished!: Promise<void>;

  async start(_host: Host): Promise<void> {
    const c = this.s.config.pcap;
    this.capture = new PcapCapture(
      { ...c, maxBody: this.s.config.max_body_size, tags: { captureMode: 'pcap', proxyType: 'pcap', source: 'rrpipe-nettap' } },
      this.id,
      (rr) => this.emit(rr),
      (reason, n) => this.count(reason, n),
      this.s.logger,
    );
    if (c.file) {
      this.finished = this.capture.readFile(resolvePath(this.s.configDir, c.file)).then(() => this.sink.idle());
      this.finished.catch(() => {});
    } else if (c.interface) {
      const { ended } = await this.capture.startLive(c.interface);
      this.finished = ended.then(() => this.sink.idle());
      this.finished.catch(() => {});
    } else throw new Error('nettap pcap mode needs pcap.file or pcap.interface');
  }

  done(): Promise<void> {
    return this.finished;
  }

  /** The live capture is ready (tcpdump has opened the interface). */
  get live(): PcapCapture | undefined {
    return this.capture;
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    await this.capture?.stop();
    await this.sink.close(deadline);
  }
}

export const factory: ReceiverFactory<NettapConfig> = {
  kind: 'receiver',
  type: 'nettap',
  stability: 'alpha',
  description: 'Captures application traffic as RRPairs: a recording proxy (inbound/outbound, TLS interception, HTTP/1.1, HTTP/2, gRPC) or passive pcap capture (HTTP/1.x, Postgres).',
  schema,
  validate(c) {
    const problems = [];
    if (c.mode === 'proxy' && !c.proxy.inbound && !c.proxy.outbound) problems.push({ path: ['proxy'], message: 'proxy mode needs proxy.inbound and/or proxy.outbound' });
    if (c.mode === 'pcap' && !c.pcap.file && !c.pcap.interface) problems.push({ path: ['pcap'], message: 'pcap mode needs pcap.file or pcap.interface' });
    if (c.proxy.inbound) {
      try {
        parseUpstream(c.proxy.inbound.upstream);
      } catch {
        problems.push({ path: ['proxy', 'inbound', 'upstream'], message: `not a URL: ${c.proxy.inbound.upstream}` });
      }
    }
    return problems;
  },
  create(s, next) {
    return s.config.mode === 'pcap' ? new NettapPcapReceiver(s, next) : new NettapProxyReceiver(s, next);
  },
};
