/** One line of a file, with the byte offset just past its newline (where reading resumes). */
export interface Line {
  text: string;
  end: number;
  /** 1-based line number in the file. */
  number: number;
}

/** Lines longer than the limit are cut off and reported, never held whole. */
export interface OversizedLine {
  oversized: true;
  head: string;
  end: number;
  number: number;
}

/**
 * Splits a byte stream into lines. Bytes after the last newline are held back (`rest`) because a
 * writer may still be finishing that line.
 */
export class LineSplitter {
  private carry: Buffer[] = [];
  private carryLen = 0;
  private skipping = false;
  private skippedHead = '';
  private pos: number;
  private lineNo: number;

  constructor(startOffset: number, startLine: number, private readonly maxLine: number) {
    this.pos = startOffset;
    this.lineNo = startLine;
  }

  /** Feed a chunk; returns the complete lines it finished. */
  push(chunk: Buffer): (Line | OversizedLine)[] {
    const out: (Line | OversizedLine)[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      this.pos += nl - start + 1;
      this.lineNo++;
      if (this.skipping) {
        out.push({ oversized: true, head: this.skippedHead, end: this.pos, number: this.lineNo });
        this.skipping = false;
        this.skippedHead = '';
      } else if (this.carryLen + piece.length > this.maxLine) {
        out.push({ oversized: true, head: Buffer.concat([...this.carry, piece]).subarray(0, 1024).toString('utf8'), end: this.pos, number: this.lineNo });
      } else {
        const buf = this.carryLen ? Buffer.concat([...this.carry, piece]) : piece;
        out.push({ text: stripCR(buf.toString('utf8')), end: this.pos, number: this.lineNo });
      }
      this.carry = [];
      this.carryLen = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      const tail = chunk.subarray(start);
      this.pos += tail.length;
      if (this.skipping) return out;
      this.carry.push(Buffer.from(tail));
      this.carryLen += tail.length;
      if (this.carryLen > this.maxLine) {
        this.skipping = true;
        this.skippedHead = Buffer.concat(this.carry).subarray(0, 1024).toString('utf8');
        this.carry = [];
        this.carryLen = 0;
      }
    }
    return out;
  }

  /** Bytes after the last newline, as text, and where they end. */
  rest(): { text: string; end: number; number: number } | undefined {
    if (this.carryLen === 0) return undefined;
    return { text: stripCR(Buffer.concat(this.carry).toString('utf8')), end: this.pos, number: this.lineNo + 1 };
  }

  /** An over-long line still without its newline (at the end of a finished file, it is refused). */
  oversizedRest(): OversizedLine | undefined {
    if (!this.skipping) return undefined;
    return { oversized: true, head: this.skippedHead, end: this.pos, number: this.lineNo + 1 };
  }

  /** Offset of the first byte not yet part of a complete line. */
  get committedEnd(): number {
    return this.pos - this.carryLen;
  }
}

function stripCR(s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}
