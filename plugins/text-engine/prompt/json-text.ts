/**
 * JSON and Python text the way the models saw it in training. Chat templates serialise with
 * Python's `json.dumps` (`tojson`: `", "` and `": "` separators, non-ASCII kept) and ChatGLM3
 * writes tool calls as Python keyword arguments, so a compact `JSON.stringify` would put text in
 * the prompt that the model never produced itself, and break prefix-cache reuse of its own turn.
 */

/** `json.dumps(value, ensure_ascii=False)`, or with `indent` as `json.dumps(..., indent=n)`. */
export function pythonJson(value: unknown, indent?: number): string {
  return render(value, indent, '');
}

function render(value: unknown, indent: number | undefined, pad: string): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const inner = indent === undefined ? '' : pad + ' '.repeat(indent);
  const open = indent === undefined ? '' : '\n' + inner;
  const sep = indent === undefined ? ', ' : ',\n' + inner;
  const close = indent === undefined ? '' : '\n' + pad;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return '[' + open + value.map((v) => render(v, indent, inner)).join(sep) + close + ']';
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const items = entries.map(([k, v]) => JSON.stringify(k) + ': ' + render(v, indent, inner));
    return '{' + open + items.join(sep) + close + '}';
  }
  return 'null';
}

/** Python's `repr` of a JSON value: `'x'`, `True`, `None`, `[1, 2]`, `{'k': 'v'}`. */
export function pythonLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'string') return pythonString(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (Array.isArray(value)) return '[' + value.map(pythonLiteral).join(', ') + ']';
  if (typeof value === 'object') {
    const items = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => pythonString(k) + ': ' + pythonLiteral(v),
    );
    return '{' + items.join(', ') + '}';
  }
  return 'None';
}

/** Python picks single quotes unless the text has a single quote and no double quote. */
function pythonString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch.charCodeAt(0) < 0x20 || ch === '\x7f') out += '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + quote;
}

/** Arguments the client sent as a JSON string, as the model writes them; unparseable text as is. */
export function argumentsText(args: string): string {
  try {
    return pythonJson(JSON.parse(args));
  } catch {
    return args;
  }
}
