// `COPY … FROM STDIN (FORMAT binary)` on a pg client, and a writer for the binary row format.
// The ingest stages each batch this way instead of sending it as bind parameters: node-pg sends
// every parameter as text, so a batch used to travel as twelve escaped text arrays (bytea as
// base64) that Postgres then parsed element by element; in binary COPY a row is length-prefixed
// raw bytes — canonical bytes and hashes go over the wire exactly as they are stored.
// Format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFromStdin } from 'pg-copy-streams';
import type { PoolClient } from '@flow8/db';

const CHUNK_BYTES = 256 * 1024;

function* chunksOf(data: Buffer): Generator<Buffer> {
  for (let o = 0; o < data.length; o += CHUNK_BYTES) yield data.subarray(o, o + CHUNK_BYTES);
}

/**
 * Runs `sql` (a `COPY … FROM STDIN`) on `client` and sends `data` as its input, through
 * pg-copy-streams (node-pg's own COPY support is a private protocol API). Resolves with the number
 * of rows copied; rejects with the server's error (the transaction is then aborted). Each CopyData
 * frame carries a view of `data`, not a copy, so `data` must stay untouched until the promise
 * settles (once the server has answered, it has read it).
 */
export async function copyFrom(client: PoolClient, sql: string, data: Buffer): Promise<number> {
  const stream = client.query(copyFromStdin(sql));
  await pipeline(Readable.from(chunksOf(data), { objectMode: false }), stream);
  return stream.rowCount;
}

// Buffers of finished COPYs, reused: on this kind of VM the first write to fresh memory costs
// about 4 ms per MiB (page faults), more than encoding the rows into it. A few batches run at
// once (one per partition), so a few buffers are kept; the largest are not.
const SPARE_BUFFERS = 4;
const SPARE_MAX_BYTES = 32 * 1024 * 1024;
const spare: Buffer[] = [];

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Builds binary COPY input row by row into one growing buffer: no intermediate strings, and
 * only the bytes that travel. Each row must write exactly the fields the target columns expect,
 * in order (the server refuses a row with the wrong field count or a malformed value).
 */
export class BinaryCopyWriter {
  private buf: Buffer;
  private at = 0;
  rows = 0;

  constructor(expectedBytes = 64 * 1024) {
    const want = Math.max(expectedBytes, 1024) + SIGNATURE.length + 10;
    // The largest spare buffer: growing one later costs a copy and fresh memory.
    spare.sort((a, b) => a.length - b.length);
    this.buf = spare.pop() ?? Buffer.allocUnsafe(want);
    this.at = SIGNATURE.copy(this.buf, 0);
    this.buf.writeInt32BE(0, this.at); // flags: no OIDs
    this.buf.writeInt32BE(0, this.at + 4); // no header extension
    this.at += 8;
  }

  private ensure(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  row(fields: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(fields, this.at);
    this.at += 2;
    this.rows += 1;
    return this;
  }

  /** A text value: its UTF-8 bytes (the server checks the encoding). */
  text(s: string): this {
    // At most 3 UTF-8 bytes per UTF-16 code unit.
    this.ensure(4 + s.length * 3);
    const n = this.buf.write(s, this.at + 4, 'utf8');
    this.buf.writeInt32BE(n, this.at);
    this.at += 4 + n;
    return this;
  }

  /** A bytea value: the bytes themselves. */
  bytes(b: Uint8Array): this {
    this.ensure(4 + b.byteLength);
    this.buf.writeInt32BE(b.byteLength, this.at);
    this.buf.set(b, this.at + 4);
    this.at += 4 + b.byteLength;
    return this;
  }

  /** A bigint (int8) value. */
  int8(n: number): this {
    if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${n} is not a safe integer`);
    this.ensure(12);
    this.buf.writeInt32BE(8, this.at);
    this.buf.writeBigInt64BE(BigInt(n), this.at + 4);
    this.at += 12;
    return this;
  }

  /** A uuid value from its text form (16 bytes on the wire). */
  uuid(s: string): this {
    if (!UUID_RE.test(s)) throw new RangeError(`not a UUID: ${JSON.stringify(s.slice(0, 40))}`);
    this.ensure(20);
    this.buf.writeInt32BE(16, this.at);
    this.buf.write(s.replace(/-/g, ''), this.at + 4, 'hex');
    this.at += 20;
    return this;
  }

  /** The whole COPY input, trailer included (a view of the writer's buffer). */
  finish(): Buffer {
    this.ensure(2);
    this.buf.writeInt16BE(-1, this.at);
    this.at += 2;
    return this.buf.subarray(0, this.at);
  }

  /**
   * Hands the buffer back for the next batch. Only once the COPY that sent it has completed:
   * until then the socket may still be reading from it. Bytes past `finish()`'s view are never
   * sent, so what a reused buffer held before cannot leak into another COPY.
   */
  release(): void {
    if (spare.length < SPARE_BUFFERS && this.buf.length <= SPARE_MAX_BYTES) spare.push(this.buf);
    this.buf = Buffer.alloc(0);
  }
}
