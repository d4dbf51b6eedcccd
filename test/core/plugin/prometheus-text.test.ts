import { describe, expect, it } from 'vitest';
import { intLabel, meanSamples, parsePrometheusText, sumSamples } from '../../../core/plugin/prometheus-text.js';

const FIXTURE = [
  '# HELP vllm:num_requests_running Number of requests in model execution batches.',
  '# TYPE vllm:num_requests_running gauge',
  'vllm:num_requests_running{model_name="m",engine="0"} 3',
  'vllm:num_requests_running{model_name="m",engine="1"} 4',
  '',
  '# a free-form comment, then a blank line with spaces',
  '   ',
  'plain_metric 42',
  'with_timestamp{a="b"} 1.5e3 1700000000000',
  'negative_timestamp -2 -17',
  'escaped{path="C:\\\\dir\\\\",quote="say \\"hi\\"",nl="a\\nb",comma="x, y",brace="}{"} 1',
  'odd_escape{v="keep \\t as is"} 1',
  'trailing_comma{a="1",} 2',
  'spaced { a = "1" , b="2" } 3',
  'nan_value NaN',
  'pos_inf{le="+Inf"} +Inf',
  'neg_inf -Inf',
  'go_inf Inf',
  'crlf_line 7\r',
  'empty_labels{} 8',
  'empty_value{a=""} 9',
  'proto{__proto__="x"} 10',
  '# EOF',
].join('\n');

