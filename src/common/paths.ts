import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The project root (the folder with package.json), found from this file whether it runs
 * compiled (dist/src/common) or from source under ts-jest (src/common).
 */
export function projectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}
