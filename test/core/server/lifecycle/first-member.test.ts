/** withFirstMember: the client's JSON text with one member added in front, or nothing when that cannot be done. */
import { describe, expect, it } from 'vitest';
import { withFirstMember } from '../../../../core/server/lifecycle/dispatch.js';

const M = '"a":1';

describe('withFirstMember', () => {
  it('puts the member first and keeps every other byte, leading and inner whitespace included', () => {
    expect(withFirstMember('{"b":2}', M)).toBe('{"a":1,"b":2}');
    expect(withFirstMember('\r\n\t {  "b" : [1, {"c":"}"}] }\n', M)).toBe('\r\n\t {"a":1,  "b" : [1, {"c":"}"}] }\n');
    for (const text of ['{"b":2}', ' { "b" : {"x":[]} } ']) expect(JSON.parse(withFirstMember(text, M)!)).toEqual({ a: 1, ...JSON.parse(text) });
  });

  it('declines what is not an object with a member', () => {
    for (const text of ['{}', ' { \n } ', '[1]', '"x"', '', '   ', '{', 'null']) expect(withFirstMember(text, M)).toBeUndefined();
  });
});
