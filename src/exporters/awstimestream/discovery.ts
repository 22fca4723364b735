/**
 * Timestream's endpoint discovery for a configured endpoint. The SDK discovers the cell endpoint
 * itself only when it picks the regional endpoint; given an endpoint it skips discovery, yet
 * Timestream serves WriteRecords and Query only on the cell endpoints DescribeEndpoints names.
 * So with an endpoint rrpipe asks it DescribeEndpoints, sends the data calls to the address it
 * answers (same scheme) and asks again when the answer's CachePeriodInMinutes has passed.
 */
export class DiscoveredEndpoint<C extends { destroy(): void }> {
  private current?: { client: C; expires: number };
  private pending?: Promise<C>;
  private sdkDiscovered?: C;

  constructor(
    private readonly endpoint: string | undefined,
    private readonly make: (endpoint?: string) => C,
    private readonly describe: (client: C) => Promise<{ Endpoints?: { Address?: string; CachePeriodInMinutes?: number }[] }>,
  ) {}

  async client(): Promise<C> {
    if (!this.endpoint) return (this.sdkDiscovered ??= this.make());
    if (this.current && Date.now() < this.current.expires) return this.current.client;
    return (this.pending ??= this.discover().finally(() => (this.pending = undefined)));
  }

  private async discover(): Promise<C> {
    const base = this.make(this.endpoint);
    try {
      const res = await this.describe(base);
      const ep = res.Endpoints?.find((e) => e.Address);
      if (!ep?.Address) throw new Error(`timestream: DescribeEndpoints on ${this.endpoint} named no endpoint`);
      const scheme = new URL(this.endpoint!).protocol;
      this.current?.client.destroy();
      const client = this.make(`${scheme}//${ep.Address}`);
      this.current = { client, expires: Date.now() + Math.max(1, ep.CachePeriodInMinutes ?? 1) * 60_000 };
      return client;
    } finally {
      base.destroy();
    }
  }

  /** Ask again on the next call (the cell answered that it no longer serves this table). */
  forget(): void {
    if (this.current) this.current.expires = 0;
  }

  destroy(): void {
    this.current?.client.destroy();
    this.sdkDiscovered?.destroy();
  }
}
