/**
 * The output-token pool of the emulated engine.
 *
 * The engine model draws its output tokens from a pool of ids (EngineOptions.outputTokenPool).
 * Random vocabulary ids decode to byte fragments, CJK and code shards; drawing from whole English
 * words instead makes emulated completions read as (nonsense) prose, so streamed output, stop
 * strings and detokenization can be inspected by eye and behave like real text.
 */
import type { Tokenizer } from '../core/tokenizer/tokenizer.js';

/**
 * Common English words, domain words first. Each is used with a leading space, because that is
 * how a word inside a sentence is tokenized by byte-level BPE (' the' is one token, 'the' another).
 * Words that do not encode to exactly one token under the given tokenizer are dropped, so the list
 * can be generous.
 */
const WORDS: readonly string[] = [
  // serving and ML vocabulary
  'model', 'cache', 'token', 'request', 'server', 'engine', 'batch', 'queue',
  'memory', 'layer', 'prompt', 'output', 'input', 'stream', 'network', 'data',
  'system', 'process', 'thread', 'block', 'vector', 'matrix', 'weight', 'value',
  'key', 'query', 'state', 'node', 'graph', 'path', 'route', 'load',
  'speed', 'time', 'latency', 'rate', 'limit', 'size', 'length', 'window',
  'result', 'response', 'answer', 'question', 'text', 'word', 'line', 'file',
  'table', 'list', 'code', 'function', 'method', 'class', 'object', 'field',
  'type', 'error', 'test', 'check',
  // function words
  'the', 'of', 'and', 'to', 'in', 'is', 'that', 'for',
  'it', 'as', 'with', 'was', 'on', 'be', 'at', 'by',
  'this', 'are', 'from', 'or', 'an', 'but', 'not', 'have',
  'has', 'had', 'which', 'one', 'you', 'we', 'they', 'their',
  'there', 'can', 'will', 'would', 'should', 'could', 'may', 'more',
  'all', 'each', 'other', 'some', 'any', 'no', 'when', 'then',
  'than', 'also', 'into', 'over', 'after', 'before', 'under', 'between',
  'through', 'about', 'only', 'very', 'its', 'our', 'your', 'his',
  'her', 'these', 'those', 'such', 'both', 'most',
  // verbs
  'make', 'take', 'give', 'find', 'keep', 'run', 'read', 'write',
  'send', 'build', 'use', 'know', 'see', 'show', 'call', 'move',
  'turn', 'start', 'stop', 'open', 'close', 'hold', 'bring', 'follow',
  'change', 'grow', 'learn', 'help', 'work', 'play', 'look', 'need',
  'want', 'seem', 'feel', 'leave', 'put', 'mean', 'become', 'include',
  'set', 'get', 'go', 'come', 'say', 'think', 'tell', 'ask',
  'try', 'let', 'begin', 'end', 'carry', 'pull', 'push', 'sit',
  'stand', 'walk', 'wait', 'watch', 'speak', 'listen',
  // nouns
  'world', 'people', 'year', 'day', 'way', 'thing', 'man', 'woman',
  'child', 'life', 'hand', 'part', 'place', 'case', 'week', 'point',
  'group', 'number', 'home', 'water', 'room', 'area', 'money', 'story',
  'fact', 'month', 'night', 'book', 'eye', 'job', 'city', 'name',
  'team', 'idea', 'body', 'face', 'door', 'level', 'house', 'road',
  'light', 'sound', 'power', 'side', 'market', 'plan', 'game', 'music',
  'form', 'order', 'river', 'tree', 'stone', 'lake', 'garden', 'street',
  'country', 'school', 'family', 'friend', 'car', 'train', 'ship', 'bird',
  'dog', 'cat', 'horse', 'fire', 'air', 'sun', 'moon', 'star',
  'sea', 'rain', 'wind', 'snow', 'island', 'mountain', 'forest', 'village',
  'morning', 'evening', 'summer', 'winter', 'reason', 'future', 'history', 'language',
  'paper', 'letter',
  // adjectives and adverbs
  'good', 'new', 'first', 'last', 'long', 'great', 'little', 'own',
  'old', 'right', 'big', 'high', 'different', 'small', 'large', 'next',
  'early', 'young', 'important', 'few', 'public', 'bad', 'same', 'able',
  'simple', 'clear', 'full', 'free', 'real', 'best', 'better', 'true',
  'whole', 'strong', 'short', 'low', 'fast', 'slow', 'quick', 'quiet',
  'warm', 'cold', 'hot', 'dark', 'bright', 'green', 'blue', 'red',
  'white', 'black', 'often', 'always', 'never', 'still', 'again', 'already',
  'soon', 'now', 'here', 'well', 'just', 'even', 'much', 'many',
  'ever', 'together', 'almost', 'enough', 'perhaps', 'later',
  // time and quantity
  'hour', 'minute', 'second', 'moment', 'season', 'age', 'half', 'pair',
  'dozen', 'hundred', 'thousand', 'million', 'percent', 'average', 'total', 'share',
];

/** Punctuation kept in the pool so sentences end and pause. */
const PUNCTUATION: readonly string[] = ['.', ','];

/**
 * Ids of single-token common words (with their leading space) followed by '.' and ','.
 * Deterministic: list order, duplicates removed, so a given tokenizer always yields the same pool
 * and seeded emulated output is reproducible. A few hundred words keep emulated output varied
 * enough that repeated phrases (and so accidental stop-string hits) stay rare.
 */
export function buildOutputTokenPool(tokenizer: Pick<Tokenizer, 'encode'>): Int32Array {
  const ids: number[] = [];
  const seen = new Set<number>();
  const add = (text: string): void => {
    const encoded = tokenizer.encode(text);
    if (encoded.length !== 1) return;
    const id = encoded[0];
    if (seen.has(id)) return;
    seen.add(id);
    ids.push(id);
  };
  for (const word of WORDS) add(` ${word}`);
  for (const mark of PUNCTUATION) add(mark);
  return Int32Array.from(ids);
}

/** The candidate words, for tests and tools that want to know what the pool may contain. */
export const OUTPUT_POOL_WORDS: readonly string[] = WORDS;
