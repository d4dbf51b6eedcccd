import { beforeAll, describe, expect, it } from 'vitest';
import { StreamDecoder } from '../../../../core/tokenizer/stream-decoder.js';
import { Tokenizer } from '../../../../core/tokenizer/tokenizer.js';
import { heldSuffixLength, OutputStream, ToolCallStreamer } from '../../../../plugins/text-engine/output/stream-text.js';
import type { StreamDelta, ToolCallDelta } from '../../../../plugins/text-engine/output/stream-text.js';
import { parseToolCalls } from '../../../../plugins/text-engine/output/tool-calls.js';

const ID = /^call_[A-Za-z0-9]{24}$/;
const REPLACEMENT = '\uFFFD';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

let tok: Tokenizer;
beforeAll(() => {
  tok = Tokenizer.qwenDefault();
});

/** Pushes `text`'s tokens one at a time; returns every piece and the end. */
function streamTokens(text: string, stop: string[], reason: 'stop' | 'length' = 'length') {
  const ids = Array.from(tok.encode(text));
  const out = new OutputStream(new StreamDecoder(tok, { skipSpecialTokens: true }), stop);
  const pieces: string[] = [];
  let stoppedAtToken = -1;
  ids.forEach((id, i) => {
    const delta = out.push([id]);
    pieces.push(delta.text);
    if (delta.stopped !== null && stoppedAtToken < 0) stoppedAtToken = i;
  });
  const end = out.finish(reason);
  return { ids, pieces, end, stoppedAtToken, emitted: pieces.join('') + end.text };
}

describe('heldSuffixLength', () => {
  it('is the longest tail that starts a stop string', () => {
    expect(heldSuffixLength('abc#EN', ['#END#'])).toBe(3);
    expect(heldSuffixLength('abc#', ['#END#', 'c#X'])).toBe(2);
    expect(heldSuffixLength('abc', ['#END#'])).toBe(0);
    expect(heldSuffixLength('', ['#END#'])).toBe(0);
  });
});

describe('OutputStream', () => {
  it('never emits any part of a stop string split across tokens, and reports it when it completes', () => {
    const text = '重复1234#END#5678';
    const { ids, pieces, end, stoppedAtToken, emitted } = streamTokens(text, ['#END#']);
    // Meaningful only if no single token holds the whole stop string.
    expect(ids.some((id) => tok.decode([id]).includes('#END#'))).toBe(false);
    let soFar = '';
    for (const piece of pieces) {
      soFar += piece;
      expect(soFar).not.toContain('#');
    }
    expect(emitted).toBe('重复1234');
    expect(end).toEqual({ text: '', stopped: '#END#', finishReason: 'stop' });
    // Detected at the token that completes it, so the caller can cancel before "5678".
    expect(tok.decode(ids.slice(0, stoppedAtToken + 1))).toContain('#END#');
    expect(tok.decode(ids.slice(0, stoppedAtToken))).not.toContain('#END#');
  });

  it('holds back a partial stop string and releases it when it turns out not to be one', () => {
    const text = 'Use #EN or #ENDS, never the marker.';
    const { ids, pieces, end, emitted } = streamTokens(text, ['#END#']);
    expect(emitted).toBe(text);
    expect(end.stopped).toBeNull();
    expect(end.finishReason).toBe('length');
    let heldBack = false;
    let soFar = '';
    pieces.forEach((piece, i) => {
      soFar += piece;
      const decoded = tok.decode(ids.slice(0, i + 1));
      expect(decoded.startsWith(soFar)).toBe(true);
      if (decoded.length > soFar.length && decoded.slice(soFar.length).startsWith('#')) heldBack = true;
    });
    expect(heldBack).toBe(true);
  });

  it('releases a trailing partial stop string at the end', () => {
    const { pieces, end, emitted } = streamTokens('it ends with #EN', ['#END#']);
    expect(pieces.join('')).toBe('it ends with ');
    expect(end.text).toBe('#EN');
    expect(emitted).toBe('it ends with #EN');
  });

  it('pushed Chinese and emoji one token at a time equal the full decode, with no broken character', () => {
    const text = '你好，世界！流式解码测试 🎉👍🏽 Hello 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 café 龘 👨‍👩‍👧 end.';
    // '🎉🎉' starts like the text's 🎉, so it is held back once and then released.
    const { ids, pieces, emitted, end } = streamTokens(text, ['🎉🎉', '<|im_end|>']);
    expect(ids.filter((id) => tok.decode([id]).includes(REPLACEMENT)).length).toBeGreaterThan(3);
    expect(emitted).toBe(tok.decode(ids));
    expect(emitted).toBe(text);
    expect(end.stopped).toBeNull();
    for (const piece of pieces) {
      expect(piece).not.toContain(REPLACEMENT);
      expect(LONE_SURROGATE.test(piece)).toBe(false);
    }
  });

  it('stops on a multi-byte stop string and on the earliest of several', () => {
    expect(streamTokens('你好🎉世界', ['🎉']).emitted).toBe('你好');
    const { emitted, end } = streamTokens('alpha STOP beta END gamma', ['END', 'STOP']);
    expect(emitted).toBe('alpha ');
    expect(end.stopped).toBe('STOP');
  });

  it('emits nothing after the stop string', () => {
    const out = new OutputStream(new StreamDecoder(tok), ['</s>']);
    const ids = Array.from(tok.encode('ok</s> more text'));
    const texts = ids.map((id) => out.push([id]).text);
    expect(texts.join('')).toBe('ok');
    expect(out.stopped).toBe('</s>');
    expect(out.push(tok.encode(' later')).text).toBe('');
    expect(out.finish('length')).toEqual({ text: '', stopped: '</s>', finishReason: 'stop' });
  });
});

