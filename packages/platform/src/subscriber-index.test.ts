import { describe, expect, it } from 'vitest';
import { SubscriberIndex } from './subscriber-index.js';

describe('SubscriberIndex', () => {
  it('keeps a set of subscribers per stream and forgets empty streams', () => {
    const index = new SubscriberIndex<string>();
    index.add('a', 'x');
    index.add('a', 'y');
    index.add('b', 'x');
    expect([...index.get('a')]).toEqual(['x', 'y']);
    expect(index.streamCount).toBe(2);
    index.deleteAll(['a', 'b'], 'x');
    expect([...index.get('a')]).toEqual(['y']);
    expect(index.get('b').size).toBe(0);
    expect(index.streamCount).toBe(1);
    index.delete('missing', 'x');
    expect(index.get('missing').size).toBe(0);
  });
});
