// Every test file runs with the built-in plugins registered, as the CLI (bin/main.ts) does at startup.
import { registerBuiltinPlugins } from '../bin/plugins.js';

registerBuiltinPlugins();
