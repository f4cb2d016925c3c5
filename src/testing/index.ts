// Test helpers that other packages' tests (and the CLI's scripted demo) can use.
export * from "./scripted-openai-server.js";
