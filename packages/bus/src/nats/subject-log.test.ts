import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { candleIndexOf, openTimeOfCandleIndex } from '@visualgo/market';
import { TestNatsServer } from '@visualgo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayOutOfRange } from '../bus-errors.js';
import { SubjectLog } from './subject-log.js';

const BASE = candleIndexOf('1m', Date.UTC(2024, 2, 4));
const openTime = (k: number) => openTimeOfCandleIndex('1m', BASE + k);
/** Records kept per subject: more than a read by direct gets takes, so reads go through a consumer. */
const KEEP = 50;
const STREAM = 'LOG_TEST';
const UTF8 = new TextEncoder();

interface Rec {
  readonly openTimeMs: number;
  readonly k: number;
}

let server: TestNatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let subjects = 0;

beforeAll(async () => {
  server = await TestNatsServer.start();
  nc = await connect({ servers: server.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: STREAM,
    subjects: ['log.>'],
    storage: StorageType.Memory,
    max_msgs_per_subject: KEEP,
    allow_direct: true,
  });
}, 30_000);

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

/** A new subject holding records `from`..`to` (the last KEEP of them). */
async function subjectWith(
  from: number,
  to: number,
): Promise<{ subject: string; append: (k: number) => Promise<void> }> {
  const subject = `log.s${++subjects}`;
  const append = async (k: number) => {
    await js.publish(subject, UTF8.encode(JSON.stringify({ openTimeMs: openTime(k), k })));
  };
  for (let k = from; k <= to; k++) await append(k);
  return { subject, append };
}

/**
 * A log whose reads race with the store's retention: right after the read has looked up the
 * oldest record, `meanwhile` runs once (new records come, the oldest drop out).
 */
function racingLog(meanwhile: () => Promise<void>): SubjectLog<Rec> {
  let armed = true;
  const direct: Pick<JetStreamManager['direct'], 'getMessage'> = {
    async getMessage(stream, query) {
      const msg = await jsm.direct.getMessage(stream, query);
      if (armed && 'next_by_subj' in query && query.seq === 1) {
        armed = false;
        await meanwhile();
      }
      return msg;
    },
  };
  const racing = Object.assign(Object.create(jsm) as JetStreamManager, { direct });
  return new SubjectLog<Rec>(js, racing, STREAM, (_subject, data) =>
    JSON.parse(new TextDecoder().decode(data)),
  );
}

const ks = (records: readonly Rec[]) => records.map((r) => r.k);
const run = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('SubjectLog reading while the oldest records drop out', () => {
  it('answers a range with no hole: what is stored from the oldest left through the newest', async () => {
    // Stored: 0..49. Once the read has found 0 the oldest, 50 and 51 come and 0 and 1 drop out.
    const { subject, append } = await subjectWith(0, KEEP - 1);
    const log = racingLog(async () => {
      await append(KEEP);
      await append(KEEP + 1);
    });
    const read = await log.range(subject, '1m', { limit: 1_000, fromEnd: true });
    expect(ks(read)).toEqual(run(2, KEEP - 1));
  });

  it('refuses a replay the store no longer reaches by the end of the read', async () => {
    const { subject, append } = await subjectWith(0, KEEP - 1);
    const log = racingLog(async () => {
      await append(KEEP);
      await append(KEEP + 1);
    });
    // From after -1: 0 and 1 were stored when the read began, and were gone before it got to 1.
    await expect(log.after(subject, '1m', openTime(-1))).rejects.toBeInstanceOf(ReplayOutOfRange);
  });

  it('replays in full from after a record that stays', async () => {
    const { subject, append } = await subjectWith(0, KEEP - 1);
    const log = racingLog(async () => {
      await append(KEEP);
      await append(KEEP + 1);
    });
    expect(ks(await log.after(subject, '1m', openTime(5)))).toEqual(run(6, KEEP - 1));
  });
});
