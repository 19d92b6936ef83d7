/** Runs the CLI from source (`tsx src/entry.ts …`); the built bin uses dist/cli.js. */
import { main } from './cli.js';

await main(process.argv.slice(2));
