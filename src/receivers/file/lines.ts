import { isUtf8 } from 'node:buffer';

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
  /** The first KiB of the line, all that is kept of it. */
  head: string;
  /** The line's length in bytes, without its newline. */
  bytes: number;
  end: number;
  number: number;
}

/** A line whose bytes are not valid UTF-8: refused, never decoded with U+FFFD in place of its bad bytes unnoticed. */
export interface InvalidUtf8Line {
  invalidUtf8: true;
  /** The line decoded with U+FFFD for its bad bytes (what a dead letter can keep of it). */
  text: string;
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
  /** Offset of the first byte of the line being read. */
  private lineStart: number;

  constructor(startOffset: number, startLine: number, private readonly maxLine: number) {
    this.pos = startOffset;
    this.lineNo = startLine;
    this.lineStart = startOffset;
  }

  /**
   * Feed a chunk; returns the complete lines it finished. Every line is checked to be UTF-8: the
   * lines that lie wholly in the chunk with one isUtf8 over them all (each alone only when that
   * fails), a line begun in an earlier chunk on its own.
   */
  push(chunk: Buffer): (Line | OversizedLine | InvalidUtf8Line)[] {
    const out: (Line | OversizedLine | InvalidUtf8Line)[] = [];
    let start = 0;
    let nl = chunk.indexOf(10);
    // Newlines never sit inside a UTF-8 sequence: the bytes up to the last one are valid iff each line is.
    const from = nl >= 0 && (this.carryLen > 0 || this.skipping) ? nl + 1 : 0;
    const last = nl >= 0 ? chunk.lastIndexOf(10) : -1;
    const allValid = from >= last || isUtf8(chunk.subarray(from, last));
    for (; nl >= 0; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      this.pos += nl - start + 1;
      this.lineNo++;
      if (this.skipping) {
        out.push({ oversized: true, head: this.skippedHead, bytes: this.pos - 1 - this.lineStart, end: this.pos, number: this.lineNo });
        this.skipping = false;
        this.skippedHead = '';
      } else if (this.carryLen + piece.length > this.maxLine) {
        out.push({ oversized: true, head: Buffer.concat([...this.carry, piece]).subarray(0, 1024).toString('utf8'), bytes: this.pos - 1 - this.lineStart, end: this.pos, number: this.lineNo });
      } else if (this.carryLen) {
        out.push(lineOf(Buffer.concat([...this.carry, piece]), false, this.pos, this.lineNo));
      } else {
        out.push(lineOf(piece, allValid, this.pos, this.lineNo));
      }
      this.carry = [];
      this.carryLen = 0;
      start = nl + 1;
      this.lineStart = this.pos;
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

  /** Bytes after the last newline, as a line, and where they end. */
  rest(): Line | InvalidUtf8Line | undefined {
    if (this.carryLen === 0) return undefined;
    return lineOf(Buffer.concat(this.carry), false, this.pos, this.lineNo + 1);
  }

  /** An over-long line still without its newline (at the end of a finished file, it is refused). */
  oversizedRest(): OversizedLine | undefined {
    if (!this.skipping) return undefined;
    return { oversized: true, head: this.skippedHead, bytes: this.pos - this.lineStart, end: this.pos, number: this.lineNo + 1 };
  }

  /** Offset of the first byte not yet part of a complete line. */
  get committedEnd(): number {
    return this.pos - this.carryLen;
  }
}

/** The line of these bytes; `valid` when they are known to be UTF-8 already. */
function lineOf(buf: Buffer, valid: boolean, end: number, number: number): Line | InvalidUtf8Line {
  const text = stripCR(buf.toString('utf8'));
  return valid || isUtf8(buf) ? { text, end, number } : { invalidUtf8: true, text, end, number };
}

function stripCR(s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}
