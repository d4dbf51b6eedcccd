/**
 * The Kubernetes example's gateway config (conf/deploy/kubernetes/configmap.yaml) is one the
 * gateway accepts, and it discovers the headless Service the example defines.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config/load.js';

const dir = path.join(import.meta.dirname, '..', '..', 'conf', 'deploy', 'kubernetes');
const docs = (file: string) => yaml.loadAll(readFileSync(path.join(dir, file), 'utf8')) as Array<{ kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: Record<string, unknown> }>;

describe('conf/deploy/kubernetes', () => {
  it('holds a gateway config that validates and discovers the vLLM headless Service', async () => {
    const [configMap] = docs('configmap.yaml');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'switchyard-deploy-')), 'gateway.yaml');
    writeFileSync(file, configMap!.data!['gateway.yaml']!);
    const config = await loadConfig(file, { SWITCHYARD_ADMIN_KEY: 'an-admin-key' });
    const [service] = docs('vllm-headless-service.yaml');
    expect(service!.spec!.clusterIP).toBe('None');
    expect(config.discovered.map((d) => d.discover.dns)).toEqual([`${service!.metadata.name}.default.svc.cluster.local`]);
    expect(config.routes[0]!.backends).toEqual(['vllm']);
    const deployment = docs('deployment.yaml').find((d) => d.kind === 'Deployment')!;
    const container = (deployment.spec as { template: { spec: { containers: Array<Record<string, { httpGet: { path: string } }>> } } }).template.spec.containers[0]!;
    expect([container.readinessProbe!.httpGet.path, container.livenessProbe!.httpGet.path]).toEqual(['/ready', '/health']);
  });
});
