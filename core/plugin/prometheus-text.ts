/**
 * A parser of the Prometheus text exposition format 0.0.4, for reading an engine's `/metrics`
 * (vLLM, LMDeploy). One pass over the text with `charCodeAt`, no regular expression per line:
 * a busy vLLM scrape is 100–300 KB of histogram buckets, read every second per replica.
 *
 * It is lenient where real exporters differ (CRLF line ends, blanks around `{`, `=` and `,`, a
 * trailing comma, Go's spellings of infinity) and skips, rather than rejects, a line it cannot
 * read: one odd line must not hide the gauges the router needs. `onError` hears about each one.
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Told about each line that was skipped because it could not be read (1-based line number). */
export type PromLineError = (line: number, text: string, reason: string) => void;

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const HASH = 0x23;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const COMMA = 0x2c;
const EQUALS = 0x3d;

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** [a-zA-Z0-9_:]; `colon` false for label names, which may not contain ':'. */
function isNameChar(c: number, first: boolean, colon: boolean): boolean {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f) return true;
  if (c === 0x3a) return colon;
  return !first && c >= 0x30 && c <= 0x39;
}

/** A sample value: a float as Go's strconv.ParseFloat reads it, so `NaN`, `+Inf`, `-Inf`, `Inf`. */
function parseValue(token: string): number | undefined {
  const n = Number(token);
  if (!Number.isNaN(n)) return n;
  switch (token.toLowerCase()) {
    case 'nan':
      return NaN;
    case 'inf':
    case '+inf':
    case '+infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
    default:
      return undefined;
  }
}

/** Cursor over one line of `text`, [pos, end). */
class LineReader {
  constructor(readonly text: string, public pos: number, readonly end: number) {}

  skipBlanks(): void {
    while (this.pos < this.end && isBlank(this.text.charCodeAt(this.pos))) this.pos++;
  }

  peek(): number {
    return this.pos < this.end ? this.text.charCodeAt(this.pos) : -1;
  }

  name(colon: boolean): string {
    const start = this.pos;
    while (this.pos < this.end && isNameChar(this.text.charCodeAt(this.pos), this.pos === start, colon)) this.pos++;
    return this.text.slice(start, this.pos);
  }

  token(): string {
    const start = this.pos;
    while (this.pos < this.end && !isBlank(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** A quoted label value after its opening quote; undefined if the closing quote is missing. */
  quoted(): string | undefined {
    const { text, end } = this;
    const start = this.pos;
    let i = start;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return text.slice(start, i);
      }
      if (c === BACKSLASH) break;
      i++;
    }
    // Slow path, only for values with escapes: \\ → \, \" → ", \n → newline; any other escape is kept as is.
    let out = text.slice(start, i);
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return out;
      }
      if (c === BACKSLASH && i + 1 < end) {
        const next = text[i + 1];
        out += next === 'n' ? '\n' : next === '\\' || next === '"' ? next : `\\${next}`;
        i += 2;
        continue;
      }
      out += text[i];
      i++;
    }
    return undefined;
  }
}

function setLabel(labels: Record<string, string>, name: string, value: string): void {
  // `__proto__` is a legal label name; a plain assignment would replace the object's prototype.
  if (name === '__proto__') Object.defineProperty(labels, name, { value, enumerable: true, writable: true, configurable: true });
  else labels[name] = value;
}

/** Reads `{name="value",…}` after the `{`; returns an error reason, or undefined when well formed. */
function readLabels(r: LineReader, labels: Record<string, string>): string | undefined {
  for (;;) {
    r.skipBlanks();
    if (r.peek() === CLOSE) {
      r.pos++;
      return undefined;
    }
    const name = r.name(false);
    if (name === '') return 'expected a label name';
    r.skipBlanks();
    if (r.peek() !== EQUALS) return `expected '=' after label ${name}`;
    r.pos++;
    r.skipBlanks();
    if (r.peek() !== QUOTE) return `expected '"' to open the value of label ${name}`;
    r.pos++;
    const value = r.quoted();
    if (value === undefined) return `unterminated value of label ${name}`;
    setLabel(labels, name, value);
    r.skipBlanks();
    const c = r.peek();
    if (c === COMMA) r.pos++;
    else if (c !== CLOSE) return `expected ',' or '}' after label ${name}`;
  }
}

/** Parses one line into `out`; returns why it was skipped, or undefined (blank and comment lines included). */
function parseLine(text: string, start: number, end: number, out: PromSample[]): string | undefined {
  const r = new LineReader(text, start, end);
  r.skipBlanks();
  const first = r.peek();
  // Blank lines; `# HELP`, `# TYPE` and any other comment carry nothing a sample reader needs.
  if (first === -1 || first === HASH) return undefined;
  const name = r.name(true);
  if (name === '') return 'expected a metric name';
  const labels: Record<string, string> = {};
  r.skipBlanks();
  if (r.peek() === OPEN) {
    r.pos++;
    const problem = readLabels(r, labels);
    if (problem !== undefined) return problem;
    r.skipBlanks();
  }
  const valueToken = r.token();
  if (valueToken === '') return 'expected a value';
  const value = parseValue(valueToken);
  if (value === undefined) return `bad value ${JSON.stringify(valueToken)}`;
  r.skipBlanks();
  // An optional timestamp (integer milliseconds); it says when, not what, so it is not kept.
  const timestamp = r.token();
  if (timestamp !== '' && !/^-?\d+$/.test(timestamp)) return `bad timestamp ${JSON.stringify(timestamp)}`;
  r.skipBlanks();
  if (r.pos < end) return 'unexpected text after the timestamp';
  out.push({ name, labels, value });
  return undefined;
}

/** Every sample of a text-format scrape, in order. Lines that cannot be read are skipped (see `onError`). */
export function parsePrometheusText(text: string, onError?: PromLineError): PromSample[] {
  const samples: PromSample[] = [];
  const length = text.length;
  let pos = 0;
  let line = 0;
  while (pos < length) {
    let next = text.indexOf('\n', pos);
    if (next === -1) next = length;
    let end = next;
    if (end > pos && text.charCodeAt(end - 1) === CR) end--;
    line++;
    const problem = parseLine(text, pos, end, samples);
    if (problem !== undefined && onError !== undefined) onError(line, text.slice(pos, end), problem);
    pos = next + 1;
  }
  return samples;
}

/**
 * The sum of every sample named `name` that passes `filter` (all of them without one), or
 * undefined when no sample of that name passes: "not exported" must stay distinct from zero.
 */
export function sumSamples(samples: readonly PromSample[], name: string, filter?: (labels: Record<string, string>) => boolean): number | undefined {
  let sum: number | undefined;
  for (const s of samples) {
    if (s.name !== name || (filter !== undefined && !filter(s.labels))) continue;
    sum = (sum ?? 0) + s.value;
  }
  return sum;
}

/**
 * The mean of every sample named `name` that passes `filter`, or undefined when none does. For
 * gauges that are ratios per data-parallel rank (KV usage, a hit rate), where a sum means nothing.
 */
export function meanSamples(samples: readonly PromSample[], name: string, filter?: (labels: Record<string, string>) => boolean): number | undefined {
  let sum = 0;
  let count = 0;
  for (const s of samples) {
    if (s.name !== name || (filter !== undefined && !filter(s.labels))) continue;
    sum += s.value;
    count++;
  }
  return count === 0 ? undefined : sum / count;
}

/** A label holding a non-negative integer (info metrics carry config as label strings), else undefined. */
export function intLabel(labels: Record<string, string>, key: string): number | undefined {
  const text = labels[key];
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}
