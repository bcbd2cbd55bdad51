// Parse every ```mermaid block of a markdown file with Mermaid's own parser (mermaid.parse, as
// GitHub's renderer runs it); exit 1 naming the block and Mermaid's message if one does not parse.
// Run: node mermaid_parse.mjs FILE.md   (with mermaid and jsdom installed next to it)
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

// Mermaid cleans a chart's title with DOMPurify, which needs a DOM: jsdom's window stands in
// for the browser's, and must exist before mermaid is imported (DOMPurify binds at import).
const { window } = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = window;
globalThis.document = window.document;
const mermaid = (await import("mermaid")).default;
const file = process.argv[2];
const text = readFileSync(file, "utf8");
const blocks = [...text.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((match) => ({
  line: text.slice(0, match.index).split("\n").length,
  source: match[1],
}));
if (blocks.length === 0) {
  console.error(`${file}: no mermaid block to check`);
  process.exit(1);
}
let failed = 0;
for (const block of blocks) {
  try {
    const parsed = await mermaid.parse(block.source);
    if (parsed.diagramType !== "xychart") {
      throw new Error(`a ${parsed.diagramType} diagram, not an xychart`);
    }
  } catch (error) {
    failed += 1;
    const message = String(error?.message ?? error).split("\n").join(" | ");
    console.error(`${file}:${block.line}: the mermaid block does not parse: ${message}`);
  }
}
console.log(`${file}: ${blocks.length - failed} of ${blocks.length} mermaid blocks parse`);
process.exit(failed ? 1 : 0);
