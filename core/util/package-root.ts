import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The package's root folder (the one holding package.json), found from the calling module, so
 * paths to conf/ and native/ resolve the same from TypeScript sources and from compiled dist/.
 */
export function packageRoot(moduleUrl: string): string {
  let dir = path.dirname(fileURLToPath(moduleUrl));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`switchyard: no package.json above ${fileURLToPath(moduleUrl)}`);
    dir = up;
  }
  return dir;
}
