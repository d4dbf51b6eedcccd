import { describe, expect, it } from 'vitest';
import { ApproxRadixTree } from '../../../../bench/league/peers/radix-tree.js';

describe('approximate radix tree', () => {
  it('matches, per tenant, the leading characters its requests covered', () => {
    const tree = new ApproxRadixTree();
    tree.insert('hello world', 'a');
    tree.insert('hello there', 'b');
    const m = tree.match('hello world, again');
    expect(m.get('a')).toBe(11);
    expect(m.get('b')).toBe(6);
    expect(tree.match('goodbye').size).toBe(0);
    expect(tree.match('').size).toBe(0);
  });

  it('splits an edge where a text leaves it, keeping the tenants of both halves', () => {
    const tree = new ApproxRadixTree();
    tree.insert('abcdef', 'a');
    tree.insert('abcxyz', 'b');
    expect(tree.match('abcdef')).toEqual(new Map([['a', 6], ['b', 3]]));
    expect(tree.match('abcxyz')).toEqual(new Map([['a', 3], ['b', 6]]));
    expect(tree.match('abc')).toEqual(new Map([['a', 3], ['b', 3]]));
    // A text ending inside an edge matches up to where it ends.
    expect(tree.match('abcd').get('a')).toBe(4);
  });

  it('counts each tenant\'s characters once per node', () => {
    const tree = new ApproxRadixTree();
    tree.insert('abcdef', 'a');
    tree.insert('abcxyz', 'a');
    tree.insert('abcdef', 'a');
    expect(tree.size('a')).toBe(9);
    tree.insert('abc', 'b');
    expect(tree.size('b')).toBe(3);
  });

  it('evicts a tenant\'s least recently used leaves until it fits, leaving other tenants alone', () => {
    const tree = new ApproxRadixTree();
    tree.insert('abcdef', 'a'); // the "def" leaf is the oldest
    tree.insert('abcxyz', 'a');
    tree.insert('abcdef', 'b');
    tree.evict('a', 6);
    expect(tree.size('a')).toBe(6);
    expect(tree.match('abcdef').get('a')).toBe(3);
    expect(tree.match('abcxyz').get('a')).toBe(6);
    expect(tree.match('abcdef').get('b')).toBe(6);
  });

  it('evicts toward the root once a node has no child the tenant holds', () => {
    const tree = new ApproxRadixTree();
    tree.insert('one two three', 'a');
    tree.insert('one two four', 'a');
    tree.insert('zebra', 'a');
    tree.evict('a', 5);
    expect(tree.match('zebra').get('a')).toBe(5);
    expect(tree.match('one two three').has('a')).toBe(false);
    tree.evict('a', 0);
    expect(tree.size('a')).toBe(0);
    expect(tree.tenants()).not.toContain('a');
    expect(tree.match('zebra').size).toBe(0);
  });

  it('a touched path is younger than an untouched one', () => {
    const tree = new ApproxRadixTree();
    tree.insert('first prompt', 'a');
    tree.insert('second prompt', 'a');
    tree.insert('first prompt', 'a'); // touched again: "second" is now the oldest
    tree.evict('a', 12);
    expect(tree.match('first prompt').get('a')).toBe(12);
    expect(tree.match('second prompt').has('a')).toBe(false);
  });

  it('holds long prompts that share a long prefix', () => {
    const tree = new ApproxRadixTree();
    const system = 'You are a careful assistant. '.repeat(2000); // ~58 KB
    for (let i = 0; i < 20; i++) tree.insert(`${system}question ${i}`, `w${i % 4}`);
    const m = tree.match(`${system}question 13`);
    expect(m.get('w1')).toBe(system.length + 11);
    expect(m.get('w0')).toBe(system.length + 10); // "question 1" of "question 12", "question 16"…
    // w2 sent questions 2, 6, 10, 14, 18: the shared text, then the leaves "2", "6", "1" → "0", "4", "8".
    expect(tree.size('w2')).toBe(system.length + 'question '.length + 6);
  });
});
