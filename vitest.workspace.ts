import { defineConfig } from "vitest/config";

// vitest 4 no longer loads a workspace file by itself: the root `test` script points here.
export default defineConfig({
  test: {
    projects: ["packages/*", "apps/docs"],
    coverage: { provider: "v8", include: ["packages/*/src/**"] },
  },
});
