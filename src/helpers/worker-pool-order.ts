/**
 * Keeps a pipeline's order across a worker pool: each batch takes a sequence number when it is
 * submitted, and its result is delivered (to the next consumer) only after every earlier batch's
 * result was delivered or its work failed. Deliveries are started in order but not awaited one
 * after another, as inline processing does not either. The caller's promise settles with its own
 * delivery, so it resolves only once the next consumer accepted that batch.
 */
export class InOrder {
  private submitted = 0;
  private delivered = 0;
  private readonly waiting = new Map<number, () => void>();

  async run<R>(work: Promise<R>, deliver: (result: R) => Promise<void>): Promise<void> {
    const seq = this.submitted++;
    let result: R;
    try {
      result = await work;
    } catch (err) {
      this.settle(seq, () => {});
      throw err;
    }
    return new Promise<void>((resolve, reject) => {
      this.settle(seq, () => {
        try {
          deliver(result).then(resolve, reject);
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  private settle(seq: number, go: () => void): void {
    this.waiting.set(seq, go);
    for (let next = this.waiting.get(this.delivered); next; next = this.waiting.get(this.delivered)) {
      this.waiting.delete(this.delivered++);
      next();
    }
  }
}
