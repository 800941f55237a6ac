// `COPY … FROM STDIN (FORMAT binary)` on a pg client, and a writer for the binary row format.
// The ingest stages each batch this way instead of sending it as bind parameters: node-pg sends
// every parameter as text, so a batch used to travel as twelve escaped text arrays (bytea as
// base64) that Postgres then parsed element by element; in binary COPY a row is length-prefixed
// raw bytes — canonical bytes and hashes go over the wire exactly as they are stored.
// Format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
import type { PoolClient } from '@flow8/db';

/** The part of node-pg's connection a submittable sees (not in @types/pg). */
interface CopyConnection {
  query(text: string): void;
  /** The socket (TLS) under the protocol. */
  stream: { write(chunk: Buffer): boolean };
  endCopyFrom(): void;
}

const CHUNK_BYTES = 256 * 1024;

function copyDataHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(5);
  header[0] = 0x64; // 'd': CopyData
  header.writeInt32BE(length + 4, 1);
  return header;
}

/**
 * Runs `sql` (a `COPY … FROM STDIN`) on `client` and sends `data` as its input. Resolves with
 * the number of rows copied; rejects with the server's error (the transaction is then aborted).
 * The CopyData frames go straight to the socket, each a header plus a view of `data` — node-pg's
 * own sendCopyFromChunk would copy every chunk into a freshly allocated buffer first. So `data`
 * must stay untouched until the promise settles (once the server has answered, it has read it).
 */
export function copyFrom(client: PoolClient, sql: string, data: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    let rows = -1;
    let failed = false;
    // A "submittable": node-pg hands it the protocol messages of its query in order.
    const submittable = {
      submit(connection: CopyConnection) {
        connection.query(sql);
      },
      handleCopyInResponse(connection: CopyConnection) {
        for (let o = 0; o < data.length; o += CHUNK_BYTES) {
          const chunk = data.subarray(o, o + CHUNK_BYTES);
          connection.stream.write(copyDataHeader(chunk.length));
          connection.stream.write(chunk);
        }
        connection.endCopyFrom();
      },
      handleCommandComplete(msg: { text?: string }) {
        const m = /^COPY (\d+)$/.exec(msg.text ?? '');
        if (m?.[1]) rows = Number(m[1]);
      },
      handleError(err: Error) {
        failed = true;
        reject(err);
      },
      handleReadyForQuery() {
        if (!failed) resolve(rows);
      },
      handleEmptyQuery() {},
      handleRowDescription() {},
      handleDataRow() {},
      handleCopyData() {},
    };
    void client.query(submittable as unknown as Parameters<PoolClient['query']>[0]);
  });
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
