import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';
import { crc32, createInflateRaw, inflateRawSync } from 'node:zlib';
import { ReplayFileError } from './replay-error.js';

/**
 * Just enough of the ZIP format (APPNOTE 6.3) to read the archive's files: each zip holds one
 * CSV, stored or deflated, possibly ZIP64 (monthly trade files pass 4 GiB). The central directory
 * gives the entry's sizes and CRC even when the local header defers them to a data descriptor.
 * Inflating is node:zlib's; the CRC-32 and size of what comes out are checked.
 */
export interface ZipEntry {
  /** The zip as the user named it, and the CSV inside. */
  readonly zipName: string;
  readonly name: string;
  readonly method: 0 | 8;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly crc32: number;
  /** Where the entry's (compressed) data starts in the zip. */
  readonly dataOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const U32 = 0xffffffff;

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

function u64(buf: Buffer, at: number): number {
  const value = buf.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('ZIP64 size beyond 2^53');
  return Number(value);
}

/** The CSV entry of a Binance archive zip. */
export async function readZipEntry(path: string, zipName: string): Promise<ZipEntry> {
  const fail = (problem: string) => new ReplayFileError(zipName, null, problem);
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const tail = await readAt(fh, Math.max(0, size - 22 - 0xffff), Math.min(size, 22 + 0xffff));
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw fail('not a zip file (no end of central directory record)');
    let entries = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (entries === 0xffff || cdSize === U32 || cdOffset === U32) {
      const locatorAt = eocd - 20;
      if (locatorAt < 0 || tail.readUInt32LE(locatorAt) !== EOCD64_LOCATOR) {
        throw fail('ZIP64 archive without its end of central directory locator');
      }
      const record = await readAt(fh, u64(tail, locatorAt + 8), 56);
      if (record.length < 56 || record.readUInt32LE(0) !== EOCD64) {
        throw fail('ZIP64 end of central directory record not found');
      }
      entries = u64(record, 32);
      cdSize = u64(record, 40);
      cdOffset = u64(record, 48);
    }
    if (cdOffset + cdSize > size) throw fail('truncated zip file (central directory past the end)');
    const cd = await readAt(fh, cdOffset, cdSize);
    const found: Omit<ZipEntry, 'dataOffset'>[] = [];
    const localOffsets: number[] = [];
    let at = 0;
    for (let n = 0; n < entries; n++) {
      if (at + 46 > cd.length || cd.readUInt32LE(at) !== CENTRAL) throw fail('corrupt central directory');
      const flags = cd.readUInt16LE(at + 8);
      const method = cd.readUInt16LE(at + 10);
      const crc = cd.readUInt32LE(at + 16);
      let compressedSize = cd.readUInt32LE(at + 20);
      let uncompressedSize = cd.readUInt32LE(at + 24);
      const nameLength = cd.readUInt16LE(at + 28);
      const extraLength = cd.readUInt16LE(at + 30);
      const commentLength = cd.readUInt16LE(at + 32);
      let localOffset = cd.readUInt32LE(at + 42);
      const name = cd.toString('utf8', at + 46, at + 46 + nameLength);
      // ZIP64 extended information: the 8-byte values, in this order, for fields that overflowed.
      let extra = at + 46 + nameLength;
      const extraEnd = extra + extraLength;
      while (extra + 4 <= extraEnd) {
        const id = cd.readUInt16LE(extra);
        const length = cd.readUInt16LE(extra + 2);
        if (id === 0x0001) {
          let p = extra + 4;
          if (uncompressedSize === U32) {
            uncompressedSize = u64(cd, p);
            p += 8;
          }
          if (compressedSize === U32) {
            compressedSize = u64(cd, p);
            p += 8;
          }
          if (localOffset === U32) localOffset = u64(cd, p);
        }
        extra += 4 + length;
      }
      at = extraEnd + commentLength;
      if (name.endsWith('/')) continue;
      if (flags & 1) throw fail(`${name} is encrypted`);
      if (method !== 0 && method !== 8)
        throw fail(`${name} uses compression method ${method}; only stored and deflate are read`);
      found.push({ zipName, name, method, compressedSize, uncompressedSize, crc32: crc });
      localOffsets.push(localOffset);
    }
    const wanted = `${basename(zipName).replace(/\.zip$/, '')}.csv`;
    const index = found.length === 1 ? 0 : found.findIndex((e) => basename(e.name) === wanted);
    if (found.length === 0) throw fail('the zip is empty');
    if (index < 0) {
      throw fail(`the zip holds ${found.length} files and none is ${wanted}`);
    }
    const entry = found[index];
    const localOffset = localOffsets[index];
    if (!entry || localOffset === undefined) throw fail('corrupt central directory');
    const local = await readAt(fh, localOffset, 30);
    if (local.length < 30 || local.readUInt32LE(0) !== LOCAL)
      throw fail(`local header of ${entry.name} not found`);
    const dataOffset = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (dataOffset + entry.compressedSize > size) throw fail(`truncated zip file (${entry.name} is cut off)`);
    return { ...entry, dataOffset };
  } finally {
    await fh.close();
  }
}

function checkResult(entry: ZipEntry, bytes: number, crc: number): void {
  if (bytes !== entry.uncompressedSize || crc !== entry.crc32) {
    throw new ReplayFileError(
      `${entry.zipName} (${entry.name})`,
      null,
      `corrupt zip entry: ${bytes} bytes with CRC-32 ${crc.toString(16)}, expected ${entry.uncompressedSize} bytes with ${entry.crc32.toString(16)}`,
    );
  }
}

/** The whole CSV of a (small) zip entry, checked. */
export async function readZipEntryBuffer(path: string, entry: ZipEntry): Promise<Buffer> {
  const fh = await open(path, 'r');
  let raw: Buffer;
  try {
    raw = await readAt(fh, entry.dataOffset, entry.compressedSize);
  } finally {
    await fh.close();
  }
  let data: Buffer;
  try {
    data = entry.method === 0 ? raw : inflateRawSync(raw);
  } catch (err) {
    throw new ReplayFileError(
      `${entry.zipName} (${entry.name})`,
      null,
      `cannot inflate: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  checkResult(entry, data.length, crc32(data));
  return data;
}

/** The CSV of a zip entry as a stream of chunks, never held whole; checked at the end. */
export async function* zipEntryChunks(path: string, entry: ZipEntry): AsyncGenerator<Buffer> {
  if (entry.compressedSize === 0) {
    checkResult(entry, 0, 0);
    return;
  }
  const source = createReadStream(path, {
    start: entry.dataOffset,
    end: entry.dataOffset + entry.compressedSize - 1,
    highWaterMark: 256 * 1024,
  });
  let stream: AsyncIterable<Buffer> = source;
  if (entry.method === 8) {
    const inflater = createInflateRaw({ chunkSize: 256 * 1024 });
    source.on('error', (err) => inflater.destroy(err));
    source.pipe(inflater);
    stream = inflater;
  }
  let bytes = 0;
  let crc = 0;
  try {
    for await (const chunk of stream) {
      bytes += chunk.length;
      crc = crc32(chunk, crc);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof ReplayFileError) throw err;
    throw new ReplayFileError(
      `${entry.zipName} (${entry.name})`,
      null,
      `cannot inflate: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  } finally {
    source.destroy();
  }
  checkResult(entry, bytes, crc);
}
