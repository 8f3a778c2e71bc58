import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BearerAuth } from './bearer-auth.js';

const TOKEN = 'k7VnQ2-rX9_tM4pLw8Zs';
const request = (url: string, authorization?: string) =>
  ({ url, headers: authorization === undefined ? {} : { authorization } }) as unknown as IncomingMessage;

describe('BearerAuth', () => {
  it('authorises everything when no token is configured', () => {
    const auth = new BearerAuth(undefined);
    expect(auth.enabled).toBe(false);
    expect(auth.authorizes(request('/api'))).toBe(true);
    expect(auth.matchesHeader(undefined)).toBe(true);
  });

  it('accepts the token in an Authorization header, case-insensitive scheme, and nothing else', () => {
    const auth = new BearerAuth(TOKEN);
    expect(auth.enabled).toBe(true);
    expect(auth.authorizes(request('/api', `Bearer ${TOKEN}`))).toBe(true);
    expect(auth.authorizes(request('/api', `bearer ${TOKEN}`))).toBe(true);
    expect(auth.authorizes(request('/api'))).toBe(false);
    expect(auth.authorizes(request('/api', TOKEN))).toBe(false);
    expect(auth.authorizes(request('/api', `Basic ${TOKEN}`))).toBe(false);
    expect(auth.authorizes(request('/api', `Bearer ${TOKEN}x`))).toBe(false);
    expect(auth.authorizes(request('/api', `Bearer ${TOKEN.slice(0, -1)}`))).toBe(false);
    expect(auth.authorizes(request('/api', 'Bearer '))).toBe(false);
    expect(auth.matchesHeader([`Bearer ${TOKEN}`])).toBe(true);
  });

  it('accepts ?access_token= for browsers, but a header that is present decides', () => {
    const auth = new BearerAuth(TOKEN);
    expect(auth.authorizes(request(`/ws?access_token=${TOKEN}`))).toBe(true);
    expect(auth.authorizes(request('/ws?access_token=wrong'))).toBe(false);
    expect(auth.authorizes(request(`/ws?access_token=${TOKEN}`, 'Bearer wrong'))).toBe(false);
    expect(auth.authorizes(request('//['))).toBe(false);
  });
});
