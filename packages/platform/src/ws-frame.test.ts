import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { WsFrame } from './ws-frame.js';

// ws exports its frame encoder, but @types/ws does not declare it.
const { Sender } = ws as unknown as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] };
};

/** What `ws` itself puts on the wire for an unmasked frame (text unless `opcode` says otherwise). */
function wsFramed(payload: Buffer, opcode = 1): Buffer {
  return Buffer.concat(
    Sender.frame(payload, { fin: true, opcode, mask: false, readOnly: true, rsv1: false }),
  );
}

describe('WsFrame', () => {
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 200_000])(
    'frames a %i-byte text payload exactly as ws does',
    (size) => {
      const payload = Buffer.alloc(size, 'a');
      const frame = WsFrame.text(payload);
      expect(frame.bytes.equals(wsFramed(payload))).toBe(true);
      expect(frame.payloadBytes).toBe(size);
    },
  );

  it('encodes a string as UTF-8 once, multi-byte characters included', () => {
    const text = `{"s":"€${'x'.repeat(130)}"}`;
    const frame = WsFrame.text(text);
    expect(frame.bytes.equals(wsFramed(Buffer.from(text)))).toBe(true);
    expect(frame.payloadBytes).toBe(Buffer.byteLength(text));
  });

  it('frames an empty ping exactly as ws does', () => {
    const frame = WsFrame.ping();
    expect(frame.bytes.equals(wsFramed(Buffer.alloc(0), 9))).toBe(true);
    expect(frame.payloadBytes).toBe(0);
  });
});
