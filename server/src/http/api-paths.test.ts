/** The OpenAI-compatible /v1 is API for every boundary decision that tests a path. */
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { isApiPath, isOpenAiPath } from './api-paths.js';
import { neverShed } from './hardening.js';
import { openAiStatus, paramOf } from './openai-errors.js';
import { wantsSpaShell } from './web-app.js';

describe('API paths', () => {
  it('counts /v1 and below as the OpenAI-compatible API, and nothing that merely starts alike', () => {
    for (const url of ['/v1', '/v1/', '/v1/models', '/v1/chat/completions', '/v1?x=1']) expect(isOpenAiPath(url), url).toBe(true);
    for (const url of ['/v10/models', '/v1x', '/api/v1/agents', '/', '/app/v1/models']) expect(isOpenAiPath(url), url).toBe(false);
    expect(isApiPath('/api/v1/agents')).toBe(true);
    expect(isApiPath('/v1/models')).toBe(true);
    expect(isApiPath('/_app/immutable/x.js')).toBe(false);
  });

  it('sheds /v1 requests under overload like /api ones, and never answers them with the SPA shell', () => {
    expect(neverShed({ method: 'POST', url: '/v1/chat/completions', headers: {} })).toBe(false);
    expect(neverShed({ method: 'GET', url: '/v1/models', headers: {} })).toBe(false);
    expect(neverShed({ method: 'GET', url: '/settings', headers: {} })).toBe(true); // the web app's pages still load
    const navigation = (url: string) => ({ method: 'GET', url, headers: { accept: 'text/html' } }) as Parameters<typeof wantsSpaShell>[0];
    expect(wantsSpaShell(navigation('/v1/models'))).toBe(false);
    expect(wantsSpaShell(navigation('/v1/nope'))).toBe(false);
    expect(wantsSpaShell(navigation('/settings'))).toBe(true);
  });
});

describe('OpenAI error mapping', () => {
  it('names the parameter as OpenAI does', () => {
    expect(paramOf(new AppError('validation_failed', 'x', [{ path: 'body.messages.2.content.0.type', message: 'x' }]))).toBe('messages[2].content[0].type');
    expect(paramOf(new AppError('validation_failed', 'x', [{ path: 'body.model', message: 'x' }]))).toBe('model');
    expect(paramOf(new AppError('validation_failed', 'x', [{ path: 'body', message: 'x' }]))).toBeNull();
    expect(paramOf(new AppError('not_found', 'x'))).toBeNull();
  });

  it('answers provider failures as a bad gateway, other errors with their own status', () => {
    expect(openAiStatus(new AppError('provider_unavailable', 'x'))).toBe(502);
    expect(openAiStatus(new AppError('provider_timeout', 'x'))).toBe(504);
    expect(openAiStatus(new AppError('rate_limited', 'x'))).toBe(429);
    expect(openAiStatus(new AppError('budget_exhausted', 'x'))).toBe(402);
  });
});
