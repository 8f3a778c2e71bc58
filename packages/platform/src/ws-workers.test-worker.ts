/**
 * A WebSocket worker for the pool's own tests: relays every feed record's payload to every client;
 * a record keyed `block` stops the worker for that many milliseconds (a worker that falls behind).
 */
import { pino } from 'pino';
import { WsFanout } from './ws-fanout.js';
import { runWsWorker } from './ws-worker-runtime.js';

runWsWorker(() => {
  const fanout = new WsFanout<null>({ logger: pino({ level: 'silent' }), heartbeatIntervalMs: 0 });
  return {
    adopt: (req, socket, head, _state, address) => fanout.adopt(req, socket, head, null, address),
    publish: (key, payload) => {
      if (key === 'block') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(payload.toString()));
        return;
      }
      fanout.broadcast(fanout.clients(), Buffer.from(payload));
    },
    disconnectAll: (code, reason) => {
      for (const c of fanout.clients()) c.close(code, reason);
    },
    close: (code, reason, timeoutMs) => fanout.closeAll(code, reason, timeoutMs),
    metrics: async () => [],
  };
});
