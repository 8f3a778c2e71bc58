/**
 * A minimal WebSocket client for load generation: a TCP socket, the upgrade, and a frame parser
 * that hands each text or binary payload over as a view into the received bytes (no copy, no
 * event per frame), answers pings, and honours close. It speaks only what a server sends
 * (unmasked, unfragmented frames) and is much cheaper per message than a full client, so that a
 * benchmark measures the server rather than its own clients.
 */
import { connect, type Socket } from 'node:net';

const EMPTY = Buffer.alloc(0);

export interface RawWsHandlers {
  readonly onOpen: () => void;
  readonly onMessage: (payload: Buffer) => void;
  readonly onClose: () => void;
  readonly onError: (err: Error) => void;
}

export class RawWsClient {
  private readonly socket: Socket;
  private pending: Buffer = EMPTY;
  private upgraded = false;
  private closed = false;

  constructor(
    url: string,
    private readonly handlers: RawWsHandlers,
  ) {
    const u = new URL(url);
    this.socket = connect({ host: u.hostname, port: Number(u.port) });
    this.socket.setNoDelay(true);
    this.socket.once('connect', () => {
      this.socket.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
          'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.once('error', (err) => handlers.onError(err));
    this.socket.once('close', () => {
      if (!this.closed) {
        this.closed = true;
        handlers.onClose();
      }
    });
  }

  /** Stops reading: the kernel's buffers fill, then the server sees a slow consumer. */
  pause(): void {
    this.socket.pause();
  }

  terminate(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    if (!this.upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        this.pending = buf;
        return;
      }
      if (!buf.toString('latin1', 0, 12).startsWith('HTTP/1.1 101')) {
        this.handlers.onError(
          new Error(`upgrade refused: ${buf.toString('latin1', 0, buf.indexOf('\r\n'))}`),
        );
        this.socket.destroy();
        return;
      }
      this.upgraded = true;
      this.handlers.onOpen();
      buf = buf.subarray(end + 4);
    }
    let at = 0;
    while (buf.length - at >= 2) {
      const b0 = buf[at] as number;
      let len = (buf[at + 1] as number) & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - at < 4) break;
        len = buf.readUInt16BE(at + 2);
        head = 4;
      } else if (len === 127) {
        if (buf.length - at < 10) break;
        len = Number(buf.readBigUInt64BE(at + 2));
        head = 10;
      }
      if (buf.length - at < head + len) break;
      const payload = buf.subarray(at + head, at + head + len);
      at += head + len;
      const opcode = b0 & 0x0f;
      if (opcode === 1 || opcode === 2) this.handlers.onMessage(payload);
      else if (opcode === 9) this.control(0x8a, payload);
      else if (opcode === 8) {
        this.control(0x88, payload.subarray(0, 2));
        this.socket.end();
      }
    }
    // Keep an incomplete frame's bytes; copy them so the large chunk they came in can be freed.
    this.pending = at < buf.length ? Buffer.from(buf.subarray(at)) : EMPTY;
  }

  /** A masked (zero key, so the payload is unchanged) control frame, as a client must send. */
  private control(b0: number, payload: Buffer): void {
    if (this.socket.destroyed) return;
    const frame = Buffer.alloc(6 + payload.length);
    frame[0] = b0;
    frame[1] = 0x80 | payload.length;
    payload.copy(frame, 6);
    this.socket.write(frame);
  }
}