interface Assembled {
  content: string | null;
  calls: Array<{ id: string; name: string; arguments: string }>;
  finishReason: string;
  deltas: StreamDelta[];
}

function assemble(deltas: StreamDelta[], finishReason: string): Assembled {
  let content = '';
  const calls: Assembled['calls'] = [];
  for (const delta of deltas) {
    if (delta.content !== undefined) content += delta.content;
    for (const piece of delta.tool_calls ?? []) {
      if (piece.id !== undefined) {
        expect(piece.index).toBe(calls.length);
        calls.push({ id: piece.id, name: piece.function.name ?? '', arguments: piece.function.arguments });
      } else {
        calls[piece.index].arguments += piece.function.arguments;
      }
    }
  }
  return { content: content === '' ? null : content, calls, finishReason, deltas };
}

/** Streams `text` in chunks of `size` characters. */
function streamChunks(text: string, size: number): Assembled {
  const streamer = new ToolCallStreamer();
  const deltas: StreamDelta[] = [];
  for (let i = 0; i < text.length; i += size) deltas.push(...streamer.push(text.slice(i, i + size)));
  const end = streamer.finish('stop');
  return assemble([...deltas, ...end.deltas], end.finishReason);
}

function expectSameAsParser(text: string, streamed: Assembled): void {
  const parsed = parseToolCalls('qwen2.5', text);
  expect(streamed.content).toBe(parsed.content);
  expect(streamed.finishReason).toBe(parsed.finishReason);
  expect(streamed.calls.map((c) => ({ name: c.name, arguments: c.arguments }))).toEqual(
    parsed.toolCalls.map((c) => c.function),
  );
}

const TWO_CALLS =
  'Let me look both up.\n' +
  '<tool_call>\n{"name": "get_postcode", "arguments": {"location": "Boston, MA"}}\n</tool_call>\n' +
  '<tool_call>\n{"name": "get_current_weather", "arguments": {"location": "北京", "unit": "celsius"}}\n</tool_call>';

describe('ToolCallStreamer', () => {
  it('streams a model output token by token into the same calls as the non-streaming parser', () => {
    const ids = Array.from(tok.encode(TWO_CALLS));
    const out = new OutputStream(new StreamDecoder(tok, { skipSpecialTokens: true }), []);
    const streamer = new ToolCallStreamer();
    const deltas: StreamDelta[] = [];
    for (const id of ids) deltas.push(...streamer.push(out.push([id]).text));
    deltas.push(...streamer.push(out.finish('stop').text));
    const end = streamer.finish('stop');
    const streamed = assemble([...deltas, ...end.deltas], end.finishReason);

    expectSameAsParser(TWO_CALLS, streamed);
    expect(streamed.finishReason).toBe('tool_calls');
    expect(streamed.calls).toHaveLength(2);
    for (const call of streamed.calls) expect(call.id).toMatch(ID);
    expect(streamed.calls[0].id).not.toBe(streamed.calls[1].id);
    // The tag never leaks into content.
    for (const delta of deltas) expect(delta.content ?? '').not.toContain('<tool');

    const first = deltas.find((d) => d.tool_calls !== undefined)?.tool_calls?.[0] as ToolCallDelta;
    expect(first).toEqual({ index: 0, id: streamed.calls[0].id, type: 'function', function: { name: 'get_postcode', arguments: '' } });
  });

  it('streams content before the call closes', () => {
    const streamer = new ToolCallStreamer();
    expect(streamer.push('Let me check.\n<tool')).toEqual([{ content: 'Let me check.' }]);
    expect(streamer.push('_call>\n{"name": "f", "argu')).toEqual([]);
    const deltas = streamer.push('ments": {}}\n</tool_call>');
    expect(deltas).toHaveLength(2);
    expect(deltas[1]).toEqual({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] });
    expect(streamer.finish('stop').finishReason).toBe('tool_calls');
    expect(streamer.toolCallCount).toBe(1);
  });

  it('matches the parser for every chunking of tricky outputs', () => {
    const texts = [
      TWO_CALLS,
      `  \n${TWO_CALLS}\n\nDone: both.  \n`,
      'No calls, but a <toolbox> and a <tool_call in text.',
      'Broken: <tool_call>\n{"name": oops}\n</tool_call> then <tool_call>{"name": "f", "arguments": {"a": [1, 2]}}</tool_call>',
      'Cut off: <tool_call>\n{"name": "get_cur',
      '<tool_call>{{"name": "f", "arguments": {"a": 1}}}</tool_call>',
      '',
    ];
    for (const text of texts) {
      for (const size of [1, 2, 3, 5, 7, 11, 1000]) expectSameAsParser(text, streamChunks(text, size));
    }
  });

  it("passes the engine's finish reason through when no call was emitted", () => {
    const streamer = new ToolCallStreamer();
    expect(streamer.push('Just text.')).toEqual([{ content: 'Just text.' }]);
    expect(streamer.finish('length')).toEqual({ deltas: [], finishReason: 'length' });
  });
});
