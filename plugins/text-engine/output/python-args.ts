/**
 * Reads the keyword arguments of a Python call, `tool_call(location='Boston', days=3)`, into a
 * JSON object. ChatGLM3 writes tool calls this way. grps-trtllm converts them with regexes after
 * deleting every space, which mangles string values ('Boston, MA' → "Boston,MA"); a small literal
 * parser keeps them intact and refuses what it cannot read instead of guessing.
 */

class PythonSyntaxError extends Error {}

class LiteralReader {
  pos: number;
  constructor(private readonly src: string, start: number) {
    this.pos = start;
  }

  kwargs(): Record<string, unknown> {
    this.expect('(');
    const out: Record<string, unknown> = {};
    this.skipSpace();
    while (this.peek() !== ')') {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos))?.[0];
      if (name === undefined) throw new PythonSyntaxError('expected an argument name');
      this.pos += name.length;
      this.skipSpace();
      this.expect('=');
      out[name] = this.value();
      if (!this.separator(')')) break;
    }
    this.expect(')');
    return out;
  }

  private value(): unknown {
    this.skipSpace();
    const ch = this.peek();
    if (ch === "'" || ch === '"') return this.string(ch);
    if (ch === '[') return this.sequence('[', ']');
    if (ch === '(') return this.sequence('(', ')');
    if (ch === '{') return this.dict();
    const number = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(this.src.slice(this.pos))?.[0];
    if (number !== undefined) {
      this.pos += number.length;
      return Number(number);
    }
    const word = /^[A-Za-z_]+/.exec(this.src.slice(this.pos))?.[0];
    const constants: Record<string, unknown> = { True: true, False: false, None: null, true: true, false: false, null: null };
    if (word !== undefined && Object.hasOwn(constants, word)) {
      this.pos += word.length;
      return constants[word];
    }
    throw new PythonSyntaxError(`unexpected ${JSON.stringify(ch)} at ${this.pos}`);
  }

  private sequence(open: string, close: string): unknown[] {
    this.expect(open);
    const out: unknown[] = [];
    this.skipSpace();
    while (this.peek() !== close) {
      out.push(this.value());
      if (!this.separator(close)) break;
    }
    this.expect(close);
    return out;
  }

  private dict(): Record<string, unknown> {
    this.expect('{');
    const out: Record<string, unknown> = {};
    this.skipSpace();
    while (this.peek() !== '}') {
      const key = this.value();
      if (typeof key !== 'string' && typeof key !== 'number') throw new PythonSyntaxError('dict key');
      this.skipSpace();
      this.expect(':');
      out[String(key)] = this.value();
      if (!this.separator('}')) break;
    }
    this.expect('}');
    return out;
  }

  private string(quote: string): string {
    this.pos++;
    let out = '';
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos++];
      if (ch === quote) return out;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const esc = this.src[this.pos++];
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
      if (esc !== undefined && Object.hasOwn(simple, esc)) {
        out += simple[esc];
      } else if (esc === 'x' || esc === 'u') {
        const hex = this.src.slice(this.pos, this.pos + (esc === 'x' ? 2 : 4));
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== (esc === 'x' ? 2 : 4)) throw new PythonSyntaxError('escape');
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos += hex.length;
      } else {
        out += '\\' + (esc ?? '');
      }
    }
    throw new PythonSyntaxError('unterminated string');
  }

  /** After an item: true if a ',' follows (and the list goes on), false at the closing bracket. */
  private separator(close: string): boolean {
    this.skipSpace();
    if (this.peek() === ',') {
      this.pos++;
      this.skipSpace();
      return this.peek() !== close;
    }
    if (this.peek() === close) return false;
    throw new PythonSyntaxError(`expected "," or "${close}" at ${this.pos}`);
  }

  private expect(ch: string): void {
    this.skipSpace();
    if (this.peek() !== ch) throw new PythonSyntaxError(`expected "${ch}" at ${this.pos}`);
    this.pos++;
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private skipSpace(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) this.pos++;
  }
}

/**
 * The keyword arguments of the first call in `code` (`name(k=v, …)`), or undefined when the code
 * holds no call or anything but literal keyword arguments.
 */
export function parsePythonKwargs(code: string): Record<string, unknown> | undefined {
  const open = code.indexOf('(');
  if (open < 0) return undefined;
  try {
    return new LiteralReader(code, open).kwargs();
  } catch (err) {
    if (err instanceof PythonSyntaxError) return undefined;
    throw err;
  }
}