describe('parsePrometheusText', () => {
  const samples = parsePrometheusText(FIXTURE);
  const one = (name: string) => {
    const found = samples.filter((s) => s.name === name);
    expect(found).toHaveLength(1);
    return found[0];
  };

  it('reads names with colons, labels and plain values, skipping HELP/TYPE, comments and blank lines', () => {
    expect(samples.filter((s) => s.name === 'vllm:num_requests_running')).toEqual([
      { name: 'vllm:num_requests_running', labels: { model_name: 'm', engine: '0' }, value: 3 },
      { name: 'vllm:num_requests_running', labels: { model_name: 'm', engine: '1' }, value: 4 },
    ]);
    expect(one('plain_metric')).toEqual({ name: 'plain_metric', labels: {}, value: 42 });
    expect(samples).toHaveLength(17);
    const errors: string[] = [];
    parsePrometheusText(FIXTURE, (_line, text, reason) => errors.push(`${text}: ${reason}`));
    expect(errors).toEqual([]);
  });

  it('drops optional timestamps', () => {
    expect(one('with_timestamp')).toEqual({ name: 'with_timestamp', labels: { a: 'b' }, value: 1500 });
    expect(one('negative_timestamp').value).toBe(-2);
  });

  it('unescapes \\\\, \\" and \\n and keeps commas and braces inside quoted values', () => {
    expect(one('escaped').labels).toEqual({ path: 'C:\\dir\\', quote: 'say "hi"', nl: 'a\nb', comma: 'x, y', brace: '}{' });
    expect(one('odd_escape').labels.v).toBe('keep \\t as is');
  });

  it('accepts a trailing comma, blanks around the label syntax, empty label sets and values', () => {
    expect(one('trailing_comma').labels).toEqual({ a: '1' });
    expect(one('spaced')).toEqual({ name: 'spaced', labels: { a: '1', b: '2' }, value: 3 });
    expect(one('empty_labels').labels).toEqual({});
    expect(one('empty_value').labels).toEqual({ a: '' });
  });

  it('reads NaN and the infinities, in Prometheus and Go spellings', () => {
    expect(one('nan_value').value).toBeNaN();
    expect(one('pos_inf')).toEqual({ name: 'pos_inf', labels: { le: '+Inf' }, value: Infinity });
    expect(one('neg_inf').value).toBe(-Infinity);
    expect(one('go_inf').value).toBe(Infinity);
  });

  it('handles CRLF line ends and a __proto__ label without touching the prototype', () => {
    expect(one('crlf_line').value).toBe(7);
    const proto = one('proto');
    expect(Object.getPrototypeOf(proto.labels)).toBe(Object.prototype);
    expect(proto.labels.__proto__).toBe('x');
    expect(Object.keys(proto.labels)).toEqual(['__proto__']);
  });

  it('skips lines it cannot read, reports each with its line number, and keeps the rest', () => {
    const bad = [
      'good 1',
      'no_value',
      'bad_value{a="1"} twelve',
      'unterminated{a="1} 2',
      'missing_eq{a"1"} 2',
      '9starts_with_digit 1',
      'junk_after 1 2 3',
      'bad_ts 1 soon',
      'also_good{x="y"} 2',
    ].join('\n');
    const errors: [number, string][] = [];
    const parsed = parsePrometheusText(bad, (line, _text, reason) => errors.push([line, reason]));
    expect(parsed.map((s) => s.name)).toEqual(['good', 'also_good']);
    expect(errors.map(([line]) => line)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(errors[2][1]).toContain('unterminated');
    expect(parsePrometheusText(bad)).toHaveLength(2);
  });

  it('reads an empty text and a text without a final newline', () => {
    expect(parsePrometheusText('')).toEqual([]);
    expect(parsePrometheusText('a 1\nb 2')).toEqual([{ name: 'a', labels: {}, value: 1 }, { name: 'b', labels: {}, value: 2 }]);
  });

  it('parses a 200 KB scrape in one pass (time logged, not asserted)', () => {
    const lines: string[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 200_000; i++) {
      const line = `vllm:e2e_request_latency_seconds_bucket{engine="${i % 4}",le="${(i % 21) * 0.5}",model_name="Qwen/Qwen2.5-7B-Instruct"} ${i * 3}`;
      lines.push(`# HELP x${i} help`, line);
      bytes += line.length + 20;
    }
    const text = lines.join('\n');
    for (let i = 0; i < 10; i++) parsePrometheusText(text); // let the JIT settle first
    const runs = 20;
    const start = performance.now();
    let count = 0;
    for (let r = 0; r < runs; r++) count = parsePrometheusText(text).length;
    const ms = (performance.now() - start) / runs;
    expect(count).toBe(lines.length / 2);
    console.info(`parsePrometheusText: ${(text.length / 1024).toFixed(0)} KB, ${count} samples in ${ms.toFixed(2)} ms`);
  });
});

describe('sumSamples, meanSamples, intLabel', () => {
  const samples = parsePrometheusText(FIXTURE);

  it('sums every sample of a name, or those passing the filter', () => {
    expect(sumSamples(samples, 'vllm:num_requests_running')).toBe(7);
    expect(sumSamples(samples, 'vllm:num_requests_running', (l) => l.engine === '1')).toBe(4);
  });

  it('is undefined when no sample of that name (or none passing the filter) exists, and 0 stays 0', () => {
    expect(sumSamples(samples, 'vllm:absent')).toBeUndefined();
    expect(sumSamples(samples, 'vllm:num_requests_running', (l) => l.engine === '9')).toBeUndefined();
    expect(sumSamples(parsePrometheusText('zero 0'), 'zero')).toBe(0);
  });

  it('averages a per-rank ratio', () => {
    expect(meanSamples(samples, 'vllm:num_requests_running')).toBe(3.5);
    expect(meanSamples(samples, 'vllm:absent')).toBeUndefined();
  });

  it('reads integer labels and nothing else', () => {
    expect(intLabel({ block_size: '16' }, 'block_size')).toBe(16);
    expect(intLabel({ num_gpu_blocks: 'None' }, 'num_gpu_blocks')).toBeUndefined();
    expect(intLabel({ a: '1.5' }, 'a')).toBeUndefined();
    expect(intLabel({}, 'a')).toBeUndefined();
  });
});
