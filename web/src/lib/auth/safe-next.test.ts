import { describe, expect, it } from 'vitest';
import { sameOriginPath } from './safe-next';

const origin = 'https://bastion.example.org';
const next = (value: string) => sameOriginPath(value, origin, '/chat');

describe('sameOriginPath', () => {
  it.each([
    '//evil.example',
    '/\\evil.example',
    '/./\\/evil.example',
    '/.//evil.example',
    '/%2F.%2F%2Fevil.example'.replace(/%2F/g, '/'), // the decoded form of ?next=%2F.%2F%2Fevil.example
    '/..//x',
    '/../..//x',
    '/%2e//x',
    '/%2E%2E//x',
    '/a/..//evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    'https://evil.example/',
    'javascript:alert(1)',
    'evil.example',
    '',
    '/sign-in',
    '/sign-up/x',
  ])('refuses %j', (value) => {
    expect(next(value)).toBe('/chat');
  });

  it.each([
    ['/agents', '/agents'],
    ['/knowledge/abc?tab=docs#top', '/knowledge/abc?tab=docs#top'],
    ['/a/../agents', '/agents'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'], // encoded slashes stay a path on this origin
  ])('keeps %j as %j', (value, expected) => {
    expect(next(value)).toBe(expected);
  });
});
