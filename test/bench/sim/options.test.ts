import { describe, expect, it } from 'vitest';
import { FaultController, applyFaultPatch, NO_FAULTS, parseErrorRates } from '../../../bench/sim/faults.js';
import { SimArgsError, parseSimArgs } from '../../../bench/sim/options.js';

describe('parseSimArgs', () => {
  it('parses every flag, in both --flag value and --flag=value forms', () => {
    const options = parseSimArgs(['--engine', 'trtllm-serve', '--profile=a10-qwen2.5-7b-trtllm', '--port', '0', '--host', '0.0.0.0',
      '--time-scale', '50', '--model', 'qwen', '--replica-name', 'r1', '--error-rate', '503:0.1,429:0.05', '--stall-after', '10',
      '--crash-after=20', '--error-after', '7', '--slow-start', '2000', '--fail-health', '--enable-prompt-tokens-details']);
    expect(options).toMatchObject({
      engine: 'trtllm-serve', profile: 'a10-qwen2.5-7b-trtllm', port: 0, host: '0.0.0.0', timeScale: 50, model: 'qwen', replicaName: 'r1',
      enablePromptTokensDetails: true,
      faults: { errorRates: [{ status: 503, probability: 0.1 }, { status: 429, probability: 0.05 }], stallAfter: 10, crashAfter: 20, errorAfter: 7,
        slowStartMs: 2000, failHealth: true },
    });
  });

  it('sleeps no front-end overhead unless asked: --frontend-overhead-ms MS, or the profile\'s with --calibration-overhead', () => {
    const plain = parseSimArgs(['--engine', 'vllm', '--profile', 'p']);
    expect(plain.frontendOverheadMs).toBeUndefined();
    expect(plain.calibrationOverhead).toBe(false);
    expect(parseSimArgs(['--engine', 'vllm', '--profile', 'p', '--frontend-overhead-ms', '20']).frontendOverheadMs).toBe(20);
    expect(parseSimArgs(['--engine', 'vllm', '--profile', 'p', '--calibration-overhead']).calibrationOverhead).toBe(true);
    expect(() => parseSimArgs(['--engine', 'vllm', '--profile', 'p', '--calibration-overhead', '--frontend-overhead-ms', '5']))
      .toThrow(/give one, not both/);
  });

  it('mirrors the newest release unless --release names another of that engine', () => {
    expect(parseSimArgs(['--engine', 'vllm', '--profile', 'p']).release).toBe('0.19');
    expect(parseSimArgs(['--engine', 'vllm', '--profile', 'p', '--release', '0.10']).release).toBe('0.10');
    expect(parseSimArgs(['--engine', 'lmdeploy', '--profile', 'p']).release).toBe('0.16');
    expect(parseSimArgs(['--engine', 'trtllm-serve', '--profile', 'p']).release).toBe('1.2');
    expect(parseSimArgs(['--engine', 'trtllm-serve', '--profile', 'p', '--return-perf-metrics']).returnPerfMetrics).toBe(true);
    expect(() => parseSimArgs(['--engine', 'lmdeploy', '--profile', 'p', '--release', '0.10'])).toThrow(/--release: lmdeploy releases are 0.16, got "0.10"/);
  });

  it("defaults the port to the engine's own", () => {
    expect(parseSimArgs(['--engine', 'lmdeploy', '--profile', 'p']).port).toBe(23333);
    expect(parseSimArgs(['--engine', 'vllm', '--profile', 'p']).port).toBe(8000);
  });

  it.each([
    [[], /--engine is required/],
    [['--engine', 'sglang', '--profile', 'p'], /--engine: expected one of vllm, lmdeploy, trtllm-serve/],
    [['--engine', 'vllm'], /--profile is required/],
    [['--engine', 'vllm', '--profile', 'p', '--port', 'x'], /--port: expected a port number/],
    [['--engine', 'vllm', '--profile', 'p', '--time-scale', '0'], /--time-scale: expected a positive number/],
    [['--engine', 'vllm', '--profile', 'p', '--error-rate', '503'], /--error-rate: error rate "503": expected STATUS:P/],
    [['--engine', 'vllm', '--profile', 'p', '--error-rate', '503:0.7,500:0.6'], /add up to/],
    [['--engine', 'vllm', '--profile', 'p', '--stall-after', '-1'], /--stall-after/],
    [['--engine', 'vllm', '--profile', 'p', '--bogus'], /unknown flag --bogus/],
    [['--engine', 'vllm', '--profile', 'p', '--return-perf-metrics'], /--return-perf-metrics is a trtllm-serve setting/],
    [['--engine', 'vllm', '--profile'], /--profile needs a value/],
    [['--engine', 'vllm', '--profile', 'p', 'extra'], /unexpected argument "extra"/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseSimArgs(argv)).toThrow(SimArgsError);
    expect(() => parseSimArgs(argv)).toThrow(message);
  });
});

describe('fault settings', () => {
  it('parses error rates and applies runtime patches by flag or camelCase name', () => {
    expect(parseErrorRates('503:0.1, 429:0.05')).toEqual([{ status: 503, probability: 0.1 }, { status: 429, probability: 0.05 }]);
    const patched = applyFaultPatch(NO_FAULTS, { 'error-rate': { 503: 0.5 }, stallAfter: 3, 'error-after': 4, 'fail-health': true });
    expect(patched).toMatchObject({ errorRates: [{ status: 503, probability: 0.5 }], stallAfter: 3, errorAfter: 4, failHealth: true });
    expect(new FaultController({ ...NO_FAULTS, errorAfter: 4 }).streamFault(3)).toBe('continue');
    expect(new FaultController({ ...NO_FAULTS, errorAfter: 4 }).streamFault(4)).toBe('fail');
    expect(() => applyFaultPatch(NO_FAULTS, { nope: 1 })).toThrow(/unknown fault setting/);
  });

  it('draws errors from the rates and honours X-Return-Error first', () => {
    const draws = [0.05, 0.12, 0.5];
    const faults = new FaultController({ ...NO_FAULTS, errorRates: parseErrorRates('503:0.1,429:0.05') }, () => draws.shift() ?? 0.9);
    expect(faults.pickError(undefined)).toBe(503);
    expect(faults.pickError(undefined)).toBe(429);
    expect(faults.pickError(undefined)).toBeNull();
    expect(faults.pickError('418')).toBe(418);
  });
});
