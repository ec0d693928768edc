import { defineConfig } from '@playwright/test';

// The server is not started here: the repository's test script starts imlink (with local
// sign-in on and the default approval quorum of 1) and passes its address in IMLINK_E2E_URL.
const baseURL = process.env.IMLINK_E2E_URL;
if (!baseURL) {
  throw new Error(
    'IMLINK_E2E_URL is not set. Start imlink (with local sign-in enabled) and run the tests with ' +
      'IMLINK_E2E_URL=http://127.0.0.1:<port> npm test',
  );
}

export default defineConfig({
  testDir: 'tests',
  outputDir: 'test-results',
  // The tests share one server and one database: run them one at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['./summary-reporter.ts']],
  use: {
    baseURL,
    headless: true,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            '--disable-quic',
          ],
        },
      },
    },
  ],
});
