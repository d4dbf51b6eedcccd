import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../../native/profiles.js';
import { Tokenizer } from '../../../core/tokenizer/tokenizer.js';
import { tableMessages } from '../../../bench/calibrate/calibrate.js';
import { simulateCells } from '../../../bench/calibrate/fit.js';
import { TABLE_WORKLOADS, findTable, loadPublishedTables } from '../../../bench/calibrate/tables.js';

describe('calibration workloads', () => {
  const tokenizer = Tokenizer.qwenDefault();

  it('sizes each table prompt to its token count under the Qwen chat template', () => {
    for (const workload of Object.values(TABLE_WORKLOADS)) {
      const prompt = tokenizer.applyChatTemplate(tableMessages(tokenizer, workload), { addGenerationPrompt: true });
      expect(tokenizer.encode(prompt).length).toBe(workload.promptTokens);
    }
  });

  it('maps every published table and arm to a profile', () => {
    for (const table of loadPublishedTables()) {
      const workload = TABLE_WORKLOADS[table.id];
      expect(workload, table.id).toBeDefined();
      for (const arm of Object.keys(table.arms)) expect(() => loadProfile(workload.profiles[arm])).not.toThrow();
    }
  });

  // The fitted profiles, run on the manual-clock engine model (no HTTP, no sleeping), must
  // reproduce every published cell; `bench calibrate` then checks the same over HTTP.
  it.each(Object.keys(TABLE_WORKLOADS))('profiles reproduce %s within 10%% in model time', (id) => {
    const { table, workload } = findTable(id);
    for (const arm of Object.keys(table.arms)) {
      const profile = loadProfile(workload.profiles[arm]);
      const cells = simulateCells(profile.engineProfile, profile.frontendOverheadMs, { table, workload, arm });
      cells.forEach((v, i) => {
        const error = Math.abs(v / table.arms[arm][i] - 1);
        expect(error, `${id} ${arm} c=${table.concurrency[i]}: ${v.toFixed(1)} vs ${table.arms[arm][i]}`).toBeLessThan(0.1);
      });
    }
  });
});
