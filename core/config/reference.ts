/**
 * The configuration reference, printed from the schema (schema.ts) that validates configs: the
 * README holds its output between `<!-- config-reference:start -->` and `:end -->`, and a test
 * fails when the two differ. `node --import tsx core/config/reference.ts` prints it.
 */
import { fileURLToPath } from 'node:url';
import type { Field, Schema } from './fields.js';
import { TOP } from './schema.js';

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function table(schema: Schema): string[] {
  const rows = Object.entries(schema).map(([key, f]) => {
    const fallback = f.default !== undefined ? `\`${f.default}\`` : f.required ? 'required' : '—';
    return `| \`${key}\` | ${cell(f.type)} | ${cell(fallback)} | ${cell(f.doc)} |`;
  });
  return ['| key | type | default | description |', '| --- | --- | --- | --- |', ...rows];
}

/** A section's table, then one for each section nested in it (`routes[].timeouts`). */
function sectionText(name: string, field: Field<unknown>): string[] {
  if (!field.fields) return [];
  const out = ['', `#### \`${name}\``, '', field.doc, '', ...table(field.fields)];
  const prefix = field.list ? `${name}[]` : name;
  for (const [key, f] of Object.entries(field.fields)) out.push(...sectionText(`${prefix}.${key}`, f));
  return out;
}

export function configReference(): string {
  const scalars = Object.fromEntries(Object.entries(TOP).filter(([, f]) => !f.fields));
  const lines = [
    'Generated from `core/config/schema.ts` (`node --import tsx core/config/reference.ts`). A backend\'s other keys are its',
    'plugin options, checked by the plugin; a policy\'s keys beside `type` are policy options, checked by the policy.',
    '',
    '#### Top level',
    '',
    ...table(scalars),
  ];
  for (const [key, f] of Object.entries(TOP)) lines.push(...sectionText(key, f));
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.stdout.write(configReference());
