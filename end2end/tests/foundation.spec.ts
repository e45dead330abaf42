import { test, expect, hydrated } from './fixtures';
import { test as plain } from '@playwright/test';

test('the home page hydrates and responds to clicks', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveTitle('Weasel');
  await expect(page.locator('html')).toHaveAttribute('lang', 'ko');
  await hydrated(page);

  const math = page.getByRole('button', { name: '수학' });
  await expect(math).toHaveAttribute('aria-pressed', 'false');
  await math.click();
  await expect(math).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByRole('button', { name: '국어' })).toHaveAttribute('aria-pressed', 'false');
  await expect(page.getByTestId('subject-hint')).toContainText('수학 문제를 입력하세요');
});

test('a piece of the wasm gone after a deploy: the page loads again and works', async ({ page, consoleErrors }) => {
  // The first fetch of the account pages' piece fails as it does when the
  // servers were replaced by a new build since this page was loaded.
  let asked = 0;
  await page.route(/\/split_account_page_\w+\.wasm$/, async (route) => {
    asked += 1;
    if (asked === 1) await route.fulfill({ status: 404, contentType: 'text/plain', body: 'gone' });
    else await route.continue();
  });
  await page.goto('/');
  await hydrated(page);
  const loads: string[] = [];
  page.on('load', () => loads.push(new URL(page.url()).pathname));
  await page.locator('header a[href="/sign-in"]').click();
  await expect(page.getByRole('heading', { level: 1, name: '로그인' })).toBeVisible();
  await hydrated(page);
  expect(asked, 'the piece was asked for again').toBeGreaterThanOrEqual(2);
  expect(loads, 'the page was loaded again').toEqual(['/sign-in']);
  // And it works: the form answers (an empty submit is refused in place).
  await page.getByRole('button', { name: '로그인', exact: true }).click();
  await expect(page.getByRole('alert').first()).toBeVisible();
  // What the failed load logged before the page loaded again, and nothing else.
  const failedLoad = [/WebAssembly.*HTTP status code is not ok/, /load callback should succeed/, /^uncaught: unreachable$/];
  expect(consoleErrors.length, 'the failed load was logged').toBeGreaterThan(0);
  for (const error of consoleErrors) expect(failedLoad.some((pattern) => pattern.test(error)), error).toBe(true);
  consoleErrors.splice(0, consoleErrors.length);
});

test('the status server function answers, and students never see it', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const response = await page.request.post('/api/status', { form: {} });
  expect(response.status()).toBe(200);
  expect(await response.json()).toMatchObject({ database: 'Sqlite', database_ok: true });
  await expect(page.locator('.app-footer')).not.toContainText('SQLite');
});

test('assets are served: stylesheet applied, favicon present', async ({ page, request }) => {
  await page.goto('/');
  const background = await page.evaluate(() => getComputedStyle(document.querySelector('.app-header')!).borderBottomStyle);
  expect(background).toBe('solid');
  const icon = await request.get('/favicon.svg');
  expect(icon.status()).toBe(200);
  expect(icon.headers()['content-type']).toContain('image/svg+xml');
});

test('health and readiness endpoints answer', async ({ request }) => {
  const health = await request.get('/healthz');
  expect(health.status()).toBe(200);
  const ready = await request.get('/readyz');
  expect(ready.status()).toBe(200);
  expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok' });
});

// The 404 document itself makes Chromium log a "Failed to load resource"
// error, so this one runs without the console-error guard.
plain('an unknown URL shows a proper 404 page that still hydrates', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const response = await page.goto('/this/does/not/exist');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: /페이지를 찾을 수 없어요/ })).toBeVisible();
  await hydrated(page);
  await page.getByRole('link', { name: '처음으로 돌아가기' }).click();
  await expect(page).toHaveURL('/');
  expect(errors).toEqual([]);
});

plain.describe('without JavaScript', () => {
  plain.use({ javaScriptEnabled: false });

  plain('the page is fully rendered on the server', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('정답부터, 그다음 풀이까지.');
    await expect(page.locator('.app-footer')).toContainText('정답부터');
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'false');
  });
});
