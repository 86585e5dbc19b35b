import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "docs",
    include: ["test/**/*.test.ts"],
    // The site test starts a browser, and the example test syncs real folders.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
