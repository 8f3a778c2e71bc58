/**
 * The feed from an edge's front process to its WebSocket worker processes: records of
 * `(key, payload)` (for market data: the stream name and the rendered message), framed as
 * `u32 length | u16 key length | key | payload` (big-endian lengths, UTF-8 key). A tick's records
 * are encoded once into one Buffer that is written, as is, to every worker's pipe: one copy per
 * message per worker, made by the kernel.
 */

const HEADER = 6;
/** A key longer than this is a programming error, not data: stream names are short. */
const MAX_KEY_BYTES = 1024;

/** Collects one tick's records; `take()` returns them as one Buffer and starts again. */
export class FeedEncoder {
  private parts: Buffer[] = [];
  private bytes = 0;

  get pending(): number {
    return this.parts.length;
  }

  add(key: string, payload: string | Buffer): void {
    const keyBytes = Buffer.byteLength(key);
    if (keyBytes > MAX_KEY_BYTES) throw new RangeError(`feed key longer than ${MAX_KEY_BYTES} bytes`);
    const payloadBytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    const record = Buffer.allocUnsafe(HEADER + keyBytes + payloadBytes);
    record.writeUInt32BE(2 + keyBytes + payloadBytes, 0);
    record.writeUInt16BE(keyBytes, 4);
    record.write(key, HEADER, 'utf8');
    if (typeof payload === 'string') record.write(payload, HEADER + keyBytes, 'utf8');
    else payload.copy(record, HEADER + keyBytes);
    this.parts.push(record);
    this.bytes += record.length;
  }

  take(): Buffer {
    const out = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    return out;
  }
}

/**
 * Splits the feed's byte stream back into records, whatever the chunking. The payload handed to
 * `onRecord` is a view into the chunk: use or copy it before returning.
 */
export class FeedDecoder {
  private rest: Buffer | null = null;

  constructor(private readonly onRecord: (key: string, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32BE(at);
      if (buf.length - at - 4 < length) break;
      const keyBytes = buf.readUInt16BE(at + 4);
      if (keyBytes > MAX_KEY_BYTES || keyBytes + 2 > length) {
        throw new Error(
          `corrupt feed record at byte ${at}: key of ${keyBytes} bytes in a record of ${length}`,
        );
      }
      const key = buf.toString('utf8', at + HEADER, at + HEADER + keyBytes);
      this.onRecord(key, buf.subarray(at + HEADER + keyBytes, at + 4 + length));
      at += 4 + length;
    }
    if (at < buf.length) this.rest = Buffer.from(buf.subarray(at));
  }

  /** Bytes of an incomplete record held for the next chunk. */
  get held(): number {
    return this.rest?.length ?? 0;
  }
}
