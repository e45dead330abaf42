import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// scripts/test.sh passes these; the defaults suit `npx playwright test` after a build.
const port = Number(process.env.WEASEL_E2E_PORT ?? 3137);
const baseURL = `http://127.0.0.1:${port}`;
const targetDir = resolve(__dirname, '..', process.env.CARGO_TARGET_DIR ?? 'target');
const serverBin = process.env.WEASEL_SERVER_BIN ?? join(targetDir, 'debug', 'weasel-server');
const siteRoot = process.env.WEASEL_SITE_ROOT ?? join(targetDir, 'site');
// The local OAuth provider (the workspace's oauth-mock) plays GitHub.
const oauthPort = Number(process.env.WEASEL_E2E_OAUTH_PORT ?? 3138);
const oauthMock = `http://127.0.0.1:${oauthPort}`;
const oauthBin = process.env.WEASEL_OAUTH_MOCK_BIN ?? join(targetDir, 'debug', 'oauth-mock');
// The local SMTP server that keeps the mail the app sends (the workspace's mail-sink).
const smtpPort = Number(process.env.WEASEL_E2E_SMTP_PORT ?? 3139);
const mailPort = Number(process.env.WEASEL_E2E_MAIL_PORT ?? 3140);
process.env.WEASEL_E2E_MAIL_PORT = String(mailPort);
const mailSinkBin = process.env.WEASEL_MAIL_SINK_BIN ?? join(targetDir, 'debug', 'mail-sink');
// A fresh database for every run; set once so the workers share the server's.
process.env.WEASEL_E2E_DATA ??= mkdtempSync(join(tmpdir(), 'weasel-e2e-'));

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  workers: 2,
  forbidOnly: true,
  reporter: [['list']],
  projects: [
    { name: 'browser', testIgnore: /lighthouse\.spec\.ts/ },
    // Alone, after the rest: a performance score measures the machine's CPU,
    // so nothing else may run beside it.
    { name: 'lighthouse', testMatch: /lighthouse\.spec\.ts/, dependencies: ['browser'] },
  ],
  outputDir: join(targetDir, 'playwright-results'),
  use: {
    baseURL,
    browserName: 'chromium',
    locale: 'ko-KR',
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium: Playwright must never download a browser here.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: [
  {
    command: `${mailSinkBin} 127.0.0.1:${smtpPort} 127.0.0.1:${mailPort}`,
    url: `http://127.0.0.1:${mailPort}/messages?to=nobody`,
    reuseExistingServer: false,
    timeout: 30_000,
  },
  {
    command: `${oauthBin} 127.0.0.1:${oauthPort}`,
    url: `${oauthMock}/github/authorize?client_id=weasel-e2e&response_type=code&redirect_uri=${baseURL}/`,
    reuseExistingServer: false,
    timeout: 30_000,
    env: { OAUTH_MOCK_CLIENT_ID: 'weasel-e2e', OAUTH_MOCK_CLIENT_SECRET: 'weasel-e2e-secret' },
  },
  {
    command: serverBin,
    url: `${baseURL}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    env: {
      WEASEL_ADDR: `127.0.0.1:${port}`,
      WEASEL_DATA_DIR: process.env.WEASEL_E2E_DATA,
      WEASEL_SITE_ROOT: siteRoot,
      RUST_LOG: 'warn',
      WEASEL_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      WEASEL_OAUTH_GITHUB_CLIENT_ID: 'weasel-e2e',
      WEASEL_OAUTH_GITHUB_CLIENT_SECRET: 'weasel-e2e-secret',
      WEASEL_OAUTH_GITHUB_AUTH_URL: `${oauthMock}/github/authorize`,
      WEASEL_OAUTH_GITHUB_TOKEN_URL: `${oauthMock}/github/token`,
      WEASEL_OAUTH_GITHUB_USERINFO_URL: `${oauthMock}/github/userinfo`,
      // Each test's student asks a few questions; one test reaches this.
      WEASEL_DAILY_ANSWERS_PER_STUDENT: '12',
    },
  },
  ],
});
