import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, GatewayError } from '../../../core/server/errors.js';

describe('error catalogue', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

  it.each(Object.entries(ERRORS))('%s is in the README error table with its status and code', (name, def) => {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row, `${name} missing from README`).toBeDefined();
    expect(row).toContain(`| ${def.status} |`);
    expect(row).toContain(`\`${def.code}\``);
  });

  it('codes are unique', () => {
    const codes = Object.values(ERRORS).map((d) => d.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('builds the OpenAI error shape', () => {
    const err = new GatewayError('SY_ERR_INVALID_FIELD', 'max_tokens: must be integer', { param: 'max_tokens' });
    expect(err.status).toBe(400);
    expect(err.body()).toEqual({ error: { message: 'max_tokens: must be integer', type: 'invalid_request_error', param: 'max_tokens', code: 'invalid_field' } });
    expect(new GatewayError('SY_ERR_UPSTREAM_REJECTED', 'nope', { status: 422 }).status).toBe(422);
  });
});
