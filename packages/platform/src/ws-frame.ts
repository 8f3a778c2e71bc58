/**
 * A WebSocket message framed once for every recipient. Frames a server sends are not masked
 * (RFC 6455 §5.1), so the bytes on the wire do not depend on the client: one Buffer holding the
 * header and the payload is written as is to every socket that is owed it.
 */
export class WsFrame {
  /**
   * @internal Connections holding this frame (queued or not yet taken by the kernel): the frame's
   * bytes count once toward the fan-out's memory while any holds it.
   */
  holders = 0;

  private constructor(
    /** Header and payload, ready for `socket.write`. */
    readonly bytes: Buffer,
    /** The payload's length (what the metrics count as bytes out). */
    readonly payloadBytes: number,
  ) {}

  /** An empty ping (opcode 9): a heartbeat queued behind a connection's data frames. */
  static ping(): WsFrame {
    return new WsFrame(Buffer.from([0x89, 0x00]), 0);
  }

  /** A final, unfragmented text frame (opcode 1) of `data`, encoded as UTF-8 once. */
  static text(data: string | Buffer): WsFrame {
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    const head = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    const bytes = Buffer.allocUnsafe(head + length);
    bytes[0] = 0x81; // FIN, text
    if (head === 2) bytes[1] = length;
    else if (head === 4) {
      bytes[1] = 126;
      bytes.writeUInt16BE(length, 2);
    } else {
      bytes[1] = 127;
      bytes.writeBigUInt64BE(BigInt(length), 2);
    }
    if (typeof data === 'string') bytes.write(data, head, 'utf8');
    else data.copy(bytes, head);
    return new WsFrame(bytes, length);
  }
}
