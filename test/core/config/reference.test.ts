import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReference } from '../../../core/config/reference.js';
import { TOP } from '../../../core/config/schema.js';

describe('the configuration reference', () => {
  it('in the README is the one the schema prints', () => {
    const readme = readFileSync('README.md', 'utf8');
    const found = /<!-- config-reference:start -->\n([\s\S]*?)<!-- config-reference:end -->/.exec(readme);
    expect(found, 'README.md has no config-reference markers').not.toBeNull();
    // Run `node --import tsx core/config/reference.ts` and paste its output between the markers.
    expect(found![1]).toBe(configReference());
  });

  it('describes every key of every section', () => {
    const text = configReference();
    for (const key of Object.keys(TOP)) expect(text).toContain(`\`${key}\``);
    for (const section of ['routes[].policy', 'routes[].timeouts', 'routes[].arms', 'backends[].sim', 'backends[].discover', 'auth.keys[].limits']) {
      expect(text).toContain(`#### \`${section}\``);
    }
  });
});
